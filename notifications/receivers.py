"""What notifications/ does when plans/ announces something."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import transaction

from deals.emails import send_email
from stakeholders import access
from stakeholders.models import Side
from stakeholders.services import issue_room_link


def email_mentions(sender, *, comment, people, actor, **kwargs):
    """Each person @mentioned gets an email: buyers with a fresh link to their room, sellers
    with a link to the plan. Sent after commit."""
    milestone = comment.milestone
    deal = milestone.plan.deal
    for person in people:
        if person.side == Side.BUYER:
            _, token = issue_room_link(person)
            url = access.room_url(token)
        else:
            url = settings.SITE_URL + deal.get_absolute_url()
        context = {
            "comment": comment,
            "milestone": milestone,
            "deal": deal,
            "organization": deal.organization,
            "accent": deal.organization.accent_color,
            "url": url,
        }
        transaction.on_commit(partial(send_email, "mention", context, to=[person.email]))
