"""Manager dashboard: plan analytics over the deals of a workspace (or of one seller).

Every metric is one function. The first paragraph of its docstring is the metric's
definition, shown on the page as the metric's info tooltip (see `definition`); the rest are
notes for developers. Each function runs a fixed number of aggregate queries (GROUP BY,
filtered counts), whatever the number of deals: Python only classifies, sorts and pivots
the aggregated rows. What would read every step on each request (the critical path, the
per-title rollup, the slip reasons, undated and unowned steps, recent date changes, buyer
visits) is read from summaries kept current by database triggers
(plans.dashboard.summaries); the page itself shows these metrics through
plans.dashboard.panels, which builds only the rows it shows.

Amounts are never converted between currencies: every amount is summed per currency
(`Amounts`), and a deal's amount is compared with the coverage threshold as entered.

Two inputs come from features that do not exist yet and are read through clearly named
sources, so the lead can switch them in one place:
- `signed_map_q` — "signed MAP" is the plan status (signed, or amended since signature);
- `buyer_visits` (in plans.dashboard.base) — "buyer visit" is the latest buyer-side
  `Activity` of the plan; it will become the buyer's room visits.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from deals.models import Deal, Organization
from plans.models import DueDateChange, Milestone, Phase, Plan

from . import summaries
from .base import (
    LATE_DAYS,
    MANY_OVERDUE,
    RECENT_DAYS,
    business_day_date,
    business_day_number,
)

OPEN_STEP = ~Q(status__in=Milestone.CLOSED_STATUSES)
MAX_MONTHS = 36
LEVELS = {"off_track": 2, "at_risk": 1, "on_track": 0}
LEVEL_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}


def definition(metric) -> str:
    """The first paragraph of a metric function's docstring, on one line (the tooltip)."""
    doc = inspect.getdoc(metric) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


# --- Sources that later features replace ---------------------------------------------

SIGNED_MAP_STATUSES = (Plan.Status.SIGNED, Plan.Status.AMENDED)


def signed_map_q(plan_path: str = "") -> Q:
    """Signature source. A "signed MAP" is a plan whose status is signed or amended since
    signature. `plan_path` is the lookup from the queried model to the plan ("plan__" from
    a deal). Signatures are being built in another issue: switch them in here."""
    return Q(**{f"{plan_path}status__in": SIGNED_MAP_STATUSES})


@contextmanager
def analytics() -> Iterator[None]:
    """Run the dashboard's queries in one transaction with PostgreSQL's JIT compiler off.

    JIT (on by default) compiles a query whose estimated cost passes `jit_above_cost`: one
    variant of these aggregates spent 0.77 s compiling for 0.1 s of work over 150,000 steps,
    and bigger workspaces push more of them across. `SET LOCAL` lasts until the end of the
    transaction only. Nested uses run in the outer one (the summaries' refreshes use it on
    their own and inside the page's)."""
    if connection.vendor != "postgresql" or getattr(connection, "_dashboard_analytics", False):
        yield  # SQLite has no JIT (and its transactions here take the write lock)
        return
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        connection._dashboard_analytics = True
        try:
            yield
        finally:
            connection._dashboard_analytics = False


# --- Calendar arithmetic in SQL ------------------------------------------------------

# --- Scope: which deals the dashboard looks at ---------------------------------------


class Amounts(dict):
    """Money summed per currency: {"USD": Decimal("1200.00"), "EUR": …}."""

    def add(self, currency: str, amount) -> None:
        self[currency] = self.get(currency, Decimal(0)) + (amount or Decimal(0))

    def main(self, currency: str) -> Decimal:
        return self.get(currency, Decimal(0))

    def __str__(self) -> str:
        if not self:
            return "0"
        return " · ".join(f"{amount:,.0f} {currency}" for currency, amount in sorted(self.items()))


