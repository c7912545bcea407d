"""Plan workflows: creating from templates, editing milestones with slip history,
rescheduling, reordering, sharing, archiving, and the activity feed."""

from __future__ import annotations

import re
from datetime import date

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from deals import revisions
from deals.models import Deal
from stakeholders.actors import Actor
from stakeholders.models import SellerRole, Side, Stakeholder

from . import attachments, plan_templates, scheduling, signals
from .evidence import content_hash
from .models import (
    Activity,
    Attachment,
    Comment,
    DateProposal,
    DueDateChange,
    Milestone,
    Phase,
    Plan,
    PlanTemplate,
    ResourceShareLink,
    Visibility,
)

Verb = Activity.Verb


class ConflictError(Exception):
    """The row changed since the editor read it: nothing was saved."""

    def __init__(self, current: Milestone):
        super().__init__("This step was changed by someone else while you were editing it.")
        self.current = current


class ReasonRequired(Exception):  # noqa: N818 - reads as the rule it enforces
    """A committed date moves only with a reason."""


def record_activity(
    plan: Plan,
    *,
    actor: Actor,
    verb: str,
    summary: str,
    milestone: Milestone | None = None,
    visibility: str = Visibility.SHARED,
    stakeholder: Stakeholder | None = None,
    changed: tuple[str, ...] = (),
    **details,
) -> Activity:
    """Append to the plan's feed and announce the event (plans.signals.plan_event).
    `stakeholder` names the person the event is about (invited, opened the room) for the
    receivers, `changed` the fields of `milestone` that changed (live updates redraw the
    tables when a step moves phase or side); the feed keeps only the summary. The feed is
    on the deal's pages: its revision moves (deals/revisions.py), last, so that the deal's
    row is locked for the rest of the transaction only. `details` go to the receivers
    as they are (the resource of a materials event, the opening of a resource viewed)."""
    activity = Activity.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        milestone=milestone,
        verb=verb,
        actor_name=actor.name,
        actor_user=actor.user,
        side=actor.side,
        summary=summary[:400],
        visibility=visibility,
    )
    signals.plan_event.send(
        sender=Plan,
        plan=plan,
        actor=actor,
        verb=verb,
        milestone=milestone,
        activity=activity,
        stakeholder=stakeholder,
        changed=changed,
        **details,
    )
    revisions.bump_deal(plan.deal_id)
    return activity


def bump_version(plan: Plan) -> None:
    """Count a content change of the plan (signatures and live updates use the counter),
    and move the deal's revision (deals/revisions.py). A signed plan whose signed content
    changed becomes "amended since signature"."""
    Plan.objects.filter(pk=plan.pk).update(version=F("version") + 1, updated_at=timezone.now())
    revisions.bump_deal(plan.deal_id)
    plan.version += 1
    if mark_amended_if_changed(plan):
        plan.status = Plan.Status.AMENDED


def mark_amended_if_changed(plan: Plan) -> bool:
    """After a change: a signed plan whose signed content changed becomes "amended since
    signature" (its signatures stay visible as those of version N)."""
    current = Plan.objects.filter(pk=plan.pk).values("status", "signed_content_hash").first()
    if not current or current["status"] != Plan.Status.SIGNED:
        return False
    plan = Plan.objects.select_related("deal").get(pk=plan.pk)
    if content_hash(plan) == current["signed_content_hash"]:
        return False
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.AMENDED)
    plan.status = Plan.Status.AMENDED  # receivers (webhooks) read it from this instance

    record_activity(
        plan,
        actor=Actor.system(),
        verb=Activity.Verb.PLAN_AMENDED,
        summary=(
            f"The plan changed after version {plan.signed_version} was signed: "
            "new signatures needed"
        ),
    )
    signals.plan_amended.send(sender=Plan, plan=plan)
    return True


def _owner_for_role(stakeholders: list[Stakeholder], role: str) -> Stakeholder | None:
    return next((s for s in stakeholders if s.role == role), None) if role else None


