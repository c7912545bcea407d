"""What the dashboard's metrics (plans.dashboard.metrics) and its summaries (.summaries)
share: the day thresholds, the buyer-visit source and the calendar arithmetic in SQL. Both
import it; neither imports the other's internals for these.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import NotSupportedError
from django.db.models import Func, IntegerField, Max, QuerySet

from plans.models import Activity
from stakeholders.models import Side

# Thresholds shared with plans.health.plan_health.
RECENT_DAYS = 14  # "recent" date changes and buyer visits
LATE_DAYS = 7  # a close-plan step this many days overdue puts the plan off track
MANY_OVERDUE = 3  # this many overdue steps put the plan off track


def buyer_visits(plans: QuerySet) -> QuerySet:
    """Buyer-visit source: one row per plan, `plan_id` and `last_visit` (a datetime).

    For now a buyer visit is the plan's latest buyer-side Activity (side='buyer'), because
    buyer room visits do not exist yet; the lead will switch this to room visits. Its
    result is kept in PlanSummary.last_buyer_visit, recomputed when a trigger bumps the
    plan's row: a new source needs its own trigger in plans.dashboard.triggers.TRIGGERS
    (a new migration) so that a new visit marks the plan's row behind."""
    return (
        Activity.objects.filter(plan__in=plans, side=Side.BUYER)
        .values("plan_id")
        .annotate(last_visit=Max("created_at"))
        .order_by()
    )


# --- Calendar arithmetic in SQL ------------------------------------------------------

EPOCH = date(1970, 1, 5)  # a Monday


class DayNumber(Func):
    """Days from EPOCH to a date (or to a datetime's UTC date), as an integer, in SQL."""

    arity = 1
    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"(({sql})::date - DATE '{EPOCH.isoformat()}')", params
        if connection.vendor == "sqlite":
            return (
                f"CAST(julianday({sql}) - julianday('{EPOCH.isoformat()}') AS INTEGER)",
                params,
            )
        raise NotSupportedError(f"DayNumber is not implemented for {connection.vendor}.")


class BusinessDayNumber(DayNumber):
    """Business days (Monday–Friday) from EPOCH to a date, in SQL. A Saturday or Sunday
    counts as the following Monday. `business_day_date` turns the number back into a date."""

    def as_sql(self, compiler, connection, **extra_context):
        days, params = super().as_sql(compiler, connection, **extra_context)
        least = "LEAST" if connection.vendor == "postgresql" else "MIN"  # SQLite: scalar MIN
        return f"(({days}) / 7 * 5 + {least}(MOD({days}, 7), 5))", [*params, *params]


def business_day_number(day: date) -> int:
    days = (day - EPOCH).days
    return days // 7 * 5 + min(days % 7, 5)


def business_day_date(number: int) -> date:
    return EPOCH + timedelta(days=number // 5 * 7 + number % 5)