@dataclass(frozen=True)
class Scope:
    """The deals a dashboard covers: a workspace's deals, or a seller's own, after filters."""

    organization: Organization
    deals: QuerySet  # Deal rows in scope (open and closed)
    today: date
    now: datetime
    # No filter: every deal of the workspace. Queries then scope by organization alone,
    # without joining through the deals.
    whole_workspace: bool = False
    # Rollups that several metrics read (one query each, run once per scope).
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def cached(self, key: str, compute):
        if key not in self.cache:
            self.cache[key] = compute(self)
        return self.cache[key]

    @classmethod
    def build(
        cls,
        organization: Organization,
        *,
        owner=None,
        stage: str = "",
        close_from: date | None = None,
        close_to: date | None = None,
        amount_min: Decimal | None = None,
        amount_max: Decimal | None = None,
        now: datetime | None = None,
    ) -> Scope:
        """`owner` restricts to one owner's deals (a seller's dashboard always passes
        themselves). The close period applies to the deal's close date: the date it closed,
        or its target close date while open."""
        now = now or timezone.now()
        today = timezone.localtime(now, ZoneInfo(organization.time_zone)).date()
        deals = Deal.objects.for_org(organization)
        if owner is not None:
            deals = deals.filter(owner=owner)
        if stage == "open":
            deals = deals.open()
        elif stage:
            deals = deals.filter(stage=stage)
        if close_from or close_to:
            deals = deals.alias(close_on=Coalesce("closed_date", "target_close_date"))
            if close_from:
                deals = deals.filter(close_on__gte=close_from)
            if close_to:
                deals = deals.filter(close_on__lte=close_to)
        if amount_min is not None:
            deals = deals.filter(amount__gte=amount_min)
        if amount_max is not None:
            deals = deals.filter(amount__lte=amount_max)
        whole = owner is None and not stage and not close_from and not close_to
        whole = whole and amount_min is None and amount_max is None
        return cls(
            organization=organization,
            deals=deals.order_by(),
            today=today,
            now=now,
            whole_workspace=whole,
        )

    @property
    def open_deals(self) -> QuerySet:
        return self.deals.open()

    @property
    def plans(self) -> QuerySet:
        """Plans of every deal in scope, archived ones included (history, outcomes)."""
        plans = Plan.objects.for_org(self.organization)
        return plans if self.whole_workspace else plans.filter(deal__in=self.deals)

    @property
    def live_plans(self) -> QuerySet:
        """Active (not archived) plans of the open deals in scope."""
        plans = Plan.objects.for_org(self.organization).filter(archived_at=None)
        if self.whole_workspace:
            return plans.exclude(deal__stage__in=Deal.CLOSED_STAGES)
        return plans.filter(deal__in=self.open_deals)

    def milestones(self) -> QuerySet:
        """Steps of every plan in scope (archived plans and closed deals included)."""
        steps = Milestone.objects.for_org(self.organization)
        return steps if self.whole_workspace else steps.filter(plan__deal__in=self.deals)

    def live_milestones(self) -> QuerySet:
        """Steps of the live plans (see `live_plans`)."""
        steps = Milestone.objects.for_org(self.organization).filter(plan__archived_at=None)
        if self.whole_workspace:
            return steps.exclude(plan__deal__stage__in=Deal.CLOSED_STAGES)
        return steps.filter(plan__deal__in=self.open_deals)

    def steps_by_plan(self) -> QuerySet:
        """Steps to aggregate per plan when only the live plans' results are looked up: for
        the whole workspace every step of the organization (no join through plans and
        deals; the other plans' rows are computed and ignored), else the live steps."""
        if self.whole_workspace:
            return Milestone.objects.for_org(self.organization)
        return self.live_milestones()

    def date_changes(self) -> QuerySet:
        """Slip history of every plan in scope."""
        changes = DueDateChange.objects.for_org(self.organization)
        return (
            changes
            if self.whole_workspace
            else changes.filter(milestone__plan__deal__in=self.deals)
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.organization.time_zone)


def refresh_summaries(scope: Scope) -> None:
    """Bring the summaries this scope reads up to date, once per scope (see
    plans.summaries.refresh)."""
    if "summaries" not in scope.cache:
        summaries.refresh(
            scope.organization,
            now=scope.now,
            today=scope.today,
            titles_and_reasons=scope.whole_workspace,
        )
        scope.cache["summaries"] = True


