"""What the dashboard page shows of the per-deal metrics — MAP health, the forecast check and
overdue steps by owner — computed set-based: the counts, totals and monthly figures over
every live plan, and only the first rows of each table as full rows.

The metrics' definitions and their full tables (the CSV exports) are plans.dashboard's
`map_health`, `forecast_check` and `overdue_by_owner`; this module gives the same figures
and the same first rows (tests/plans/test_dashboard_summaries.py compares them) without a
row per deal leaving the database: one query classifies and projects every live plan from
its summary, adds them up and returns the first rows of the health and forecast tables
(PLANS_CTE, PAGE_SQL); a second ranks the owners (OWNERS_SQL).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Coalesce, NullIf

from plans.models import Plan

from . import history, metrics
from .base import EPOCH, MANY_OVERDUE, RECENT_DAYS, business_day_number
from .metrics import (
    LEVELS,
    Amounts,
    DealInfo,
    ForecastMonth,
    ForecastRow,
    HealthRow,
    Scope,
    classify_health,
    signed_map_q,
)


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
    rows: list[history.OwnerRow]  # the first rows


def _owner_name():
    # DealInfo.owner: the owner's full name, or their email when it is blank.
    return Coalesce(
        NullIf("deal__owner__full_name", Value("")),
        "deal__owner__email",
        output_field=CharField(),
    )


def _live(scope: Scope):
    """The live plans' columns the panels read, one row per plan (the CTE "live" of
    PLANS_SQL): the deal's, the plan's, its summary's (plans.dashboard.summaries: path
    components, incomplete steps, date changes of the last 14 days, overdue steps counted as
    of today by the refresh), and the two health rules that compare with the clock:
    `past_target` (unsigned past its target signature date) and `unvisited` (shared, and no
    buyer visit in the last 14 days)."""
    since = scope.now - timedelta(days=RECENT_DAYS)
    visit = "dashboard_summary__last_buyer_visit"

    def one(condition: Q) -> Case:
        return Case(When(condition, then=Value(1)), default=Value(0))

    summary = {
        name: F(f"dashboard_summary__{field}")
        for name, field in {
            "path_total": "path_total",
            "due_term": "due_term",
            "start_term": "start_term",
            "signature_bd": "signature_bd",
            "remaining": "remaining",
            "missing": "missing_buyer_owner",
            "undated": "undated",
            "visit": "last_buyer_visit",
            "changes": "recent_changes",
            "overdue": "overdue",
            "overdue_buyer": "overdue_buyer",
            "overdue_seller": "overdue_seller",
            "late": "late_close",
        }.items()
    }
    columns = {
        "plan_pk": F("pk"),
        "deal_uuid": F("deal__public_id"),
        "account": F("deal__account_name"),
        "deal_name": F("deal__name"),
        "owner": _owner_name(),
        "amount": F("deal__amount"),
        "currency": F("deal__currency"),
        "stage": F("deal__stage"),
        "close": F("deal__target_close_date"),
        "plan_status": F("status"),
        "target": F("target_signature_date"),
        "signed": one(signed_map_q()),
        "past_target": one(~signed_map_q() & Q(target_signature_date__lt=scope.today)),
        "unvisited": one(
            ~Q(status=Plan.Status.DRAFT) & (Q(**{visit: None}) | Q(**{f"{visit}__lt": since}))
        ),
        **summary,
    }
    return scope.live_plans.annotate(**columns).values(*columns).order_by()


# The vendors' SQL for a date from a business-day number (dashboard_base.business_day_date), the
# first day of a date's month, and the days from one date to another.
VENDOR_SQL = {
    "postgresql": {
        "bd_date": f"(DATE '{EPOCH.isoformat()}' + ({{n}} / 5 * 7 + MOD({{n}}, 5)))",
        "month": "({day} + 1 - CAST(EXTRACT(DAY FROM {day}) AS integer))",
        "days": "({later} - {earlier})",
        # Python compares lowered names by code point: so does the "C" collation. LOWER
        # lowers as str.lower does but for the few letters Python lowers to two characters
        # ("İ"): such names can sort a place apart from the CSV (test_dashboard_page_edges).
        "lower": 'LOWER({text}) COLLATE "C"',
    },
    "sqlite": {
        "bd_date": f"date('{EPOCH.isoformat()}', ({{n}} / 5 * 7 + MOD({{n}}, 5)) || ' days')",
        "month": "date({day}, 'start of month')",
        "days": "(julianday({later}) - julianday({earlier}))",
        # SQLite's LOWER() lowers ASCII only: str.lower (see PlansConfig.ready).
        "lower": "tandem_lower({text})",
    },
}

# Each live plan (the CTE "live", from _live) with its health level and number of reasons
# (the rules of dashboard.map_health: `off` counts the reasons to be off track, `risk` those
# to be at risk) and its projected signature date (dashboard.forecast_check: the path's
# projection from its components and today's business-day number, the first parameter;
# else the signature step's due date; else the target signature date).
PLANS_CTE = """
WITH live AS ({live}),
counted AS (
    SELECT live.*,
           live.past_target
               + CASE WHEN live.late > 0 THEN 1 ELSE 0 END
               + CASE WHEN live.overdue >= {many} THEN 1 ELSE 0 END AS off,
           CASE WHEN live.overdue > 0 AND live.overdue < {many} THEN 1 ELSE 0 END
               + CASE WHEN live.changes > 0 THEN 1 ELSE 0 END
               + CASE WHEN live.missing > 0 THEN 1 ELSE 0 END
               + CASE WHEN live.undated > 0 THEN 1 ELSE 0 END
               + live.unvisited AS risk,
           CASE WHEN live.start_term IS NULL THEN live.signature_bd
                ELSE live.path_total + CASE WHEN live.due_term > %s + live.start_term
                                            THEN live.due_term
                                            ELSE %s + live.start_term END
           END AS projected_bd
    FROM live
),
plans AS (
    SELECT counted.*,
           CASE WHEN counted.off > 0 THEN 2 WHEN counted.risk > 0 THEN 1 ELSE 0 END AS level,
           counted.off + counted.risk AS reasons,
           CASE WHEN counted.projected_bd IS NULL THEN counted.target
                ELSE {bd_date} END AS projected
    FROM counted
)
"""

# The first rows of the health table and of the forecast table, each with its place, then
# the figures over every live plan: plans and overdue steps per level, committed amounts per
# target close month and currency, projected amounts per projected month and currency, and
# the forecast risks (projected after the target close date) per currency. One row shape:
# the columns a kind of row does not use are NULL.
PAGE_SQL = """
SELECT 'health' AS kind, {row}, ROW_NUMBER() OVER (ORDER BY {health_order}) AS n
FROM (SELECT * FROM plans ORDER BY {health_order} LIMIT %s) plans
UNION ALL
SELECT 'forecast', {row}, ROW_NUMBER() OVER (ORDER BY {forecast_order})
FROM (SELECT * FROM plans ORDER BY {forecast_order} LIMIT %s) plans
UNION ALL
SELECT 'level', {empty}, plans.level, NULL, NULL, NULL, NULL,
       SUM(plans.overdue), SUM(plans.overdue_buyer), SUM(plans.overdue_seller), NULL, COUNT(*)