@transaction.atomic
def create_plan_from_template(
    deal: Deal,
    *,
    template: PlanTemplate | None,
    target_date: date,
    actor: Actor,
    business_outcome: str = "",
) -> Plan:
    """Create the deal's plan, its steps scheduled backwards from `target_date`, owners
    filled from the deal's stakeholders by role. Records "plan created"."""
    plan = Plan.objects.create(
        organization=deal.organization,
        deal=deal,
        target_signature_date=target_date,
        business_outcome=business_outcome,
        template_name=template.name if template else "",
    )
    steps = list(template.steps.all()) if template else []
    # Close-plan steps first, then post-signature steps, each in template order.
    steps.sort(key=lambda s: (s.phase != Phase.CLOSE, s.position))
    due_dates = scheduling.schedule(
        [scheduling.Step(s.duration_days, s.phase, s.is_signature_step) for s in steps],
        target_date,
    )
    stakeholders = list(deal.stakeholders.all())
    if not any(s.role == SellerRole.AE for s in stakeholders):
        # The deal owner is the seller's AE (and a required signer) unless someone else is.
        stakeholders.append(
            Stakeholder.objects.create(
                organization=deal.organization,
                deal=deal,
                side=Side.SELLER,
                role=SellerRole.AE,
                name=deal.owner.display_name,
                email=deal.owner.email,
                user=deal.owner,
                is_required_signer=True,
            )
        )
    Milestone.objects.bulk_create(
        Milestone(
            organization=deal.organization,
            plan=plan,
            title=step.title,
            description=step.description,
            phase=step.phase,
            position=position,
            duration_days=step.duration_days,
            template_duration_days=step.duration_days,
            is_signature_step=step.is_signature_step,
            risk=step.risk,
            due_date=due,
            baseline_date=due,
            buyer_owner=_owner_for_role(stakeholders, step.buyer_role),
            seller_owner=_owner_for_role(stakeholders, step.seller_role),
            buyer_role_hint=step.buyer_role,
            seller_role_hint=step.seller_role,
        )
        for position, (step, due) in enumerate(zip(steps, due_dates, strict=True), start=1)
    )
    if template is not None:
        plan_templates.copy_template_materials(template, plan, added_by=actor.name)
    summary = f"created the plan from “{template.name}”" if template else "created the plan"
    record_activity(plan, actor=actor, verb=Verb.PLAN_CREATED, summary=summary)
    return plan


def fill_owner_gaps(plan: Plan, stakeholder: Stakeholder) -> int:
    """Make `stakeholder` the owner of the plan's open steps that have no owner on their
    side and whose template role is theirs. Returns how many steps were filled."""
    if stakeholder.side == Side.BUYER:
        gaps = plan.milestones.open().filter(buyer_owner=None, buyer_role_hint=stakeholder.role)
        filled = gaps.update(buyer_owner=stakeholder, version=F("version") + 1)
    else:
        gaps = plan.milestones.open().filter(seller_owner=None, seller_role_hint=stakeholder.role)
        filled = gaps.update(seller_owner=stakeholder, version=F("version") + 1)
    if filled:
        revisions.bump_deal(plan.deal_id)
    return filled


@transaction.atomic
def update_plan_overview(plan: Plan, *, actor: Actor, **fields) -> Plan:
    """Edit outcome, criteria, review weekday, the buyers' welcome note and video (not the
    target date: see reschedule_plan)."""
    changed = [name for name, value in fields.items() if getattr(plan, name) != value]
    if not changed:
        return plan
    for name in changed:
        setattr(plan, name, fields[name])
    plan.save(update_fields=[*changed, "updated_at"])
    bump_version(plan)
    labels = {
        "business_outcome": "the business outcome",
        "success_criteria": "the success criteria",
        "review_weekday": "the weekly review day",
        "welcome_note": "the welcome note",
        "welcome_video_url": "the welcome video",
    }
    summary = "edited " + ", ".join(labels.get(name, name) for name in changed)
    record_activity(plan, actor=actor, verb=Verb.PLAN_EDITED, summary=summary)
    return plan


def _next_position(plan: Plan, phase: str) -> int:
    top = plan.milestones.filter(phase=phase).aggregate(top=Max("position"))["top"]
    return (top or 0) + 1


@transaction.atomic
def add_milestone(
    plan: Plan, *, actor: Actor, after: Milestone | None = None, **fields
) -> Milestone:
    """Add a step at the end of its phase, or right after `after`. Records "added a step"."""
    phase = fields.get("phase", Phase.CLOSE)
    if after is not None and after.phase == phase:
        position = after.position + 1
        plan.milestones.filter(phase=phase, position__gte=position).update(
            position=F("position") + 1
        )
    else:
        position = _next_position(plan, phase)
    fields.setdefault("baseline_date", fields.get("due_date"))
    milestone = Milestone.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        position=position,
        created_by_side=actor.side,
        **fields,
    )
    bump_version(plan)
    record_activity(
        plan,
        actor=actor,
        verb=Verb.MILESTONE_CREATED,
        summary=f"added “{milestone.title}”",
        milestone=milestone,
        visibility=milestone.visibility,
    )
    return milestone


