"""Manager dashboard, what happened: date changes (slips) and their reasons, how long steps
take, overdue steps by owner and side, and the outcomes of closed deals. Like
plans.dashboard.metrics (whose scope, sources and helpers these share), each metric is one
function whose docstring's first paragraph is its definition; `METRICS` names every metric
of the page, for its info tooltips (`definitions`)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Case, Count, IntegerField, Value, When
from django.db.models.functions import TruncDate

from deals.models import Deal
from stakeholders.models import Side

from . import summaries
from .base import DayNumber
from .metrics import (
    Scope,
    as_float,
    definition,
    forecast_check,
    live_plans,
    map_coverage,
    map_health,
    overdue_steps_of,
    pipeline_by_month,
    pipeline_by_stage,
    refresh_summaries,
    signed_map_q,
)

# --- Slips ---------------------------------------------------------------------------


@dataclass
class SlipSummary:
    dated: int
    slipped: int
    slip_days: int

    @property
    def rate(self) -> float | None:
        return self.slipped / self.dated if self.dated else None


def slip_summary(scope: Scope) -> SlipSummary:
    """Slip rate: the share of steps (not cancelled, with a baseline and a current date)
    whose current due date is later than their baseline (first committed) date. Total slip
    days: the calendar days those dates lie after their baselines, summed. Over every plan
    of the deals in scope, closed deals and archived plans included.

    Sums of the per-title rollup (one GROUP BY, run once per scope, shared with
    step_durations)."""
    titles = scope.cached("title_rollup", _title_rollup)
    return SlipSummary(
        dated=sum(item["dated"] for item in titles),
        slipped=sum(item["slipped"] for item in titles),
        slip_days=sum(item["slip_days"] or 0 for item in titles),
    )


def _title_rollup(scope: Scope) -> list[dict]:
    """Per step title, over the steps (not cancelled) of every plan in scope: counts, slips
    and the planned and actual durations of the done steps. The whole workspace reads its
    TitleSummary rows, after recomputing those that changed (plans.dashboard.summaries);
    a filtered scope runs the GROUP BY title over its steps."""
    if scope.whole_workspace:
        refresh_summaries(scope)
        return summaries.title_rollup(scope.organization)
    rows = list(summaries.title_rollup_query(scope.milestones(), tz=scope.tz))
    for row in rows:
        done, planned, actual = row.pop("done"), row.pop("planned_sum"), row.pop("actual_sum")
        row["done"] = done
        row["planned"] = planned / done if done and planned is not None else None
        row["actual"] = actual / done if done and actual is not None else None
    return rows


@dataclass
class ReasonRow:
    reason: str
    count: int
    days: int


def slip_reasons(scope: Scope, *, limit: int | None = 5) -> list[ReasonRow]:
    """The most frequent reasons given when a committed date moved later, with how many
    moves and how many calendar days they added. Reasons are grouped ignoring case and
    surrounding spaces; steps of every plan of the deals in scope.

    One GROUP BY over the slip history; the whole workspace reads its ReasonSummary rows
    instead, after recomputing the reasons that changed (plans.dashboard.summaries)."""
    if scope.whole_workspace:
        refresh_summaries(scope)
        items = summaries.reasons(scope.organization)
    else:
        items = summaries.reason_moves_query(scope.date_changes()).order_by(
            "-count", "-days", "key"
        )
    if limit:
        items = items[:limit]
    return [ReasonRow(item["reason"], item["count"], item["days"]) for item in items]


@dataclass
class StepDurationRow:
    title: str
    steps: int
    done: int
    slipped: int
    planned: float | None  # average planned duration of the done steps, business days
    actual: float | None  # average actual duration of the done steps, business days

    @property
    def overrun(self) -> float | None:
        if self.planned is None or self.actual is None:
            return None
        return self.actual - self.planned

    @property
    def slip_rate(self) -> float | None:
        return self.slipped / self.steps if self.steps else None


def step_durations(scope: Scope, *, limit: int | None = 10) -> list[StepDurationRow]:
    """Which step types slip most, by step title across the deals in scope: planned vs
    actual duration of the done steps, in business days. Planned: the step's duration.
    Actual: the planned duration plus the business days between its baseline due date and
    the day it was completed (at least 1). Sorted by overrun (actual − planned), then by
    slip rate (share of the title's steps, done or not, later than their baseline).

    The per-title rollup: one GROUP BY title, run once per scope, shared with
    slip_summary."""
    items = scope.cached("title_rollup", _title_rollup)
    rows = [
        StepDurationRow(
            title=item["title"],
            steps=item["steps"],
            done=item["done"],
            slipped=item["slipped"],
            planned=as_float(item["planned"]),
            actual=as_float(item["actual"]),
        )
        for item in items
    ]
    rows.sort(
        key=lambda r: (
            r.overrun is None,
            -(r.overrun or 0),
            -(r.slip_rate or 0),
            r.title.lower(),
        )
    )
    return rows[:limit] if limit else rows


# --- Overdue by owner and side -------------------------------------------------------


@dataclass
class OwnerRow:
    side: str
    owner: str
    account: str  # the buyer's account; empty for seller owners (they span deals)
    overdue: int
    oldest_due: date
    days_overdue: int

    @property
    def side_label(self) -> str:
        return Side(self.side).label


@dataclass
class OverdueReport:
    rows: list[OwnerRow]
    buyer_side: int
    seller_side: int
    total: int


def overdue_by_owner(scope: Scope) -> OverdueReport:
    """Overdue steps (not done or cancelled, due before today) of the open deals' active
    plans, per owner and side. Every step has two owners: it counts once on the buyer side
    under its buyer owner and once on the seller side under its seller owner ("No owner"
    when that side has none). Days overdue: from the owner's oldest overdue due date.

    One GROUP BY (plan, buyer owner, seller owner) over the overdue steps; the sides are
    added up from it, with the accounts of the live plans (shared with map_health)."""
    accounts = {
        plan.deal.plan_id: plan.deal.account for plan in scope.cached("live_plans", live_plans)
    }

    items = scope.cached("overdue_steps", overdue_steps_of)
    buyers: dict[tuple, list] = {}
    sellers: dict[str, list] = {}
    total = buyer_side = seller_side = 0
    for plan_id, buyer_id, buyer_name, seller_id, seller_name, n, _late, oldest in items:
        account = accounts.get(plan_id)
        if account is None:
            continue  # not a live plan (see Scope.steps_by_plan)
        total += n
        buyer_side += n if buyer_id else 0
        seller_side += n if seller_id else 0
        # Buyer owners are people of one account; seller owners span deals.
        buyer = (buyer_id, buyer_name, account)
        for groups, key in ((buyers, buyer), (sellers, seller_name or "")):
            counted = groups.setdefault(key, [0, oldest])
            counted[0] += n
            counted[1] = min(counted[1], oldest)
    rows = [
        OwnerRow(Side.BUYER, name or "No owner", account, n, oldest, (scope.today - oldest).days)
        for (_, name, account), (n, oldest) in buyers.items()
    ] + [
        OwnerRow(Side.SELLER, name or "No owner", "", n, oldest, (scope.today - oldest).days)
        for name, (n, oldest) in sellers.items()
    ]
    # The account last: two buyers of the same name in two accounts keep one order.
    rows.sort(key=lambda r: (-r.overdue, -r.days_overdue, r.side, r.owner, r.account))
    return OverdueReport(rows=rows, buyer_side=buyer_side, seller_side=seller_side, total=total)


# --- Outcomes ------------------------------------------------------------------------


@dataclass
class OutcomeRow:
    key: str  # "signed" | "unsigned" | "all"
    label: str
    closed: int = 0
    won: int = 0
    won_dated: int = 0  # won deals with a closed date
    won_on_time: int = 0
    cycles: list[int] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.closed - self.won

    @property
    def win_rate(self) -> float | None:
        return self.won / self.closed if self.closed else None

    @property
    def median_cycle(self) -> float | None:
        return statistics.median(self.cycles) if self.cycles else None

    @property
    def on_time_share(self) -> float | None:
        return self.won_on_time / self.won_dated if self.won_dated else None


def outcomes(scope: Scope) -> list[OutcomeRow]:
    """Closed deals (won or lost) with a signed MAP (for now: plan signed or amended since
    signature) vs without (no plan, or a plan never signed): win rate (won ÷ closed) and
    median cycle length (calendar days from the deal's creation to its closed date). On
    time: the share of won deals whose closed date is on or before their original target
    close date (the first one entered).

    One query: closed deals counted per signature, stage, cycle length and on-time flag
    (the median needs every cycle length); closed deals without a closed date count in the
    win rate only."""
    signed = signed_map_q("plan__")
    items = (
        scope.deals.filter(stage__in=Deal.CLOSED_STAGES)
        .annotate(
            signed=Case(When(signed, then=Value(1)), default=Value(0)),
            cycle=DayNumber("closed_date") - DayNumber(TruncDate("created_at", tzinfo=scope.tz)),
            early=DayNumber("original_close_date") - DayNumber("closed_date"),
            on_time=Case(
                When(early__isnull=True, then=Value(None)),
                When(early__gte=0, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .values_list("signed", "stage", "cycle", "on_time")
        .annotate(n=Count("pk"))
        .order_by()
    )
    groups = {
        "signed": OutcomeRow("signed", "With a signed MAP"),
        "unsigned": OutcomeRow("unsigned", "Without a signed MAP"),
        "all": OutcomeRow("all", "All closed deals"),
    }
    for is_signed, stage, cycle, on_time, n in items:
        for row in (groups["signed" if is_signed else "unsigned"], groups["all"]):
            row.closed += n
            if cycle is not None:
                row.cycles.extend([cycle] * n)
            if stage == Deal.Stage.CLOSED_WON:
                row.won += n
                if on_time is not None:
                    row.won_dated += n
                    row.won_on_time += n * on_time
    return list(groups.values())


# --- Every metric of the page --------------------------------------------------------

METRICS = {
    "pipeline_by_stage": pipeline_by_stage,
    "pipeline_by_month": pipeline_by_month,
    "map_coverage": map_coverage,
    "map_health": map_health,
    "forecast_check": forecast_check,
    "slip_summary": slip_summary,
    "slip_reasons": slip_reasons,
    "step_durations": step_durations,
    "overdue_by_owner": overdue_by_owner,
    "outcomes": outcomes,
}


def definitions() -> dict[str, str]:
    return {name: definition(metric) for name, metric in METRICS.items()}