FROM plans GROUP BY plans.level
UNION ALL
SELECT 'committed', {empty}, NULL, SUM(plans.amount), plans.currency, NULL, {close_month},
       NULL, NULL, NULL, NULL, COUNT(*)
FROM plans GROUP BY {close_month}, plans.currency
UNION ALL
SELECT 'projected', {empty}, NULL, SUM(plans.amount), plans.currency, NULL, {projected_month},
       NULL, NULL, NULL, NULL, COUNT(*)
FROM plans GROUP BY {projected_month}, plans.currency
UNION ALL
SELECT 'risk', {empty}, NULL, SUM(plans.amount), plans.currency, NULL, NULL,
       NULL, NULL, NULL, NULL, COUNT(*)
FROM plans WHERE plans.projected > plans.close GROUP BY plans.currency
"""
# The plan columns of a row, by position after `kind` (the last column, n, is the place of
# a table row or the count of an aggregate row).
ROW_COLUMNS = (
    "plan_pk", "deal_uuid", "account", "deal_name", "owner", "stage", "plan_status", "signed",
    "target", "visit", "missing", "undated", "changes", "remaining", "projected",
    "level", "amount", "currency", "reasons", "close",
    "overdue", "overdue_buyer", "overdue_seller", "late",
)  # fmt: skip
(
    PK, DEAL, ACCOUNT, NAME, OWNER, STAGE, STATUS, SIGNED, TARGET, VISIT, MISSING, UNDATED,
    CHANGES, REMAINING, PROJECTED, LEVEL, AMOUNT, CURRENCY, REASONS, DAY, OVERDUE,
    OVERDUE_BUYER, OVERDUE_SELLER, LATE, N,
) = range(1, len(ROW_COLUMNS) + 2)  # fmt: skip
LEVEL_NAMES = {rank: level for level, rank in LEVELS.items()}

# The health table's sorts (dashboard.HEALTH_SORTS) in SQL, each key in its order; rows
# that sort equal keep plan order, as Python's stable sort keeps them.
HEALTH_ORDER = {
    "health": ["plans.level", "plans.reasons", "plans.amount"],
    "deal": ["{lower_account}", "{lower_name}"],
    "owner": ["{lower_owner}"],
    "amount": ["plans.amount"],
    "close": ["plans.close"],
    "overdue": ["COALESCE(plans.overdue, 0)", "COALESCE(plans.late, 0)"],
    "changes": ["COALESCE(plans.changes, 0)"],
    # No visit sorts as the oldest (HEALTH_SORTS: timestamp 0).
    "visit": ["CASE WHEN plans.visit IS NULL THEN 0 ELSE 1 END", "plans.visit"],
}
assert set(HEALTH_ORDER) == set(metrics.HEALTH_SORTS)  # noqa: S101 (kept in step)


def _page_sql(scope: Scope, sort: str) -> tuple[str, list]:
    """PAGE_SQL over PLANS_CTE for this scope and health-table sort, and its parameters
    but the two row limits."""
    vendor = VENDOR_SQL[connection.vendor]
    key = sort.lstrip("-")
    if key not in HEALTH_ORDER:
        key, sort = "health", "health"
    descending = (key in metrics.HEALTH_DEFAULT_DESC) != sort.startswith("-")
    lowered = {
        f"lower_{column}": vendor["lower"].format(text=f"plans.{column}")
        for column in ("account", "name", "owner")
    }
    lowered["lower_name"] = vendor["lower"].format(text="plans.deal_name")
    health_order = ", ".join(
        [f"{term.format(**lowered)}{' DESC' if descending else ''}" for term in HEALTH_ORDER[key]]
        + ["plans.plan_pk"]
    )
    # forecast_check's order: the latest projection against the target first, then the
    # largest amount.
    gap = vendor["days"].format(later="plans.close", earlier="plans.projected")
    forecast_order = f"{gap}, plans.amount DESC, plans.plan_pk"
    live_sql, params = _live(scope).query.sql_with_params()
    sql = PLANS_CTE.format(
        live=live_sql, many=MANY_OVERDUE, bd_date=vendor["bd_date"].format(n="counted.projected_bd")
    ) + PAGE_SQL.format(
        row=", ".join(f"plans.{column}" for column in ROW_COLUMNS),
        empty=", ".join(["NULL"] * (ROW_COLUMNS.index("level"))),
        health_order=health_order,
        forecast_order=forecast_order,
        close_month=vendor["month"].format(day="plans.close"),
        projected_month=vendor["month"].format(day="plans.projected"),
    )
    today_bd = business_day_number(scope.today)
    return sql, [*params, today_bd, today_bd]


def _read(row: tuple) -> tuple:
    """A row of PAGE_SQL in Python types (SQLite returns text dates, numbers for decimals,
    hex text for UUIDs)."""
    if connection.vendor != "sqlite":
        return row
    row = list(row)
    for index in (TARGET, PROJECTED, DAY):
        row[index] = metrics._parse_date(row[index])
    if row[AMOUNT] is not None:
        row[AMOUNT] = Decimal(str(row[AMOUNT])).quantize(Decimal("0.01"))
    if row[DEAL] is not None:
        row[DEAL] = uuid.UUID(row[DEAL])
    if isinstance(row[VISIT], str):  # UTC, naive (or parsed by the column's declared type)
        row[VISIT] = datetime.fromisoformat(row[VISIT])
    if row[VISIT] is not None and row[VISIT].tzinfo is None:
        row[VISIT] = row[VISIT].replace(tzinfo=UTC)
    return tuple(row)


def health_and_forecast(
    scope: Scope, *, sort: str, health_limit: int, forecast_limit: int
) -> tuple[HealthPage, ForecastPage, tuple[int, int, int]]:
    """The MAP health panel (counts by level, the first `health_limit` rows in the order
    `sort` asks, see dashboard.sort_health), the forecast panel (monthly committed and
    projected amounts, deals at risk, the first `forecast_limit` rows) and the overdue
    totals (buyer side, seller side, all). One query, after the summaries' refresh
    (dashboard.refresh_summaries): the database classifies and projects every live plan
    and adds them up; Python shapes the few rows it returns."""
    metrics.refresh_summaries(scope)
    sql, params = _page_sql(scope, sort)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, health_limit, forecast_limit])
        rows = [_read(row) for row in cursor.fetchall()]
    today, since = scope.today, scope.now - timedelta(days=RECENT_DAYS)
    counts = dict.fromkeys(LEVELS, 0)
    buyer_side = seller_side = overdue = 0
    health_rows, forecast_rows = [], []
    months: dict[date, ForecastMonth] = {}
    at_risk, amount_at_risk = 0, Amounts()
    for row in rows:
        kind = row[0]
        if kind in ("health", "forecast"):
            deal = DealInfo(
                row[PK], row[DEAL], row[ACCOUNT], row[NAME], row[OWNER], row[AMOUNT],
                row[CURRENCY], row[STAGE], row[DAY],
            )  # fmt: skip
            if kind == "health":
                health_rows.append((row[N], _health_row(deal, row, today=today, since=since)))
            else:
                forecast_rows.append((row[N], ForecastRow(deal, row[PROJECTED], row[REMAINING])))
        elif kind == "level":
            counts[LEVEL_NAMES[row[LEVEL]]] = row[N]
            overdue += row[OVERDUE] or 0
            buyer_side += row[OVERDUE_BUYER] or 0
            seller_side += row[OVERDUE_SELLER] or 0
        elif kind == "risk":
            at_risk += row[N]
            amount_at_risk.add(row[CURRENCY], row[AMOUNT])
        else:  # committed or projected, per month and currency
            month = months.setdefault(row[DAY], ForecastMonth(row[DAY]))
            if kind == "committed":
                month.committed_count += row[N]
                month.committed.add(row[CURRENCY], row[AMOUNT])
            else:
                month.projected_count += row[N]
                month.projected.add(row[CURRENCY], row[AMOUNT])
    total = sum(counts.values())
    health = HealthPage(counts=counts, total=total, rows=[r for _n, r in sorted(health_rows)])
    forecast = ForecastPage(
        months=[months.get(m) or ForecastMonth(m) for m in metrics._months(months)],
        total=total,
        at_risk_count=at_risk,
        amount_at_risk=amount_at_risk,
        rows=[r for _n, r in sorted(forecast_rows, key=lambda item: item[0])],
    )
    return health, forecast, (buyer_side, seller_side, overdue)


def _health_row(deal: DealInfo, row: tuple, *, today: date, since: datetime) -> HealthRow:
    """A health table row, its level and reasons written out by dashboard.classify_health
    (the rules the SQL counted)."""
    return classify_health(
        HealthRow(
            deal=deal,
            plan_status=row[STATUS],
            signed=bool(row[SIGNED]),
            target_signature=row[TARGET],
            overdue=row[OVERDUE] or 0,
            overdue_buyer=row[OVERDUE_BUYER] or 0,
            late_close=row[LATE] or 0,
            missing_buyer_owner=row[MISSING] or 0,
            undated=row[UNDATED] or 0,
            recent_changes=row[CHANGES] or 0,
            last_buyer_visit=row[VISIT],
        ),
        today=today,
        since=since,
    )


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
        rows.append(history.OwnerRow(side, owner, account, n, oldest, (scope.today - oldest).days))
    owners = ranked[0][5] if ranked else 0
    buyer_side, seller_side, total = totals
    return OverduePage(
        buyer_side=buyer_side, seller_side=seller_side, total=total, owners=owners, rows=rows
    )


@dataclass
class PageResults:
    """Every figure the page shows for one scope and health-table sort."""

    by_stage: list[metrics.PipelineRow]
    by_month: list[metrics.PipelineRow]
    coverage: metrics.Coverage
    health: HealthPage
    forecast: ForecastPage
    slips: history.SlipSummary
    reasons: list[history.ReasonRow]
    durations: list[history.StepDurationRow]
    overdue: OverduePage
    outcomes: list[history.OutcomeRow]
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
            slips=history.slip_summary(scope),
            reasons=history.slip_reasons(scope),
            durations=history.step_durations(scope),
            overdue=overdue_owners(scope, limit=owner_limit, totals=totals),
            outcomes=history.outcomes(scope),
            computed_at=scope.now,
        )