TRACKED_FIELDS = [
    "title",
    "description",
    "phase",
    "buyer_owner",
    "seller_owner",
    "due_date",
    "duration_days",
    "status",
    "risk",
    "shared_notes",
    "internal_note",
    "depends_on",
    "visibility",
]


@transaction.atomic
def add_milestones(plan: Plan, *, actor: Actor, steps: list[dict], summary: str) -> int:
    """Add many steps at once (an import): each at the end of its phase, in order, with its
    status (or at the `position` a step names, room made by the caller); one content change
    of the plan and one line in its feed (`summary`). Returns how many were added."""
    if not steps:
        return 0
    positions = {phase: _next_position(plan, phase) for phase in (Phase.CLOSE, Phase.POST)}
    now = timezone.now()
    rows = []
    for fields in steps:
        fields = dict(fields)
        phase = fields.get("phase", Phase.CLOSE)
        position = fields.pop("position", None)  # a place the caller made room for
        milestone = Milestone(
            organization_id=plan.organization_id,
            plan=plan,
            position=positions[phase] if position is None else position,
            created_by_side=actor.side,
            baseline_date=fields.get("due_date"),
            **fields,
        )
        if milestone.status == Milestone.Status.DONE:
            milestone.completed_at, milestone.completed_by_name = now, actor.name
        if position is None:
            positions[phase] += 1
        rows.append(milestone)
    Milestone.objects.bulk_create(rows)
    bump_version(plan)
    record_activity(plan, actor=actor, verb=Verb.MILESTONE_CREATED, summary=summary)
    return len(rows)


def _move_date(milestone: Milestone, new_date, *, actor: Actor, reason: str) -> None:
    """Apply a due-date change: a committed date moves only with a reason, and every move
    of a committed date is kept in the slip history."""
    old_date = milestone.due_date
    if old_date == new_date:
        return
    if milestone.baseline_date is None:
        # The first date given becomes the baseline: nothing has slipped yet.
        milestone.baseline_date = new_date
        milestone.due_date = new_date
        return
    if not reason.strip():
        raise ReasonRequired("Say why the date moves: it was committed.")
    milestone.due_date = new_date
    DueDateChange.objects.create(
        organization_id=milestone.organization_id,
        milestone=milestone,
        old_date=old_date,
        new_date=new_date,
        reason=reason.strip(),
        changed_by_name=actor.name,
        changed_by_user=actor.user,
        side=actor.side,
    )
    delta = (new_date - old_date).days if new_date and old_date else 0
    when = new_date.strftime("%-d %b %Y") if new_date else "no date"
    record_activity(
        milestone.plan,
        actor=actor,
        verb=Verb.DATE_MOVED,
        summary=f"moved “{milestone.title}” to {when} ({delta:+d} days): {reason.strip()}",
        milestone=milestone,
        visibility=milestone.visibility,
    )


def _apply_status(milestone: Milestone, status: str, *, actor: Actor) -> str | None:
    """Set the status and completion fields; the activity verb, or None if unchanged."""
    if milestone.status == status:
        return None
    was_done = milestone.status == Milestone.Status.DONE
    milestone.status = status
    if status == Milestone.Status.DONE:
        milestone.completed_at = timezone.now()
        milestone.completed_by_name = actor.name
        return Verb.MILESTONE_COMPLETED
    milestone.completed_at = None
    milestone.completed_by_name = ""
    return Verb.MILESTONE_REOPENED if was_done else Verb.MILESTONE_STATUS


