"""Domain events of plans/. notifications/ (and live updates) listen; plans/ never imports
them. Sent inside the transaction of the change: receivers with outside effects (email,
webhooks, live events) defer them with transaction.on_commit.
"""

from django.dispatch import Signal

# kwargs: plan, actor, verb (an Activity.Verb), milestone (or None), activity, stakeholder
# (the person a stakeholder event is about, or None)
plan_event = Signal()

# kwargs: comment, people (Stakeholders @mentioned), actor
mentioned = Signal()

# kwargs: plan — every required signer signed the current content
plan_signed = Signal()

# kwargs: plan — the signed content changed
plan_amended = Signal()
