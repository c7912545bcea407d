"""How a plan stands, read from its loaded steps: its health (on track, at risk, off track,
with the reasons) and the warnings shown while it is built. Pure functions of what the page
already loaded: no query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .models import Milestone, Phase, Plan, Visibility


@dataclass
class Health:
    level: str  # "on_track" | "at_risk" | "off_track"
    reasons: list[str]

    @property
    def label(self) -> str:
        return {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}[self.level]


def plan_health(
    plan: Plan, milestones: list[Milestone], *, today: date, recent_slips: int
) -> Health:
    """On track / at risk / off track, with the reasons.

    Off track: the target signature date has passed without a signature, a close-plan step
    is more than 7 days overdue, or 3 or more steps are overdue.
    At risk: any step overdue, any committed date moved in the last 14 days
    (`recent_slips`), or a close-plan step without a buyer owner or a date.
    On track: none of these.
    """
    open_steps = [m for m in milestones if not m.is_closed]
    overdue = [m for m in open_steps if m.is_overdue(today)]
    off, risk = [], []
    if plan.status not in {Plan.Status.SIGNED} and plan.target_signature_date < today:
        off.append("target signature date has passed without a signature")
    badly = [m for m in overdue if m.phase == Phase.CLOSE and m.days_overdue(today) > 7]
    if badly:
        off.append(f"{len(badly)} close-plan step(s) overdue by more than 7 days")
    if len(overdue) >= 3:
        off.append(f"{len(overdue)} steps overdue")
    elif overdue:
        risk.append(f"{len(overdue)} step(s) overdue")
    if recent_slips:
        risk.append(f"{recent_slips} date change(s) in the last 14 days")
    # Internal steps are the seller team's own: they have no buyer owner by design.
    missing_owner = [
        m
        for m in open_steps
        if m.phase == Phase.CLOSE and not m.buyer_owner_id and m.visibility == Visibility.SHARED
    ]
    if missing_owner:
        risk.append(f"{len(missing_owner)} step(s) without a buyer owner")
    undated = [m for m in open_steps if m.due_date is None]
    if undated:
        risk.append(f"{len(undated)} step(s) without a date")
    if off:
        return Health("off_track", off + risk)
    if risk:
        return Health("at_risk", risk)
    return Health("on_track", ["every step is dated, owned and on time"])


MAX_CLOSE_STEPS = 20


def plan_warnings(plan: Plan, milestones: list[Milestone]) -> list[str]:
    """Warnings shown while building: gaps that make a MAP less credible."""
    warnings = []
    criteria = [c for c in plan.success_criteria if c.strip()]
    if len(criteria) < 3:
        warnings.append(f"Only {len(criteria)} success criteria: 3–5 make the decision clear.")
    active = [m for m in milestones if m.status != Milestone.Status.CANCELLED]
    for m in active:
        if m.due_date is None:
            warnings.append(f"“{m.title}” has no date.")
        if not m.buyer_owner_id and m.visibility == Visibility.SHARED:
            warnings.append(f"“{m.title}” has no buyer owner.")
        if (
            m.is_high_risk
            and m.template_duration_days
            and m.duration_days < m.template_duration_days
        ):
            warnings.append(
                f"“{m.title}” is high-risk ({m.get_risk_display().lower()}) and planned for "
                f"{m.duration_days} days, less than the usual {m.template_duration_days}."
            )
    close_steps = [m for m in active if m.phase == Phase.CLOSE]
    if len(close_steps) > MAX_CLOSE_STEPS:
        warnings.append(
            f"{len(close_steps)} close-plan steps: plans of 6–20 steps work best; 30 or more do as "
            "badly as no plan."
        )
    return warnings
