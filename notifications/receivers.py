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
    # A seller @mentioned in a buyer's comment got the mention email just now: the event
    # notice of the same comment stays in-app only, not emailed again in the next batch.
    sellers = [p.email.lower() for p in people if p.side == Side.SELLER and p.email]
    if sellers and actor.is_buyer:
        from .models import Notification

        Notification.objects.filter(
            milestone=milestone,
            verb="commented",
            email_state=Notification.EmailState.PENDING,
            user__email__in=sellers,
        ).update(email_state=Notification.EmailState.NONE)


def notify_buyer_events(sender, *, plan, actor, verb, milestone=None, activity=None, **kwargs):
    """A buyer completed a step, proposed a date, commented (or signed): the AE gets an
    in-app notification now and a batched email (services.notify_buyer_event)."""
    from .services import BUYER_EVENT_VERBS, notify_buyer_event

    if not actor.is_buyer or verb not in BUYER_EVENT_VERBS:
        return
    text = activity.summary if activity is not None else verb.replace("_", " ")
    notify_buyer_event(plan=plan, actor_name=actor.name, verb=verb, text=text, milestone=milestone)