@transaction.atomic
def update_milestone(
    milestone: Milestone,
    *,
    actor: Actor,
    expected_version: int | None,
    reason: str = "",
    **changes,
) -> Milestone:
    """Edit a step. Raises ConflictError when the row changed since `expected_version`
    (nothing saved), ReasonRequired when a committed date moves without a reason.

    The row is locked for the read-compare-write, so two concurrent edits cannot both pass
    the version check. Records slip history and activity; bumps the row and plan versions.
    """
    current = (
        Milestone.objects.select_for_update(no_key=True, of=("self",))
        .select_related("plan")
        .get(pk=milestone.pk)
    )
    if expected_version is not None and current.version != expected_version:
        raise ConflictError(current)
    changed = [
        name
        for name, value in changes.items()
        if name in TRACKED_FIELDS and getattr(current, name) != value
    ]
    if not changed:
        return current
    if "due_date" in changed:
        _move_date(current, changes["due_date"], actor=actor, reason=reason)
    status_verb = None
    for name in changed:
        if name == "due_date":
            continue
        if name == "status":
            status_verb = _apply_status(current, changes["status"], actor=actor)
            continue
        setattr(current, name, changes[name])
    if "phase" in changed:
        # A step that changes phase goes to the end of its new phase.
        current.position = _next_position(current.plan, current.phase)
    current.version += 1
    current.save()
    bump_version(current.plan)
    other = [name for name in changed if name not in {"due_date", "status"}]
    if other:
        record_activity(
            current.plan,
            actor=actor,
            verb=Verb.MILESTONE_EDITED,
            summary=f"edited “{current.title}” ({', '.join(n.replace('_', ' ') for n in other)})",
            milestone=current,
            visibility=current.visibility,
            changed=tuple(other),
        )
    if status_verb:
        record_activity(
            current.plan,
            actor=actor,
            verb=status_verb,
            summary=f"set “{current.title}” to {current.get_status_display().lower()}",
            milestone=current,
            visibility=current.visibility,
        )
    return current


@transaction.atomic
def set_milestone_status(milestone: Milestone, *, actor: Actor, status: str) -> Milestone:
    """Change only the status. Idempotent: setting the current status changes nothing
    (a checkbox clicked twice, or htmx double-submitting)."""
    return update_milestone(milestone, actor=actor, expected_version=None, status=status)


@transaction.atomic
def move_milestone(milestone: Milestone, *, actor: Actor, direction: str) -> Milestone:
    """Swap a step with its neighbour in the same phase ("up" or "down")."""
    siblings = list(
        milestone.plan.milestones.select_for_update(no_key=True)
        .filter(phase=milestone.phase)
        .order_by("position", "id")
    )
    index = next(i for i, m in enumerate(siblings) if m.pk == milestone.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(siblings):
        return milestone
    siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings, start=1):
        if sibling.position != position:
            sibling.position = position
            sibling.version += 1
    Milestone.objects.bulk_update(siblings, ["position", "version"])
    bump_version(milestone.plan)
    moved = siblings[other]
    record_activity(
        milestone.plan,
        actor=actor,
        verb=Verb.MILESTONE_MOVED,
        summary=f"moved “{moved.title}” {direction}",
        milestone=moved,
        visibility=moved.visibility,
    )
    return moved


@transaction.atomic
def delete_milestone(milestone: Milestone, *, actor: Actor) -> None:
    """Delete a step (its slip history goes with it); the feed keeps a line."""
    plan = milestone.plan
    record_activity(
        plan,
        actor=actor,
        verb=Verb.MILESTONE_DELETED,
        summary=f"deleted “{milestone.title}”",
        visibility=milestone.visibility,
    )
    milestone.delete()
    bump_version(plan)


@transaction.atomic
def reschedule_plan(plan: Plan, *, actor: Actor, target_date: date, reason: str) -> list:
    """Move the target signature date and re-run the backward schedule for the steps that
    are not done or cancelled; each moved date is recorded with `reason`. Done steps keep
    their dates. Returns the moved milestones."""
    if not reason.strip():
        raise ReasonRequired("Say why the plan is rescheduled.")
    milestones = list(plan.milestones.select_for_update(no_key=True).order_by("phase", "position"))
    milestones.sort(key=lambda m: (m.phase != Phase.CLOSE, m.position))
    due_dates = scheduling.schedule(
        [scheduling.Step(m.duration_days, m.phase, m.is_signature_step) for m in milestones],
        target_date,
    )
    old_target = plan.target_signature_date
    plan.target_signature_date = target_date
    plan.save(update_fields=["target_signature_date", "updated_at"])
    moved = []
    for milestone, due in zip(milestones, due_dates, strict=True):
        milestone.plan = plan
        if milestone.is_closed or milestone.due_date == due:
            continue
        _move_date(milestone, due, actor=actor, reason=reason)
        milestone.version += 1
        milestone.save(update_fields=["due_date", "baseline_date", "version", "updated_at"])
        moved.append(milestone)
    bump_version(plan)
    record_activity(
        plan,
        actor=actor,
        verb=Verb.PLAN_RESCHEDULED,
        summary=(
            f"moved the target signature date from {old_target:%-d %b %Y} to "
            f"{target_date:%-d %b %Y} ({len(moved)} steps rescheduled): {reason.strip()}"
        ),
    )
    return moved


