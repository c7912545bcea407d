"""What plans/ does when lower apps announce something."""

from .models import Activity, Plan, Visibility
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


def record_deal_change(sender, *, deal, actor, changes, **kwargs):
    """A new owner given through the API is recorded like a transfer in the app."""
    if "owner" not in changes:
        return
    plan = Plan.objects.filter(deal_id=deal.pk).first()
    if plan is None:
        return
    old_owner, new_owner = changes["owner"]
    record_activity(
        plan,
        actor=actor,
        verb=Activity.Verb.DEAL_TRANSFERRED,
        summary=f"transferred the deal from {old_owner} to {new_owner}",
        visibility=Visibility.INTERNAL,
    )
