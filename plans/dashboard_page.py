"""What the dashboard page shows of the per-deal metrics — MAP health, the forecast check and
overdue steps by owner — computed set-based: the counts, totals and monthly figures over
every live plan, and only the first rows of each table as full rows.

The metrics' definitions and their full tables (the CSV exports) are plans.dashboard's
`map_health`, `forecast_check` and `overdue_by_owner`; this module gives the same figures
and the same first rows (tests/plans/test_dashboard_summaries.py compares them) without building
a row object per deal: one query returns a narrow row per live plan (its summary, overdue
and recent-change counts), Python adds them up and picks the rows shown, a second query
reads those rows' deals, and a third ranks the owners in the database.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Coalesce, NullIf

from . import dashboard as metrics
from .dashboard import (
    LEVELS,
    MANY_OVERDUE,
    RECENT_DAYS,
    Amounts,
    DealInfo,
    ForecastMonth,
    ForecastRow,
    HealthRow,
    Scope,
    business_day_date,
    business_day_number,
    classify_health,
    signed_map_q,
)
from .models import Plan


@dataclass
class HealthPage:
    counts: dict[str, int]
    total: int
    rows: list[HealthRow]  # the first rows in the requested order


@dataclass
class ForecastPage:
    months: list[ForecastMonth]
    total: int  # deals with a projection
    at_risk_count: int
    amount_at_risk: Amounts
    rows: list[ForecastRow]  # the first rows, latest projection first


@dataclass
class OverduePage:
    buyer_side: int
    seller_side: int
    total: int
    owners: int  # rows of the full table
    rows: list[metrics.OwnerRow]  # the first rows


def health_level(
    *,
    signed: bool,
    target_signature: date,
    late_close: int,
    overdue: int,
    recent_changes: int,
    plan_status: str,
    no_recent_visit: bool,
    missing_buyer_owner: int,
    undated: int,
    today: date,
) -> tuple[str, int]:
    """`classify_health`'s level and number of reasons (the rules of map_health), without
    writing the reasons out. Missing counts (None) count as 0."""
    off = bool(not signed and target_signature < today) + bool(late_close)
    off += bool(overdue and overdue >= MANY_OVERDUE)
    risk = bool(overdue and overdue < MANY_OVERDUE) + bool(recent_changes)
    risk += bool(missing_buyer_owner) + bool(undated)
    risk += bool(no_recent_visit and plan_status != Plan.Status.DRAFT)
    return ("off_track" if off else "at_risk" if risk else "on_track"), off + risk


# The narrow row of a live plan (see _plan_rows), by position.
(
    PK, AMOUNT, CURRENCY, CLOSE, STATUS, TARGET, SIGNED, TOTAL, DUE_TERM, START_TERM,
    SIGNATURE_BD, REMAINING, MISSING, UNDATED, NO_VISIT, CHANGES, KEY1, KEY2,
    OVERDUE, OVERDUE_BUYER, OVERDUE_SELLER, LATE,
) = range(22)  # fmt: skip

# The health table's sorts (dashboard.HEALTH_SORTS) on narrow rows; `level` and `reasons`
# are appended to each row (see health_and_forecast).
LEVEL, REASONS = 22, 23
SORT_KEYS = {
    "health": lambda r: (LEVELS[r[LEVEL]], r[REASONS], r[AMOUNT]),
    "deal": lambda r: (r[KEY1].lower(), r[KEY2].lower()),
    "owner": lambda r: r[KEY1].lower(),
    "amount": lambda r: r[AMOUNT],
    "close": lambda r: r[CLOSE],
    "overdue": lambda r: (r[OVERDUE], r[LATE]),
    "changes": lambda r: r[CHANGES] or 0,
    "visit": lambda r: r[KEY1].timestamp() if r[KEY1] else 0,
}
assert set(SORT_KEYS) == set(metrics.HEALTH_SORTS)  # noqa: S101 (kept in step)


def _owner_name():
    # DealInfo.owner: the owner's full name, or their email when it is blank.
    return Coalesce(
        NullIf("deal__owner__full_name", Value("")),
        "deal__owner__email",
        output_field=CharField(),
    )


def _plan_rows(scope: Scope, sort: str) -> list[list]:
    """One narrow row per live plan: the deal's amount, currency and target close date, the
    plan's status and signature, its summary (plans.dashboard_summaries: path components,
    incomplete steps, date changes of the last 14 days), whether a buyer visited in the last
    14 days, two columns the requested sort needs, and its overdue steps (all, with a buyer
    owner, with a seller owner, close-plan steps more than LATE_DAYS late: the summary's,
    counted as of today by the refresh). One query, reading no step."""
    since = scope.now - timedelta(days=RECENT_DAYS)
    visit = F("dashboard_summary__last_buyer_visit")
    key = sort.lstrip("-")
    keys = {
        "deal": (F("deal__account_name"), F("deal__name")),
        "owner": (_owner_name(), Value("")),
        "visit": (visit, Value("")),
    }.get(key, (Value(""), Value("")))
    live = (
        scope.live_plans.annotate(
            signed=Case(When(signed_map_q(), then=Value(1)), default=Value(0)),
            no_visit=Case(
                When(Q(dashboard_summary__last_buyer_visit__gte=since), then=Value(0)),
                default=Value(1),
            ),
            key1=keys[0],
            key2=keys[1],
        )
        .values_list(
            "pk",
            "deal__amount",
            "deal__currency",
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
            "no_visit",
            "dashboard_summary__recent_changes",
            "key1",
            "key2",
            "dashboard_summary__overdue",
            "dashboard_summary__overdue_buyer",
            "dashboard_summary__overdue_seller",
            "dashboard_summary__late_close",
        )
        .order_by("pk")
    )
    sql, params = live.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [list(row) for row in cursor.fetchall()]  # one call: faster than iterating
    if connection.vendor == "sqlite":  # a raw cursor returns SQLite's text and numbers
        for row in rows:
            row[AMOUNT] = Decimal(str(row[AMOUNT])).quantize(Decimal("0.01"))
            row[CLOSE] = metrics._parse_date(row[CLOSE])
            row[TARGET] = metrics._parse_date(row[TARGET])
            if key == "visit" and isinstance(row[KEY1], str):
                row[KEY1] = datetime.fromisoformat(row[KEY1]).replace(tzinfo=UTC)
    return rows


def health_and_forecast(
    scope: Scope, *, sort: str, health_limit: int, forecast_limit: int
) -> tuple[HealthPage, ForecastPage, tuple[int, int, int]]:
    """The MAP health panel (counts by level, the first `health_limit` rows in the order
    `sort` asks, see dashboard.sort_health), the forecast panel (monthly committed and
    projected amounts, deals at risk, the first `forecast_limit` rows) and the overdue
    totals (buyer side, seller side, all). Two queries, after the summaries' refresh
    (dashboard.refresh_summaries): the narrow rows, the deals of the rows shown."""
    metrics.refresh_summaries(scope)
    rows = _plan_rows(scope, sort)
    today = scope.today
    today_bd = business_day_number(today)
    counts = dict.fromkeys(LEVELS, 0)
    # (month, currency) → [committed count, amount, projected count, amount]
    totals: dict[tuple[date, str], list] = {}
    at_risk = buyer_side = seller_side = overdue = 0
    amount_at_risk = Amounts()
    forecast_keys = []
    # Thousands of plans share a few hundred dates: convert each once.
    dates: dict[int, date] = {}
    months_of: dict[date, date] = {}
    for index, row in enumerate(rows):
        level, reasons = health_level(
            signed=row[SIGNED],
            target_signature=row[TARGET],
            late_close=row[LATE],
            overdue=row[OVERDUE],
            recent_changes=row[CHANGES],
            plan_status=row[STATUS],
            no_recent_visit=row[NO_VISIT],
            missing_buyer_owner=row[MISSING],
            undated=row[UNDATED],
            today=today,
        )
        row.append(level)
        row.append(reasons)
        counts[level] += 1
        overdue += row[OVERDUE]
        buyer_side += row[OVERDUE_BUYER]
        seller_side += row[OVERDUE_SELLER]
        projected_bd = metrics._projected_bd(row[TOTAL], row[DUE_TERM], row[START_TERM], today_bd)
        if projected_bd is None:
            projected_bd = row[SIGNATURE_BD]
        if projected_bd is None:
            projected = row[TARGET]
        else:
            projected = dates.get(projected_bd)
            if projected is None:
                projected = dates[projected_bd] = business_day_date(projected_bd)
        amount, currency, close = row[AMOUNT], row[CURRENCY], row[CLOSE]
        for day, first in ((close, 0), (projected, 2)):
            month = months_of.get(day)
            if month is None:
                month = months_of[day] = day.replace(day=1)
            counted = totals.get((month, currency))
            if counted is None:
                counted = totals[month, currency] = [0, Decimal(0), 0, Decimal(0)]
            counted[first] += 1
            counted[first + 1] += amount
        if projected > close:
            at_risk += 1
            amount_at_risk.add(currency, amount)
        # forecast_check's order: the latest projection against the target first.
        forecast_keys.append((close - projected, -amount, index, row, projected))
    months: dict[date, ForecastMonth] = {}
    for (month, currency), (committed_count, committed, projected_count, projected) in sorted(
        totals.items()
    ):
        item = months.setdefault(month, ForecastMonth(month))
        item.committed_count += committed_count
        item.projected_count += projected_count
        if committed_count:
            item.committed.add(currency, committed)
        if projected_count:
            item.projected.add(currency, projected)

    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key, sort = "health", "health"
    descending = (key in metrics.HEALTH_DEFAULT_DESC) != sort.startswith("-")
    # heapq's nsmallest and nlargest equal sorted(…)[:n], ties in the same order.
    pick = heapq.nlargest if descending else heapq.nsmallest
    shown_health = pick(health_limit, rows, key=SORT_KEYS[key])
    shown_forecast = heapq.nsmallest(forecast_limit, forecast_keys, key=lambda item: item[:3])
    deals = _deals({row[PK] for row in shown_health} | {i[3][PK] for i in shown_forecast}, scope)
    since = scope.now - timedelta(days=RECENT_DAYS)
    health_rows = []
    for row in shown_health:
        deal, status, signed, target, visit = deals[row[PK]]
        health_rows.append(
            classify_health(
                HealthRow(
                    deal=deal,
                    plan_status=status,
                    signed=signed,
                    target_signature=target,
                    overdue=row[OVERDUE],
                    overdue_buyer=row[OVERDUE_BUYER],
                    late_close=row[LATE],
                    missing_buyer_owner=row[MISSING] or 0,
                    undated=row[UNDATED] or 0,
                    recent_changes=row[CHANGES] or 0,
                    last_buyer_visit=visit,
                ),
                today=today,
                since=since,
            )
        )
    forecast_rows = [
        ForecastRow(deals[row[PK]][0], projected, row[REMAINING] or 0)
        for *_keys, row, projected in shown_forecast
    ]
    health = HealthPage(counts=counts, total=len(rows), rows=health_rows)
    forecast = ForecastPage(
        months=[months.get(m) or ForecastMonth(m) for m in metrics._months(months)],
        total=len(rows),
        at_risk_count=at_risk,
        amount_at_risk=amount_at_risk,
        rows=forecast_rows,
    )
    return health, forecast, (buyer_side, seller_side, overdue)


def _deals(plan_ids: set[int], scope: Scope) -> dict[int, tuple]:
    """plan id → (DealInfo, plan status, signed, target signature date, last buyer visit)
    for the rows shown (one query)."""
    items = (
        Plan.objects.filter(pk__in=plan_ids, organization=scope.organization)
        .annotate(
            signed=Case(When(signed_map_q(), then=Value(True)), default=Value(False)),
            owner_name=_owner_name(),
        )
        .values_list(
            "pk",
            "deal__public_id",
            "deal__account_name",
            "deal__name",
            "owner_name",
            "deal__amount",
            "deal__currency",
            "deal__stage",
            "deal__target_close_date",
            "status",
            "signed",
            "target_signature_date",
            "dashboard_summary__last_buyer_visit",
        )
        .order_by()
    )
    return {
        plan: (
            DealInfo(plan, deal, account, name, owner, amount, currency, stage, close),
            status,
            signed,
            target,
            visit,
        )
        for plan, deal, account, name, owner, amount, currency, stage, close, status, signed,
            target, visit in items
    }  # fmt: skip


# The overdue groups of the live plans (buyer owner, seller owner's name, account, steps,
# oldest due date), kept per plan by the summaries' refresh (plans.models.OverdueGroup).
OVERDUE_GROUPS = """
    SELECT groups.buyer_owner_id, groups.seller_name, live.account, groups.steps AS n,
           groups.oldest_due AS oldest
    FROM plans_overduegroup groups
    JOIN ({live}) live ON live.pk = groups.plan_id
    WHERE groups.organization_id = %s