def main_currency(*amounts: Amounts) -> str:
    """The currency with the largest total: the one charts plot."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for group in amounts:
        for currency, amount in group.items():
            totals[currency] += amount
    return max(totals, key=lambda c: (totals[c], c)) if totals else "USD"


# --- Pipeline ------------------------------------------------------------------------


@dataclass
class PipelineRow:
    key: object  # a stage value or the first day of a month
    label: str
    count: int = 0
    amounts: Amounts = field(default_factory=Amounts)


def pipeline_by_stage(scope: Scope) -> list[PipelineRow]:
    """Open deals (every stage except closed won and closed lost) by stage: how many, and
    their amounts summed per currency.

    One GROUP BY stage, month, currency (shared with pipeline_by_month). Every open stage
    is listed, empty ones with zeros."""
    rows = {
        stage: PipelineRow(stage, label)
        for stage, label in Deal.Stage.choices
        if stage not in Deal.CLOSED_STAGES
    }
    for item in scope.cached("pipeline", _pipeline):
        row = rows[item["stage"]]
        row.count += item["count"]
        row.amounts.add(item["currency"], item["amount"])
    return list(rows.values())


def _pipeline(scope: Scope) -> list[dict]:
    """Open deals counted and summed per stage, target close month and currency."""
    return list(
        scope.open_deals.values("stage", "currency", month=TruncMonth("target_close_date"))
        .annotate(count=Count("pk"), amount=Sum("amount"))
        .order_by()
    )


def pipeline_by_month(scope: Scope) -> list[PipelineRow]:
    """Open deals by the month of their target close date: how many, and their amounts
    summed per currency. Months with no deal between the first and the last are listed.

    One GROUP BY stage, month, currency (shared with pipeline_by_stage)."""
    rows: dict[date, PipelineRow] = {}
    for item in scope.cached("pipeline", _pipeline):
        month = _as_date(item["month"])
        row = rows.setdefault(month, PipelineRow(month, f"{month:%b %Y}"))
        row.count += item["count"]
        row.amounts.add(item["currency"], item["amount"])
    return [rows.get(month) or PipelineRow(month, f"{month:%b %Y}") for month in _months(rows)]


@dataclass
class Coverage:
    threshold: Decimal
    eligible: int
    with_plan: int
    with_shared_plan: int

    @property
    def plan_share(self) -> float | None:
        return self.with_plan / self.eligible if self.eligible else None

    @property
    def shared_share(self) -> float | None:
        return self.with_shared_plan / self.eligible if self.eligible else None


def map_coverage(scope: Scope) -> Coverage:
    """Among the open deals whose amount is at least the workspace's MAP coverage threshold
    (set by admins in Settings; 0 counts every open deal): the share that have a plan (not
    archived), and the share whose plan is shared with the buyer (shared, signed or
    amended).

    One aggregate with filtered counts."""
    threshold = scope.organization.map_coverage_threshold
    live = Q(plan__isnull=False, plan__archived_at=None)
    counts = scope.open_deals.filter(amount__gte=threshold).aggregate(
        eligible=Count("pk"),
        with_plan=Count("pk", filter=live),
        with_shared_plan=Count("pk", filter=live & ~Q(plan__status=Plan.Status.DRAFT)),
    )
    return Coverage(threshold=threshold, **counts)


# --- Per-plan rollup: MAP health and forecast ----------------------------------------


@dataclass
class DealInfo:
    """The deal columns every per-deal table shows."""

    plan_id: int
    deal_id: object  # the deal's public UUID
    account: str
    name: str
    owner: str
    amount: Decimal
    currency: str
    stage: str
    target_close: date

    @property
    def stage_label(self) -> str:
        return Deal.Stage(self.stage).label


@dataclass
class LivePlan:
    deal: DealInfo
    status: str
    target_signature: date
    signed: bool  # a signed MAP (see signed_map_q)
    path: SignaturePath
    missing_buyer_owner: int
    undated: int
    last_buyer_visit: datetime | None
    recent_changes: int  # date changes in the last RECENT_DAYS


def live_plans(scope: Scope) -> list[LivePlan]:
    """The active plans of the open deals in scope with their deals' columns and their
    date-independent figures (plans.dashboard.summaries: one statement recomputes the
    summaries that are behind, one query reads them with the plans)."""
    refresh_summaries(scope)
    today_bd = business_day_number(scope.today)
    items = (
        scope.live_plans.annotate(
            signed=Case(When(signed_map_q(), then=Value(True)), default=Value(False))
        )
        .values_list(
            "pk",
            "deal__public_id",
            "deal__account_name",
            "deal__name",
            "deal__owner__full_name",
            "deal__owner__email",
            "deal__amount",
            "deal__currency",
            "deal__stage",
            "deal__target_close_date",
            "status",
            "target_signature_date",
            "signed",
            "dashboard_summary__path_total",
            "dashboard_summary__due_term",
            "dashboard_summary__start_term",
            "dashboard_summary__signature_bd",
            "dashboard_summary__remaining",
            "dashboard_summary__missing_buyer_owner",
            "dashboard_summary__undated",
            "dashboard_summary__last_buyer_visit",
            "dashboard_summary__recent_changes",
        )
        # In plan order, as dashboard_page reads them: rows that sort equal keep that order.
        .order_by("pk")
    )
    return [
        LivePlan(
            deal=DealInfo(
                plan, deal, account, name, owner or email, amount, currency, stage, close
            ),
            status=status,
            target_signature=target,
            signed=signed,
            path=SignaturePath(
                projected_bd=_projected_bd(total, due_term, start_term, today_bd),
                signature_bd=signature_bd,
                remaining=remaining or 0,
            ),
            missing_buyer_owner=missing or 0,
            undated=undated or 0,
            last_buyer_visit=visit,
            recent_changes=changes or 0,
        )
        for plan, deal, account, name, owner, email, amount, currency, stage, close, status, target,
            signed, total, due_term, start_term, signature_bd, remaining, missing, undated,
            visit, changes in items
    ]  # fmt: skip


def _projected_bd(total, due_term, start_term, today_bd: int) -> int | None:
    """The critical path's projection from its stored components (PlanSummary): every open
    step i on the path ends at the earliest on max(its due date, today + its start offset),
    and the open steps after it take their durations, so the projection is the largest
    max(due_i, today + offset_i) + (total - S_i) = total + max(due_term, today + start_term).
    None when no step is open on the path."""
    if start_term is None:
        return None
    latest = today_bd + start_term
    if due_term is not None:
        latest = max(latest, due_term)
    return total + latest


@dataclass
class StepCounts:
    """Per plan: its open steps that make it late or incomplete (see map_health)."""

    overdue: int = 0
    overdue_buyer: int = 0
    late_close: int = 0
    missing_buyer_owner: int = 0
    undated: int = 0


def overdue_steps_of(scope: Scope) -> list[tuple]:
    """The overdue steps (open, due before today) of the plans in scope, grouped by plan,
    buyer owner and seller owner: (plan, buyer owner id and name, seller owner id and name,
    steps, close-plan steps more than LATE_DAYS overdue, oldest due date). One GROUP BY over
    the partial index of open dated steps; map_health and overdue_by_owner share it."""
    today = scope.today
    late = Q(phase=Phase.CLOSE, due_date__lt=today - timedelta(LATE_DAYS))
    groups = (
        scope.steps_by_plan()
        .filter(OPEN_STEP, due_date__lt=today)
        .values_list("plan_id", "buyer_owner_id", "seller_owner_id")
        .annotate(n=Count("pk"), late=Count("pk", filter=late), oldest=Min("due_date"))
        .order_by()
    )
    # The owners' names are looked up per group, after grouping: PostgreSQL overestimates
    # the overdue steps (most open steps are in the future) and would otherwise hash every
    # stakeholder of the workspace, twice.
    sql, params = groups.query.sql_with_params()
    with analytics(), connection.cursor() as cursor:
        cursor.execute(OVERDUE_SQL.format(groups=sql), params)
        # SQLite returns dates as text through a raw cursor.
        return [(*row[:-1], _parse_date(row[-1])) for row in cursor]


OVERDUE_SQL = """
SELECT g.plan_id,
       g.buyer_owner_id,
       (SELECT s.name FROM stakeholders_stakeholder s WHERE s.id = g.buyer_owner_id),
       g.seller_owner_id,
       (SELECT s.name FROM stakeholders_stakeholder s WHERE s.id = g.seller_owner_id),
       g.n, g.late, g.oldest
