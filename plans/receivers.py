"""What plans/ does when lower apps announce something."""

from django.db.models import F

from stakeholders.actors import Actor
from stakeholders.models import Side

from . import live
from .models import Activity, Plan, Visibility
from .services import bump_version, fill_owner_gaps, hand_over_ae, record_activity, share_plan

VERBS = {
    "added": Activity.Verb.STAKEHOLDER_ADDED,
    "edited": Activity.Verb.STAKEHOLDER_EDITED,
    "removed": Activity.Verb.STAKEHOLDER_REMOVED,
}


def drop_wrong_side_ownership(plan: Plan, stakeholder) -> int:
    """A stakeholder whose role moved them to the other side no longer owns steps on their
    old side (a buyer owner is always a buyer). Returns how many steps lost that owner.
    (Within a stakeholder change: the deal's revision moves with it.)"""
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


STRUCTURE_VERBS = {
    Activity.Verb.MILESTONE_CREATED,
    Activity.Verb.MILESTONE_DELETED,
    Activity.Verb.MILESTONE_MOVED,
    Activity.Verb.PLAN_RESCHEDULED,
    Activity.Verb.PLAN_CREATED,
    # Archived (or restored), every form of the plan goes (or comes back).
    Activity.Verb.PLAN_ARCHIVED,
    Activity.Verb.PLAN_RESTORED,
}
# Changes of the people a plan shows (the panel, the rooms' people); all but a visit also
# change the owners' names in the rows. A transfer gives the AE to another person.
STAKEHOLDER_VERBS = {
    Activity.Verb.STAKEHOLDER_ADDED,
    Activity.Verb.STAKEHOLDER_EDITED,
    Activity.Verb.STAKEHOLDER_REMOVED,
    Activity.Verb.STAKEHOLDER_INVITED,
    Activity.Verb.EMAIL_CHANGED,
    Activity.Verb.DEAL_TRANSFERRED,
    Activity.Verb.ROOM_VISITED,
}


# Changes of the plan's materials (and their engagement, which only sellers hear of).
MATERIAL_VERBS = {
    Activity.Verb.RESOURCE_ADDED,
    Activity.Verb.RESOURCE_UPDATED,
    Activity.Verb.RESOURCE_REMOVED,
    Activity.Verb.RESOURCE_VIEWED,
    Activity.Verb.RESOURCE_SHARED,
}


# Fields of a step whose change moves it between tables (a phase's, the room's).
STRUCTURE_FIELDS = {"phase", "visibility"}


def publish_live(sender, *, plan, verb, milestone=None, activity=None, changed=(), **kwargs):
    """Every recorded change reaches the open pages of the plan (after commit); an internal
    one only the sellers', unless the rooms show what it changed."""
    events = ["plan"]
    if (
        verb in STRUCTURE_VERBS
        or (verb in STAKEHOLDER_VERBS and verb != Activity.Verb.ROOM_VISITED)
        or STRUCTURE_FIELDS & set(changed)
    ):
        # Owners shown in rows may have changed too, or a step changed table: redraw them.
        events.append("structure")
    if verb in STAKEHOLDER_VERBS or verb in (
        Activity.Verb.PLAN_ARCHIVED,
        Activity.Verb.PLAN_RESTORED,
    ):
        events.append("stakeholders")
    if verb in MATERIAL_VERBS:
        events.append("materials")
    if verb == Activity.Verb.RESOURCE_VIEWED:
        events.append("stakeholders")  # what each buyer opened, in the sellers' panel
    if milestone is not None and milestone.pk is not None:
        events.append(f"milestone-{milestone.public_id}")
    internal = activity is not None and activity.visibility == Visibility.INTERNAL
    # A step made internal leaves the rooms (their table is drawn from shared steps only);
    # a transfer renames the AE the rooms show. The rooms' fragments never draw internal data.
    if "visibility" in changed or verb == Activity.Verb.DEAL_TRANSFERRED:
        internal = False
    # A section's change is internal in the feed (its name may be the seller's own), but the
    # rooms show the sections that hold shared materials: they redraw theirs.
    if verb == Activity.Verb.RESOURCE_UPDATED and kwargs.get("resource") is None:
        internal = False
    # A draft is not the buyers' yet: nothing of it reaches the rooms (decided last).
    internal = internal or not plan.is_the_buyers
    live.publish(str(plan.public_id), events, internal=internal)


def record_room_visit(sender, *, stakeholder, link, visit, **kwargs):
    plan = Plan.objects.filter(deal_id=stakeholder.deal_id).first()
    if plan is not None:
        record_activity(
            plan,
            actor=Actor.buyer(stakeholder),
            verb=Activity.Verb.ROOM_VISITED,
            summary="opened the deal room",
            stakeholder=stakeholder,
        )


def record_invitation(sender, *, stakeholder, link, invited_by, **kwargs):
    """Record the invitation; inviting a buyer shares a draft plan with them (from the app,
    the API or a champion's invitation alike)."""
    plan = Plan.objects.filter(deal_id=stakeholder.deal_id).first()
    if plan is not None:
        record_activity(
            plan,
            actor=invited_by,
            verb=Activity.Verb.STAKEHOLDER_INVITED,
            summary=f"invited {stakeholder.name} to the deal room",
            stakeholder=stakeholder,
        )
        share_plan(plan, actor=invited_by)


def record_deal_change(sender, *, deal, actor, changes, **kwargs):
    """A deal edited (its form, closing it, the API): open pages show its new name, stage,
    amount. A new owner is a transfer, as in the plan page: the AE stakeholder follows, and
    the plan's feed records it (which tells the open pages)."""
    plan = Plan.objects.filter(deal_id=deal.pk).first()
    if "owner" not in changes:
        if plan is not None:
            # The rooms show the deal's name only: nothing of it is internal (but a draft
            # is not the buyers' yet).
            live.publish(str(plan.public_id), ["plan"], internal=not plan.is_the_buyers)
        return
    old_owner, new_owner = changes["owner"]
    hand_over_ae(deal, old_owner=old_owner, new_owner=new_owner)
    if plan is None:
        return
    record_activity(
        plan,
        actor=actor,
        verb=Activity.Verb.DEAL_TRANSFERRED,
        summary=f"transferred the deal from {old_owner} to {new_owner}",
        visibility=Visibility.INTERNAL,
    )


def end_link_streams(sender, *, link_ids, **kwargs):
    """stakeholders.signals.links_revoked: the streams those links opened end (after commit)."""
    live.end_streams_of_links(link_ids)


def end_member_streams(sender, *, instance, **kwargs):
    """A membership deleted (removed from the workspace, or the user deleted): the user's
    streams of that workspace end (after commit)."""
    live.end_streams_of_member(user_id=instance.user_id, organization_id=instance.organization_id)


def end_session_streams(sender, *, request, **kwargs):
    """user_logged_out: the streams that session opened end (a stream carries the plan's
    content, not only the names of changes)."""
    live.end_streams_of_session(getattr(request, "session", None) and request.session.session_key)


def end_inactive_user_streams(sender, *, instance, **kwargs):
    """A deactivated account: its streams of every workspace end (after commit)."""
    if not instance.is_active:
        live.end_streams_of_member(user_id=instance.pk)
