"""What notifications/ does when plans/ and deals/ announce something: webhooks."""

from __future__ import annotations

from plans.models import Activity, DueDateChange

from . import webhooks

Verb = Activity.Verb

# Feed verbs that are webhook events. Signatures (plan.signed, plan.amended), buyer
# access (stakeholder.invited, room.visited) and the reminder sweep (milestone.overdue)
# call webhooks.emit where they happen.
EVENT_OF_VERB = {
    Verb.PLAN_CREATED: "plan.created",
    Verb.PLAN_SHARED: "plan.shared",
    Verb.MILESTONE_COMPLETED: "milestone.completed",
    Verb.MILESTONE_REOPENED: "milestone.reopened",
    Verb.DATE_MOVED: "milestone.date_changed",
}


def on_plan_event(sender, *, plan, actor, verb, milestone=None, activity=None, **kwargs):
    event_type = EVENT_OF_VERB.get(verb)
    if event_type is None:
        return
    # One query when nobody listens: the payload is built only for subscribers.
    if not webhooks.subscribed_endpoints(plan.organization_id, event_type):
        return
    summary = f"{actor.name} {activity.summary}" if activity is not None else ""
    extra = {}
    if event_type == "milestone.date_changed" and milestone is not None:
        change = DueDateChange.objects.filter(milestone=milestone).order_by("-id").first()
        if change is not None:
            extra["date_change"] = {
                "old_date": change.old_date.isoformat() if change.old_date else None,
                "new_date": change.new_date.isoformat() if change.new_date else None,
                "reason": change.reason,
            }
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
