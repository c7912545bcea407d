"""Merging what the seller kept from a drafted conversation into the plan, through the same
services as manual edits (activity, versions, live updates), in one transaction.

New steps go before the signature step in the usual order of a plan; those without a date
said are scheduled backwards from the target date with the durations the buyer said (a
buyer's duration beats a template's). Steps the plan already has take the owner, duration
and date said for them. People are added without an email and as no signer: the seller
decides who receives links and who signs, on the stakeholder panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import F

from plans import scheduling, services
from plans.models import Conversation, Milestone, Phase, Plan
from stakeholders import services as stakeholder_services
from stakeholders.models import Side, Stakeholder

from .lexicon import load


@dataclass
class NewPerson:
    name: str
    side: str
    title: str
    role: str
    created: Stakeholder | None = None


@dataclass
class StepChoice:
    type: str
    title: str
    quote: str
    owner: Stakeholder | NewPerson | None
    duration_days: int | None
    due_date: date | None
    notes: list[str] = field(default_factory=list)
    existing: Milestone | None = None


@dataclass
class Choices:
    steps: list[StepChoice]
    people: list[NewPerson]
    target_date: date | None = None
    reschedule: bool = False
    outcome: str = ""
    criteria: list[str] = field(default_factory=list)
    call_date: date | None = None
    keep_text: str = ""  # the conversation, when the seller keeps it
    source: str = ""


def order_key(kind: str) -> int:
    return list(load().steps).index(kind) if kind in load().steps else 99


@transaction.atomic
def apply(plan: Plan, choices: Choices, *, actor) -> dict:
    """Apply the seller's choices. Returns the counts (added, changed, people)."""
    when = f"{choices.call_date:%-d %b}" if choices.call_date else "the conversation"
    reason = f"From the conversation of {when}"
    for person in choices.people:
        role = person.role or ("buyer_other" if person.side == Side.BUYER else "seller_other")
        person.created = stakeholder_services.add_stakeholder(
            plan.deal,
            actor=actor,
            name=person.name[:150],
            title=person.title[:150],
            role=role,
            is_required_signer=False,
        )
    if choices.outcome or choices.criteria:
        criteria = list(plan.success_criteria)
        criteria += [c for c in choices.criteria if c not in criteria]
        services.update_plan_overview(
            plan,
            actor=actor,
            business_outcome=(choices.outcome or plan.business_outcome)[:300],
            success_criteria=criteria,
        )
    if choices.target_date and choices.target_date != plan.target_signature_date:
        if plan.milestones.exists():
            services.reschedule_plan(
                plan, actor=actor, target_date=choices.target_date, reason=reason
            )
        else:
            Plan.objects.filter(pk=plan.pk).update(target_signature_date=choices.target_date)
        plan.target_signature_date = choices.target_date
    people = list(Stakeholder.objects.filter(deal_id=plan.deal_id))
    counts = {"added": 0, "changed": 0, "people": len(choices.people)}

    # Steps the plan has: the owner, duration and notes said (the date comes last).
    for choice in choices.steps:
        if choice.existing is None:
            continue
        current = Milestone.objects.get(pk=choice.existing.pk)
        changes = _owner_fields(choice.owner, people)
        changes = {k: v for k, v in changes.items() if v is not None}
        if choice.duration_days:
            changes["duration_days"] = choice.duration_days
        if choice.notes:
            changes["internal_note"] = "\n".join(
                filter(None, [current.internal_note, *choice.notes])
            )
        if changes:
            services.update_milestone(current, actor=actor, expected_version=None, **changes)
            counts["changed"] += 1

    # New steps, in a plan's order, before the signature step.
    new = sorted((c for c in choices.steps if c.existing is None), key=lambda c: order_key(c.type))
    lexicon = load()
    rows = []
    for choice in new:
        kind = lexicon.steps.get(choice.type)
        fields = {
            "title": choice.title[:200],
            "phase": kind.phase if kind else Phase.CLOSE,
            "duration_days": choice.duration_days or (kind.days if kind else 1),
            "is_signature_step": choice.type == "signature"
            and not plan.milestones.filter(is_signature_step=True).exists(),
            "risk": kind.risk if kind else "",
            "buyer_role_hint": kind.buyer_role if kind else "",
            "seller_role_hint": kind.seller_role if kind else "",
            "internal_note": "\n".join(choice.notes),
            "description": f"{reason}: “{choice.quote[:400]}”",
        }
        fields |= {
            "buyer_owner": next((p for p in people if kind and p.role == kind.buyer_role), None),
            "seller_owner": next((p for p in people if kind and p.role == kind.seller_role), None),
        }
        fields |= {k: v for k, v in _owner_fields(choice.owner, people).items() if v is not None}
        rows.append(fields)
    if rows:
        _place_and_schedule(
            plan, rows, said={id(r): c.due_date for r, c in zip(rows, new, strict=True)}
        )
        counts["added"] = services.add_milestones(
            plan,
            actor=actor,
            steps=rows,
            summary=f"added {len(rows)} step{'s' if len(rows) != 1 else ''} from a conversation",
        )
    # The dates said for steps the plan has (a committed date moves with the reason).
    for choice in choices.steps:
        if choice.existing is not None and choice.due_date:
            current = Milestone.objects.get(pk=choice.existing.pk)
            if current.due_date != choice.due_date:
                services.update_milestone(
                    current,
                    actor=actor,
                    expected_version=None,
                    due_date=choice.due_date,
                    reason=f"{reason}: “{choice.quote[:200]}”",
                )
    if choices.keep_text:
        Conversation.objects.create(
            organization_id=plan.organization_id,
            plan=plan,
            created_by=actor.user,
            source=choices.source[:255],
            call_date=choices.call_date,
            text=choices.keep_text,
        )
    return counts


