"""What plans/ does when lower apps announce something."""

from django.db.models import F

from stakeholders.models import Side

from .models import Activity, Plan
from .services import bump_version, fill_owner_gaps, record_activity

VERBS = {
    "added": Activity.Verb.STAKEHOLDER_ADDED,
    "edited": Activity.Verb.STAKEHOLDER_EDITED,
    "removed": Activity.Verb.STAKEHOLDER_REMOVED,
}


def drop_wrong_side_ownership(plan: Plan, stakeholder) -> int:
    """A stakeholder whose role moved them to the other side no longer owns steps on their
    old side (a buyer owner is always a buyer). Returns how many steps lost that owner."""
    if stakeholder.side == Side.BUYER:
        steps = plan.milestones.filter(seller_owner=stakeholder)
        return steps.update(seller_owner=None, version=F("version") + 1)
    steps = plan.milestones.filter(buyer_owner=stakeholder)
    return steps.update(buyer_owner=None, version=F("version") + 1)


def record_stakeholder_change(sender, *, stakeholder, actor, action, **kwargs):
    """A stakeholder added, edited or removed is a change of the plan's content."""
    plan = Plan.objects.filter(deal_id=stakeholder.deal_id).first()
    if plan is None:
        return  # stakeholders may be added before the plan exists
    bump_version(plan)
    filled = fill_owner_gaps(plan, stakeholder) if action == "added" else 0
    if action == "edited":
        drop_wrong_side_ownership(plan, stakeholder)
    record_activity(
        plan,
        actor=actor,
        verb=VERBS[action],
        summary=f"{action} {stakeholder.name} ({stakeholder.get_side_display().lower()}, "
        f"{stakeholder.role_label})" + (f"; now owner of {filled} step(s)" if filled else ""),
    )