@transaction.atomic
def share_plan(plan: Plan, *, actor: Actor) -> Plan:
    """Mark a draft plan shared with the buyer (idempotent)."""
    if plan.status != Plan.Status.DRAFT:
        return plan
    plan.status = Plan.Status.SHARED
    plan.shared_at = timezone.now()
    plan.save(update_fields=["status", "shared_at", "updated_at"])
    record_activity(plan, actor=actor, verb=Verb.PLAN_SHARED, summary="shared the plan")
    return plan


@transaction.atomic
def archive_plan(plan: Plan, *, actor: Actor, archived: bool) -> Plan:
    """Archive (read-only, hidden from lists) or restore a plan (idempotent)."""
    if plan.is_archived == archived:
        return plan
    plan.archived_at = timezone.now() if archived else None
    plan.save(update_fields=["archived_at", "updated_at"])
    if archived:
        # Documents sent by link stop for good: restoring the plan does not reopen them.
        ResourceShareLink.objects.filter(resource__plan=plan, revoked_at=None).update(
            revoked_at=plan.archived_at
        )
    verb = Verb.PLAN_ARCHIVED if archived else Verb.PLAN_RESTORED
    record_activity(plan, actor=actor, verb=verb, summary=Verb(verb).label)
    return plan


@transaction.atomic
def transfer_deal(deal: Deal, *, actor: Actor, new_owner) -> Deal:
    """Give the deal (and its plan) to another seller of the workspace. The AE stakeholder
    that stood for the old owner now stands for the new one (so steps, signatures and
    reminders follow the deal). Records "transferred the deal" (internal). Idempotent."""
    if deal.owner_id == new_owner.pk:
        return deal
    old_owner = deal.owner
    deal.owner = new_owner
    deal.save(update_fields=["owner", "updated_at"])
    revisions.bump_deal(deal.pk)
    hand_over_ae(deal, old_owner=old_owner, new_owner=new_owner)
    plan = Plan.objects.filter(deal=deal).first()
    if plan is not None:
        record_activity(
            plan,
            actor=actor,
            verb=Verb.DEAL_TRANSFERRED,
            summary=f"transferred the deal from {old_owner} to {new_owner}",
            visibility=Visibility.INTERNAL,
        )
    return deal


def hand_over_ae(deal: Deal, *, old_owner, new_owner) -> int:
    """The deal changed owner (a transfer, the deal's edit form, the API): the AE
    stakeholder that stood for the old owner stands for the new one, so steps, signatures
    and reminders follow the deal. Returns how many stakeholders changed (0 or 1)."""
    changed = Stakeholder.objects.filter(deal=deal, role=SellerRole.AE, user=old_owner).update(
        user=new_owner,
        name=new_owner.display_name,
        email=new_owner.email,
        updated_at=timezone.now(),
    )
    if changed:
        revisions.bump_deal(deal.pk)
    return changed


def buyer_can_update(milestone: Milestone) -> bool:
    """Buyers change the status of buyer-side steps only: steps with a buyer owner or that
    a buyer added. Seller-side steps are read-only for them; internal steps invisible."""
    if milestone.visibility != Visibility.SHARED:
        return False
    return milestone.buyer_owner_id is not None or milestone.created_by_side == Side.BUYER


BUYER_STATUSES = {
    Milestone.Status.NOT_STARTED,
    Milestone.Status.IN_PROGRESS,
    Milestone.Status.BLOCKED,
    Milestone.Status.DONE,
}


@transaction.atomic
def propose_date(
    milestone: Milestone, *, buyer: Stakeholder, proposed_date: date, reason: str
) -> DateProposal:
    """A buyer proposes a new date with a reason; the seller decides. An earlier pending
    proposal of the same step is replaced."""
    DateProposal.objects.filter(milestone=milestone, status=DateProposal.Status.PENDING).update(
        status=DateProposal.Status.DECLINED, decided_by_name="replaced", decided_at=timezone.now()
    )
    proposal = DateProposal.objects.create(
        organization_id=milestone.organization_id,
        milestone=milestone,
        proposed_date=proposed_date,
        reason=reason.strip(),
        proposed_by=buyer,
        proposed_by_name=buyer.name,
    )
    Milestone.objects.filter(pk=milestone.pk).update(version=F("version") + 1)
    record_activity(
        milestone.plan,
        actor=Actor.buyer(buyer),
        verb=Verb.DATE_PROPOSED,
        summary=f"proposed {proposed_date:%-d %b %Y} for “{milestone.title}”: {reason.strip()}",
        milestone=milestone,
    )
    return proposal