def _owner_fields(owner, people: list[Stakeholder]) -> dict:
    if isinstance(owner, NewPerson):
        owner = owner.created
    if owner is None:
        return {"buyer_owner": None, "seller_owner": None}
    if owner.side == Side.BUYER:
        return {"buyer_owner": owner, "seller_owner": None}
    return {"buyer_owner": None, "seller_owner": owner}


def _place_and_schedule(plan: Plan, rows: list[dict], *, said: dict) -> None:
    """Positions and dates of new steps: close-plan steps before the plan's signature step
    (which moves down to make room), the others at the end of their phase; a date said is
    kept, the others come from the backward schedule of the whole plan to its target date,
    with each step's duration (the buyer's where said)."""
    existing = list(plan.milestones.order_by("phase", "position"))
    signature = next((m for m in existing if m.is_signature_step and m.phase == Phase.CLOSE), None)
    close = [r for r in rows if r["phase"] == Phase.CLOSE and not r["is_signature_step"]]
    ends = {
        phase: max((m.position for m in existing if m.phase == phase), default=0) + 1
        for phase in (Phase.CLOSE, Phase.POST)
    }
    if signature is not None and close:
        Milestone.objects.filter(
            plan=plan, phase=Phase.CLOSE, position__gte=signature.position
        ).update(position=F("position") + len(close), version=F("version") + 1)
        for m in existing:
            if m.phase == Phase.CLOSE and m.position >= signature.position:
                m.position += len(close)
        for offset, row in enumerate(close):
            row["position"] = signature.position + offset
        ends[Phase.CLOSE] += len(close)
    for row in rows:
        if "position" not in row:
            row["position"] = ends[row["phase"]]
            ends[row["phase"]] += 1
    everything = [
        (m.phase, m.position, m.duration_days, m.is_signature_step, None) for m in existing
    ] + [(r["phase"], r["position"], r["duration_days"], r["is_signature_step"], r) for r in rows]
    everything.sort(key=lambda item: (item[0] != Phase.CLOSE, item[1]))
    due = scheduling.schedule(
        [scheduling.Step(d, phase, sig) for phase, _p, d, sig, _r in everything],
        plan.target_signature_date,
    )
    for (_phase, _position, _days, _sig, row), scheduled in zip(everything, due, strict=True):
        if row is not None:
            row["due_date"] = said.get(id(row)) or scheduled