"""

OWNERS_SQL = """
WITH groups AS ({groups}),
buyers AS (
    SELECT groups.buyer_owner_id AS owner_id, groups.account,
           SUM(groups.n) AS n, MIN(groups.oldest) AS oldest
    FROM groups
    GROUP BY groups.buyer_owner_id, groups.account
),
sellers AS (
    SELECT groups.seller_name AS owner, SUM(groups.n) AS n, MIN(groups.oldest) AS oldest
    FROM groups
    GROUP BY groups.seller_name
),
-- A buyer row can only be among the first rows if fewer than `limit` buyer rows have more
-- overdue steps, or as many and an older one: only those are named.
candidates AS (
    SELECT 'buyer' AS side,
           COALESCE((SELECT person.name FROM stakeholders_stakeholder person
                     WHERE person.id = placed.owner_id), '') AS owner,
           placed.account, placed.n, placed.oldest
    FROM (
        SELECT buyers.*, RANK() OVER (ORDER BY buyers.n DESC, buyers.oldest) AS place
        FROM buyers
    ) placed
    WHERE placed.place <= %s
    UNION ALL
    SELECT 'seller', sellers.owner, '', sellers.n, sellers.oldest
    FROM sellers
)
SELECT ranked.side, ranked.label, ranked.account, ranked.n, ranked.oldest,
       (SELECT COUNT(*) FROM buyers) + (SELECT COUNT(*) FROM sellers)
