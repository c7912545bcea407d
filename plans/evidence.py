"""What a signature rests on: the canonical content of a plan and its hash, and the
hash-chained log of signature events.

What is signed is a canonical JSON rendering of the plan's shared content: business
outcome, success criteria, target signature date, stakeholders of both sides, and the
shared milestones with their phase, order, owners and dates. Internal steps, notes,
statuses and activity are not part of it (checking a step off does not amend a plan).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.utils import timezone

from deals import revisions
from plans.models import Milestone, Phase, Plan, SignatureEvent, Visibility
from stakeholders.models import Stakeholder

GENESIS = "0" * 64

# Canonical content ---------------------------------------------------------------------


def canonical_content(plan: Plan, *, milestones=None, stakeholders=None) -> dict:
    """The signed content of the plan as plain data (deterministic order). Pages that have
    already loaded the plan's milestones (with owners) and stakeholders pass them in."""
    if stakeholders is None:
        stakeholders = Stakeholder.objects.filter(deal_id=plan.deal_id)
    stakeholders = sorted(stakeholders, key=lambda s: (s.side, s.name, s.email, s.pk))
    if milestones is None:
        milestones = Milestone.objects.filter(plan=plan).select_related(
            "buyer_owner", "seller_owner"
        )
    milestones = [
        m
        for m in milestones
        if m.visibility == Visibility.SHARED and m.status != Milestone.Status.CANCELLED
    ]
    ordered = sorted(milestones, key=lambda m: (m.phase != Phase.CLOSE, m.position, m.pk))

    def person(stakeholder):
        return {"name": stakeholder.name, "email": stakeholder.email} if stakeholder else None

    return {
        "deal": {"account": plan.deal.account_name, "opportunity": plan.deal.name},
        "business_outcome": plan.business_outcome,
        "success_criteria": list(plan.success_criteria),
        "target_signature_date": plan.target_signature_date.isoformat(),
        "stakeholders": [
            {
                "side": s.side,
                "name": s.name,
                "title": s.title,
                "email": s.email,
                "role": s.role_label,
            }
            for s in stakeholders
        ],
        "milestones": [
            {
                "phase": m.get_phase_display(),
                "title": m.title,
                "buyer_owner": person(m.buyer_owner),
                "seller_owner": person(m.seller_owner),
                "due_date": m.due_date.isoformat() if m.due_date else None,
            }
            for m in ordered
        ],
    }


def canonical_bytes(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(content: dict) -> str:
    """The hash of canonical content already built (canonical_content)."""
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def content_hash(plan: Plan, *, milestones=None, stakeholders=None) -> str:
    return digest_of(canonical_content(plan, milestones=milestones, stakeholders=stakeholders))


# The chain ------------------------------------------------------------------------------

CHAINED_FIELDS = [
    "sequence",
    "kind",
    "signer_name",
    "typed_name",
    "signer_email",
    "signer_role",
    "signer_side",
    "plan_version",
    "content_hash",
    "ip_address",
    "user_agent",
    "auth_method",
    "reason",
    "actor_name",
]
# Added later: part of an event's hash when set, so the events written before them keep
# their hashes (and blanking one of them on a later event still breaks the chain).
CHAINED_IF_SET = ["requested_email", "previous_email"]


def event_digest(event: SignatureEvent, plan_public_id: str) -> str:
    data = {name: getattr(event, name) for name in CHAINED_FIELDS}
    data.update({name: getattr(event, name) for name in CHAINED_IF_SET if getattr(event, name)})
    data["created_at"] = event.created_at.isoformat()
    data["plan"] = plan_public_id
    data["prev_hash"] = event.prev_hash
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


def append_event(plan: Plan, **fields) -> SignatureEvent:
    """Append one event to the plan's chain. The plan row is locked so two appends cannot
    take the same place; the unique (plan, sequence) constraint backs it up."""
    Plan.objects.select_for_update(no_key=True).filter(pk=plan.pk).first()
    last = SignatureEvent.objects.filter(plan=plan).order_by("-sequence").first()
    event = SignatureEvent(
        organization_id=plan.organization_id,
        plan=plan,
        sequence=(last.sequence + 1) if last else 1,
        prev_hash=last.event_hash if last else GENESIS,
        created_at=timezone.now().replace(microsecond=0),
        **fields,
    )
    event.event_hash = event_digest(event, str(plan.public_id))
    event.save()
    revisions.bump_deal(plan.deal_id)  # the signature block shows the chain
    return event


@dataclass
class ChainCheck:
    valid: bool
    count: int
    problem: str = ""


def verify_chain(plan: Plan) -> ChainCheck:
    """Recompute every link: an altered, removed or inserted event is reported."""
    previous = GENESIS
    events = list(SignatureEvent.objects.filter(plan=plan).order_by("sequence"))
    for expected, event in enumerate(events, start=1):
        if event.sequence != expected:
            return ChainCheck(False, len(events), f"event {expected} is missing")
        if event.prev_hash != previous:
            return ChainCheck(
                False, len(events), f"event {expected} does not follow event {expected - 1}"
            )
        if event_digest(event, str(plan.public_id)) != event.event_hash:
            return ChainCheck(False, len(events), f"event {expected} was altered")
        previous = event.event_hash
    return ChainCheck(True, len(events))