FROM ({groups}) g
"""


def _step_counts(scope: Scope) -> dict[int, StepCounts]:
    """StepCounts of the live plans: the overdue counts from the overdue steps (date
    dependent, read each time), the others from the plans' summaries."""
    counts: dict[int, StepCounts] = {}
    for plan in scope.cached("live_plans", live_plans):
        if plan.missing_buyer_owner or plan.undated:
            counts[plan.deal.plan_id] = StepCounts(
                missing_buyer_owner=plan.missing_buyer_owner, undated=plan.undated
            )
    for plan_id, buyer_id, _name, _seller, _seller_name, n, late, _oldest in scope.cached(
        "overdue_steps", overdue_steps_of
    ):
        counted = counts.get(plan_id)
        if counted is None:
            counted = counts[plan_id] = StepCounts()
        counted.overdue += n
        counted.overdue_buyer += n if buyer_id else 0
        counted.late_close += late
    return counts


@dataclass
class SignaturePath:
    """Per plan: its critical path to signature, in business-day numbers."""

    projected_bd: int | None = None  # the latest "anchor + durations after" of an open step
    signature_bd: int | None = None  # the signature step's due date
    remaining: int = 0  # open steps on the path


@dataclass
class HealthRow:
    deal: DealInfo
    plan_status: str
    signed: bool
    target_signature: date
    overdue: int
    overdue_buyer: int
    late_close: int
    missing_buyer_owner: int
    undated: int
    recent_changes: int
    last_buyer_visit: datetime | None
    level: str = "on_track"
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def rank(self) -> int:
        return LEVELS[self.level]


