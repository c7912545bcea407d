"""Who a page is drawn for, as keys: a fragment pushed to every open page of an audience
(plans/fragments.py) is drawn once for all of them, so what only some of them see ("Sign
plan" for a signer, "Edit" on a buyer's own entry, the champion's invitation form) is drawn
marked with the keys of those who see it ({% viewer_only %}, plans/templatetags/viewers.py)
and shown by static/js/live.js on the pages whose viewer holds one of the keys.

A page drawn for one viewer has `viewer` = that viewer's keys; a fragment drawn for everyone
has `viewer` = EVERYONE. The keys decide only what a page shows: every action they show is
checked again by its view.
"""

from __future__ import annotations

import hashlib

# The `viewer` of a fragment drawn for every viewer of its audience.
EVERYONE = "everyone"


def _email_key(email: str) -> str:
    # Not the address itself: the keys of other viewers travel in every page's fragments.
    # Case-insensitive, as the sign pages match a signer's address.
    return "e" + hashlib.sha256(email.casefold().encode()).hexdigest()[:16]


def user_keys(user) -> frozenset[str]:
    """A signed-in seller: their account, and their address (a seller stakeholder may name
    them either way)."""
    return frozenset({f"u{user.pk}", _email_key(user.email)})


def seller_keys(stakeholder) -> frozenset[str]:
    """The seller stakeholder `stakeholder`, as the users it names would hold it."""
    keys = {_email_key(stakeholder.email)} if stakeholder.email else set()
    if stakeholder.user_id:
        keys.add(f"u{stakeholder.user_id}")
    return frozenset(keys)


def buyer_key(stakeholder) -> str:
    """A buyer in their deal room."""
    return f"s{stakeholder.public_id}"


def page_keys(viewer) -> str:
    """The `data-viewer` of a page: its viewer's keys, for static/js/live.js."""
    return " ".join(sorted(viewer)) if viewer != EVERYONE else ""
