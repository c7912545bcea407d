"""Domain events of stakeholders/. Sent inside the transaction of the change, so a receiver
that writes (plans/ records the feed) commits or rolls back with it; receivers with outside
effects defer them with transaction.on_commit."""

from django.dispatch import Signal

# kwargs: stakeholder, actor, action ("added" | "edited" | "removed")
stakeholder_changed = Signal()

# kwargs: stakeholder, link, invited_by (an Actor)
buyer_invited = Signal()

# kwargs: stakeholder, link, visit
room_opened = Signal()

# kwargs: stakeholder, actor, old_email, new_email (blank when the stakeholder is removed),
# removed (bool). The address their links go to changed: their links are already revoked;
# receivers void what else proved the old identity (signing requests and codes).
identity_changed = Signal()

# kwargs: link_ids (RoomLink primary keys) — these links stopped working (revoked; an email
# change or a removal revokes them too): receivers end what they authorized (plans/live.py
# ends the open event streams).
links_revoked = Signal()
