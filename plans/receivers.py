"""What plans/ does when lower apps announce something."""

from .models import Activity, Plan
from .services import bump_version, fill_owner_gaps, record_activity

VERBS = {
    "added": Activity.Verb.STAKEHOLDER_ADDED,
    "edited": Activity.Verb.STAKEHOLDER_EDITED,
    "removed": Activity.Verb.STAKEHOLDER_REMOVED,
}


def record_stakeholder_change(sender, *, stakeholder, actor, action, **kwargs):
    """A stakeholder added, edited or removed is a change of the plan's content."""
    plan = Plan.objects.filter(deal_id=stakeholder.deal_id).first()
    if plan is None:
        return  # stakeholders may be added before the plan exists
    bump_version(plan)
    filled = fill_owner_gaps(plan, stakeholder) if action == "added" else 0
    record_activity(
        plan,
        actor=actor,
        verb=VERBS[action],
        summary=f"{action} {stakeholder.name} ({stakeholder.get_side_display().lower()}, "
        f"{stakeholder.role_label})" + (f"; now owner of {filled} step(s)" if filled else ""),
    )