FROM (
    SELECT side, CASE WHEN owner = '' THEN 'No owner' ELSE owner END AS label, account, n,
           oldest
    FROM candidates
) ranked
ORDER BY ranked.n DESC, ranked.oldest, ranked.side, ranked.label {collate},
         ranked.account {collate}
LIMIT %s
"""


def overdue_owners(scope: Scope, *, limit: int, totals: tuple[int, int, int]) -> OverduePage:
    """The overdue panel: `totals` (buyer side, seller side, all, from the plan rows) and the
    first `limit` rows of overdue_by_owner's table, ranked in the database from the live
    plans' overdue groups kept by the summaries (one query, reading no step and naming only
    the buyer owners who can be shown: the groups keep their seller owner's name; the
    summaries were brought to today by the refresh)."""
    live = (
        scope.live_plans.annotate(account=F("deal__account_name"))
        .values_list("pk", "account")
        .order_by()
    )
    live_sql, params = live.query.sql_with_params()
    sql = OVERDUE_GROUPS.format(live=live_sql)
    # Python compares names by code point: so does PostgreSQL's "C" collation (SQLite's
    # default compares bytes, the same order).
    collate = 'COLLATE "C"' if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            OWNERS_SQL.format(groups=sql, collate=collate),
            [*params, scope.organization.pk, limit, limit],
        )
        ranked = cursor.fetchall()
    rows = []
    for side, owner, account, n, oldest, _owners in ranked:
        oldest = metrics._parse_date(oldest)
        rows.append(metrics.OwnerRow(side, owner, account, n, oldest, (scope.today - oldest).days))
    owners = ranked[0][5] if ranked else 0
    buyer_side, seller_side, total = totals
    return OverduePage(
        buyer_side=buyer_side, seller_side=seller_side, total=total, owners=owners, rows=rows
    )


@dataclass
class PageResults:
    """Every figure the page shows for one scope and health-table sort (what
    plans.dashboard_cache keeps)."""

    by_stage: list[metrics.PipelineRow]
    by_month: list[metrics.PipelineRow]
    coverage: metrics.Coverage
    health: HealthPage
    forecast: ForecastPage
    slips: metrics.SlipSummary
    reasons: list[metrics.ReasonRow]
    durations: list[metrics.StepDurationRow]
    overdue: OverduePage
    outcomes: list[metrics.OutcomeRow]
    computed_at: datetime


def compute(
    scope: Scope, *, sort: str, health_limit: int, forecast_limit: int, owner_limit: int
) -> PageResults:
    """The page's figures, in one transaction (see dashboard.analytics). The summaries are
    brought up to date first, each table in a short transaction of its own, so that writers
    of the same plans never wait for the whole page."""
    metrics.refresh_summaries(scope)
    with metrics.analytics():
        health, forecast, totals = health_and_forecast(
            scope, sort=sort, health_limit=health_limit, forecast_limit=forecast_limit
        )
        return PageResults(
            by_stage=metrics.pipeline_by_stage(scope),
            by_month=metrics.pipeline_by_month(scope),
            coverage=metrics.map_coverage(scope),
            health=health,
            forecast=forecast,
            slips=metrics.slip_summary(scope),
            reasons=metrics.slip_reasons(scope),
            durations=metrics.step_durations(scope),
            overdue=overdue_owners(scope, limit=owner_limit, totals=totals),
            outcomes=metrics.outcomes(scope),
            computed_at=scope.now,
        )
