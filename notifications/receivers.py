"""What notifications/ does when plans/ and deals/ announce something: emails to people
mentioned, and webhooks."""

from __future__ import annotations

from django.conf import settings

from deals.emails import send_after_commit
from plans.models import Activity, DueDateChange
from stakeholders import access
from stakeholders.actors import Actor
from stakeholders.models import Side
from stakeholders.services import issue_room_link

from . import webhooks
from .models import Notification
from .services import BUYER_EVENT_VERBS, notify_buyer_event


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
        send_after_commit("mention", context, to=[person.email])
    # A seller @mentioned in a buyer's comment got the mention email just now: the event
    # notice of the same comment stays in-app only, not emailed again in the next batch.
    sellers = [p.email.lower() for p in people if p.side == Side.SELLER and p.email]
    if sellers and actor.is_buyer:
        Notification.objects.filter(
            milestone=milestone,
            verb="commented",
            email_state=Notification.EmailState.PENDING,
            user__email__in=sellers,
        ).update(email_state=Notification.EmailState.NONE)


Verb = Activity.Verb

# Feed verbs that are webhook events. The reminder sweep (milestone.overdue) calls
# webhooks.emit where it happens.
EVENT_OF_VERB = {
    Verb.PLAN_CREATED: "plan.created",
    Verb.PLAN_SHARED: "plan.shared",
    Verb.MILESTONE_COMPLETED: "milestone.completed",
    Verb.MILESTONE_REOPENED: "milestone.reopened",
    Verb.DATE_MOVED: "milestone.date_changed",
    Verb.PLAN_SIGNED: "plan.signed",
    Verb.PLAN_AMENDED: "plan.amended",
    Verb.STAKEHOLDER_INVITED: "stakeholder.invited",
    Verb.ROOM_VISITED: "room.visited",
    Verb.RESOURCE_ADDED: "resource.added",
    Verb.RESOURCE_VIEWED: "resource.viewed",
}


def on_plan_event(
    sender,
    *,
    plan,
    actor,
    verb,
    milestone=None,
    activity=None,
    stakeholder=None,
    resource=None,
    view=None,
    **kwargs,
):
    event_type = EVENT_OF_VERB.get(verb)
    if event_type is None:
        return
    # One query when nobody listens: the payload is built only for subscribers.
    if not webhooks.subscribed_endpoints(plan.organization_id, event_type):
        return
    summary = activity.summary if activity is not None else ""
    if summary and actor != Actor.system():
        # "Priya Raman opened the deal room"; Tandem's own events are whole sentences.
        summary = f"{actor.name} {summary}"
    extra = {}
    if event_type == "milestone.date_changed" and milestone is not None:
        change = DueDateChange.objects.filter(milestone=milestone).order_by("-id").first()
        if change is not None:
            extra["date_change"] = {
                "old_date": change.old_date.isoformat() if change.old_date else None,
                "new_date": change.new_date.isoformat() if change.new_date else None,
                "reason": change.reason,
            }
    if stakeholder is not None:
        # Who was invited / opened the room. Never their room link: it is a credential.
        extra["stakeholder"] = webhooks.stakeholder_payload(stakeholder)
    if resource is not None:
        extra["resource"] = webhooks.resource_payload(resource)
    if view is not None:
        extra["view"] = webhooks.view_payload(view)
    data = webhooks.plan_payload(plan, actor=actor, summary=summary, milestone=milestone, **extra)
    webhooks.emit(plan.organization_id, event_type, data)


def on_deal_created(sender, *, deal, actor, **kwargs):
    if not webhooks.subscribed_endpoints(deal.organization_id, "deal.created"):
        return
    data = {
        "summary": f"{actor.name} created the deal",
        "url": webhooks.deal_payload(deal)["url"],
        "actor": webhooks.actor_payload(actor),
        "deal": webhooks.deal_payload(deal),
    }
    webhooks.emit(deal.organization_id, "deal.created", data)


def notify_buyer_events(sender, *, plan, actor, verb, milestone=None, activity=None, **kwargs):
    """A buyer completed a step, proposed a date, commented (or signed): the AE gets an
    in-app notification now and a batched email (services.notify_buyer_event)."""

    if not actor.is_buyer or verb not in BUYER_EVENT_VERBS:
        return
    text = activity.summary if activity is not None else verb.replace("_", " ")
    notify_buyer_event(plan=plan, actor_name=actor.name, verb=verb, text=text, milestone=milestone)