@dataclass
class HealthReport:
    rows: list[HealthRow]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.rows)


def map_health(scope: Scope) -> HealthReport:
    """Each open deal's active plan is off track, at risk or on track. Off track: unsigned
    (for now: plan status neither signed nor amended since signature) past its target
    signature date, a close-plan step more than 7 days overdue, or 3 or
    more steps overdue. At risk: 1–2 steps overdue, a date changed in the last 14 days, a
    shared plan with no buyer visit in 14 days (for now: the buyer's latest activity in the
    plan), a close-plan step without a buyer owner, or a step without a date. On track:
    none of these. Overdue: not done or cancelled, due before today (the workspace's
    time zone).

    The rules are plans.health.plan_health's, computed set-based, plus the buyer-visit
    rule; "signed" is the signature source (signed or amended, where plan_health accepts
    only signed). Queries: the live plans with their deals and their summaries (undated
    steps, close-plan steps without a buyer owner, recent date changes, the last buyer
    visit from `buyer_visits`; run once per scope, shared with forecast_check and
    overdue_by_owner) and the overdue steps (shared with overdue_by_owner).
    """
    today, since = scope.today, scope.now - timedelta(days=RECENT_DAYS)
    plans = scope.cached("live_plans", live_plans)
    figures = scope.cached("step_counts", _step_counts)
    rows = []
    counts = dict.fromkeys(LEVELS, 0)
    empty = StepCounts()
    for plan in plans:
        plan_id = plan.deal.plan_id
        counted = figures.get(plan_id, empty)
        row = HealthRow(
            deal=plan.deal,
            plan_status=plan.status,
            signed=plan.signed,
            target_signature=plan.target_signature,
            overdue=counted.overdue,
            overdue_buyer=counted.overdue_buyer,
            late_close=counted.late_close,
            missing_buyer_owner=counted.missing_buyer_owner,
            undated=counted.undated,
            recent_changes=plan.recent_changes,
            last_buyer_visit=plan.last_buyer_visit,
        )
        classify_health(row, today=today, since=since)
        counts[row.level] += 1
        rows.append(row)
    return HealthReport(rows=rows, counts=counts)


def classify_health(row: HealthRow, *, today: date, since: datetime) -> HealthRow:
    """Set `row.level` and `row.reasons` from its counts (the rules of `map_health`)."""
    off, risk = [], []
    if not row.signed and row.target_signature < today:
        off.append("unsigned past its target signature date")
    if row.late_close:
        off.append(f"{row.late_close} close-plan step(s) overdue by more than {LATE_DAYS} days")
    overdue = f"{row.overdue} step(s) overdue ({row.overdue_buyer} with a buyer owner)"
    if row.overdue >= MANY_OVERDUE:
        off.append(overdue)
    elif row.overdue:
        risk.append(overdue)
    if row.recent_changes:
        risk.append(f"{row.recent_changes} date change(s) in the last {RECENT_DAYS} days")
    if row.plan_status != Plan.Status.DRAFT and (
        row.last_buyer_visit is None or row.last_buyer_visit < since
    ):
        risk.append(f"no buyer visit in {RECENT_DAYS} days")
    if row.missing_buyer_owner:
        risk.append(f"{row.missing_buyer_owner} close-plan step(s) without a buyer owner")
    if row.undated:
        risk.append(f"{row.undated} step(s) without a date")
    row.level = "off_track" if off else "at_risk" if risk else "on_track"
    row.reasons = off + risk
    return row


HEALTH_SORTS = {
    "health": lambda r: (r.rank, len(r.reasons), r.deal.amount),
    "deal": lambda r: (r.deal.account.lower(), r.deal.name.lower()),
    "owner": lambda r: r.deal.owner.lower(),
    "amount": lambda r: r.deal.amount,
    "close": lambda r: r.deal.target_close,
    "overdue": lambda r: (r.overdue, r.late_close),
    "changes": lambda r: r.recent_changes,
    "visit": lambda r: r.last_buyer_visit.timestamp() if r.last_buyer_visit else 0,
}
# Each column's natural first direction: the worst (or the biggest) first.
HEALTH_DEFAULT_DESC = {"health", "amount", "overdue", "changes"}