@transaction.atomic
def decide_proposal(proposal: DateProposal, *, actor: Actor, accept: bool) -> DateProposal:
    """Accept (the date moves, recorded as a date change with the buyer's reason) or
    decline a pending proposal. Deciding twice changes nothing."""
    claimed = DateProposal.objects.filter(
        pk=proposal.pk, status=DateProposal.Status.PENDING
    ).update(
        status=DateProposal.Status.ACCEPTED if accept else DateProposal.Status.DECLINED,
        decided_by_name=actor.name,
        decided_at=timezone.now(),
    )
    proposal.refresh_from_db()
    if not claimed:
        return proposal
    milestone = proposal.milestone
    if accept:
        update_milestone(
            milestone,
            actor=actor,
            expected_version=None,
            reason=f"{proposal.proposed_by_name} proposed it: {proposal.reason}",
            due_date=proposal.proposed_date,
        )
    record_activity(
        milestone.plan,
        actor=actor,
        verb=Verb.PROPOSAL_ACCEPTED if accept else Verb.PROPOSAL_DECLINED,
        summary=(
            f"{'accepted' if accept else 'declined'} {proposal.proposed_by_name}'s date "
            f"{proposal.proposed_date:%-d %b %Y} for “{milestone.title}”"
        ),
        milestone=milestone,
    )
    return proposal


def plan_people(plan: Plan) -> list[Stakeholder]:
    return list(Stakeholder.objects.filter(deal_id=plan.deal_id).order_by("name"))


def find_mentions(body: str, people: list[Stakeholder]) -> list[Stakeholder]:
    """People of the plan mentioned as @Full Name or @first-name (case-insensitive)."""
    text = body.lower()
    found = []
    for person in people:
        full = "@" + person.name.lower()
        first = "@" + person.name.split()[0].lower() if person.name.split() else None
        if full in text or (first and re.search(re.escape(first) + r"\b", text)):
            found.append(person)
    return found


@transaction.atomic
def add_comment(milestone: Milestone, *, actor: Actor, body: str) -> Comment:
    """Comment on a step; people @mentioned are announced (plans.signals.mentioned)."""
    comment = Comment.objects.create(
        organization_id=milestone.organization_id,
        milestone=milestone,
        author_name=actor.name,
        author_user=actor.user,
        author_stakeholder=actor.stakeholder,
        side=actor.side,
        body=body.strip(),
    )
    record_activity(
        milestone.plan,
        actor=actor,
        verb=Verb.COMMENTED,
        summary=f"commented on “{milestone.title}”: {body.strip()[:200]}",
        milestone=milestone,
        visibility=milestone.visibility,
    )
    mentioned = [
        person
        for person in find_mentions(body, plan_people(milestone.plan))
        if person.email
        and person != actor.stakeholder
        and (person.side == Side.SELLER or milestone.visibility == Visibility.SHARED)
    ]
    if mentioned:
        signals.mentioned.send(sender=Comment, comment=comment, people=mentioned, actor=actor)
    return comment


@transaction.atomic
def add_attachment(milestone: Milestone, *, actor: Actor, upload) -> Attachment:
    """Store a file on a step (type checked by content, size limited). Raises
    attachments.AttachmentRejected with a clear message."""
    content_type = attachments.sniff(upload)
    attachment = Attachment(
        organization_id=milestone.organization_id,
        milestone=milestone,
        original_name=upload.name[:255],
        content_type=content_type,
        size=upload.size,
        uploaded_by_name=actor.name,
        side=actor.side,
    )
    attachment.file.save(upload.name, upload, save=False)
    attachment.save()
    record_activity(
        milestone.plan,
        actor=actor,
        verb=Verb.ATTACHED,
        summary=f"attached “{attachment.original_name}” to “{milestone.title}”",
        milestone=milestone,
        visibility=milestone.visibility,
    )
    return attachment