def sort_health(rows: list[HealthRow], sort: str) -> list[HealthRow]:
    """Sort by a HEALTH_SORTS key; "-key" reverses it. Unknown keys sort by health."""
    key = sort.lstrip("-")
    if key not in HEALTH_SORTS:
        key, sort = "health", "health"
    descending = (key in HEALTH_DEFAULT_DESC) != sort.startswith("-")
    return sorted(rows, key=HEALTH_SORTS[key], reverse=descending)


# --- Forecast check ------------------------------------------------------------------


@dataclass
class ForecastRow:
    deal: DealInfo
    projected: date
    remaining_steps: int

    @property
    def gap_days(self) -> int:
        return (self.projected - self.deal.target_close).days

    @property
    def at_risk(self) -> bool:
        return self.gap_days > 0


@dataclass
class ForecastMonth:
    month: date
    committed: Amounts = field(default_factory=Amounts)
    projected: Amounts = field(default_factory=Amounts)
    committed_count: int = 0
    projected_count: int = 0

    @property
    def label(self) -> str:
        return f"{self.month:%b %Y}"


@dataclass
class Forecast:
    rows: list[ForecastRow]
    months: list[ForecastMonth]

    @property
    def at_risk(self) -> list[ForecastRow]:
        return [row for row in self.rows if row.at_risk]

    @property
    def amount_at_risk(self) -> Amounts:
        amounts = Amounts()
        for row in self.at_risk:
            amounts.add(row.deal.currency, row.deal.amount)
        return amounts


def forecast_check(scope: Scope) -> Forecast:
    """For each open deal with an active plan, the projected signature date next to the
    deal's target close date; a projection later than the target is a forecast risk, and
    the gap is in calendar days. The projection walks the close-plan steps up to the
    signature step in plan order (each step follows the one before it, as the backward
    schedule plans them): a step not done ends on its current due date, but no earlier than
    today — or, when it has not started, than today plus its duration — and every later
    step then takes its planned duration in business days. With no step left, the
    projection is the signature step's due date (else the plan's target signature date).
    Monthly totals: amounts by target close month (committed) and by projected signature
    month (projected).

    Explicit `depends_on` links are not walked: close-plan steps depend on earlier steps,
    which plan order already covers. The query of the live plans (run once per scope and
    shared with map_health) reads each plan's path components, kept current in PlanSummary
    (plans.dashboard.summaries: a window function over the open close-plan steps of the
    plans that changed); today's date is applied here (see `_projected_bd`).
    """
    plans = scope.cached("live_plans", live_plans)
    rows = []
    # (month, currency) → [committed count, amount, projected count, amount]
    totals: dict[tuple[date, str], list] = defaultdict(lambda: [0, Decimal(0), 0, Decimal(0)])
    for plan in plans:
        deal = plan.deal
        path = plan.path
        if path.projected_bd is not None:
            projected = business_day_date(path.projected_bd)
        elif path.signature_bd is not None:
            projected = business_day_date(path.signature_bd)
        else:
            projected = plan.target_signature
        rows.append(ForecastRow(deal, projected, path.remaining))
        committed = totals[deal.target_close.replace(day=1), deal.currency]
        committed[0] += 1
        committed[1] += deal.amount
        later = totals[projected.replace(day=1), deal.currency]
        later[2] += 1
        later[3] += deal.amount
    months: dict[date, ForecastMonth] = {}
    for (month, currency), (committed_count, committed, projected_count, projected) in sorted(
        totals.items()
    ):
        row = months.setdefault(month, ForecastMonth(month))
        row.committed_count += committed_count
        row.projected_count += projected_count
        if committed_count:
            row.committed.add(currency, committed)
        if projected_count:
            row.projected.add(currency, projected)
    rows.sort(key=lambda r: (r.deal.target_close - r.projected, -r.deal.amount))
    return Forecast(rows=rows, months=[months.get(m) or ForecastMonth(m) for m in _months(months)])


# --- helpers -------------------------------------------------------------------------


def _parse_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _month(day: date) -> date:
    return day.replace(day=1)


def _months(keys) -> list[date]:
    """Every first-of-month from the earliest to the latest of `keys` (only `keys` when
    they span more than MAX_MONTHS: a far-off date should not draw a hundred empty bars)."""
    if not keys:
        return []
    first, last = min(keys), max(keys)
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        return sorted(keys)
    months, month = [], first
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def as_float(value) -> float | None:
    return None if value is None else float(value)
