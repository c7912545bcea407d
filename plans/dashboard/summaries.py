"""Figures the manager dashboard keeps per plan and per step title, so that a request after
a change recomputes only what the change touched (plans.models.PlanSummary, TitleSummary).

How they stay current, whatever writes the data:
- Database triggers (plans/dashboard/triggers.py; migrations 0007–0009 install frozen
  copies) bump a row's `stamp` on every insert, update or delete of a step (its plan's row,
  and its old and new title's row), of a date change (its step's plan's row, its old and
  new reason's row), of a buyer-side activity (its plan's row), on a plan's creation and on
  a stakeholder's rename (the rows of the plans whose steps they own on the seller side:
  their overdue groups keep the name); deleting a plan or a workspace deletes its rows.
  Triggers see every write: services, signals, QuerySet.update, bulk_create, COPY, Django's
  cascades and SET NULLs, raw SQL, the admin. On PostgreSQL they run once per statement,
  over its transition tables; on SQLite once per row.
- Before reading, the dashboard recomputes every row whose `computed` differs from its
  `stamp` (and title rows computed in another time zone than the workspace's), in one
  statement per table, from the steps themselves. The statement stores the stamp it read in
  the same snapshot as the steps, and only overwrites a row whose stamp has not moved since
  (`… WHERE stamp = <the stamp read>`): a write that commits while the dashboard computes
  leaves the row behind, and the next request recomputes it. A plan's overdue groups
  (OverdueGroup) are replaced with its row, under the same condition; a plan deleted
  meanwhile keeps neither.

Only the overdue steps depend on the date: a plan's row keeps them as of one day
(`overdue_on`, the workspace's today when it was computed) with the dates on which they
next change (its next open step to fall due, its next close-plan step to become late), and
is behind once today reaches one of those: the first refresh of a day recomputes the plans
whose steps fell due or late overnight, later ones only the plans that changed. In
production that is the beat task `plans.refresh_dashboard_summaries`, which runs every 15
minutes and so at each workspace's midnight, usually before its day's first request;
without a beat (`make run`), that request. The projection's "not before today" is applied
when the page is read, from the path's components.
"""

# The SQL below is put together from this module's constants and table names, never from
# input: S608 (string-built SQL) does not apply.
# ruff: noqa: S608

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL, RowRange
from django.db.models.functions import Greatest, Lower, Trim, TruncDate
from django.utils import timezone

from deals.models import Organization
from plans.models import (
    DueDateChange,
    Milestone,
    Phase,
    Plan,
    PlanSummary,
    ReasonSummary,
    TitleSummary,
)

from .base import (
    LATE_DAYS,
    RECENT_DAYS,
    BusinessDayNumber,
    DayNumber,
    buyer_visits,
)

OPEN_STEP = ~Q(status__in=Milestone.CLOSED_STATUSES)
PATH_STEPS = Q(phase=Phase.CLOSE) & (OPEN_STEP | Q(is_signature_step=True))

log = logging.getLogger(__name__)

PLANS_SQL = """
UPDATE plans_plansummary SET
    organization_id = fresh.organization_id,
    computed = fresh.computed,
    path_total = fresh.path_total,
    due_term = fresh.due_term,
    start_term = fresh.start_term,
    signature_bd = fresh.signature_bd,
    remaining = fresh.remaining,
    missing_buyer_owner = fresh.missing_buyer_owner,
    undated = fresh.undated,
    last_buyer_visit = fresh.last_buyer_visit,
    recent_changes = fresh.recent_changes,
    recent_oldest = fresh.recent_oldest,
    overdue_on = fresh.overdue_on,
    next_due = fresh.next_due,
    next_late = fresh.next_late,
    overdue = fresh.overdue,
    overdue_buyer = fresh.overdue_buyer,
    overdue_seller = fresh.overdue_seller,
    late_close = fresh.late_close
FROM (
    SELECT dirty.id, dirty.organization_id, dirty.seen, dirty.seen AS computed,
           path.total AS path_total, path.due_term, path.start_term, path.signature_bd,
           COALESCE(path.remaining, 0) AS remaining,
           COALESCE(counts.missing, 0) AS missing_buyer_owner,
           COALESCE(counts.undated, 0) AS undated, visits.last_visit AS last_buyer_visit,
           COALESCE(recent.n, 0) AS recent_changes, recent.oldest AS recent_oldest,
           %s AS overdue_on, counts.next_due, counts.next_late,
           COALESCE(overdue.n, 0) AS overdue, COALESCE(overdue.buyer_n, 0) AS overdue_buyer,
           COALESCE(overdue.seller_n, 0) AS overdue_seller,
           COALESCE(overdue.late, 0) AS late_close
    FROM dirty
    {locked}
    LEFT JOIN (
        SELECT chain.plan_id,
               SUM(chain.is_open * chain.duration_days) AS total,
               MAX(CASE WHEN chain.is_open = 1 AND chain.due_bd IS NOT NULL
                        THEN chain.due_bd - chain.through END) AS due_term,
               MAX(CASE WHEN chain.is_open = 1 THEN chain.start_offset - chain.through END)
                   AS start_term,
               MAX(chain.signature_bd) AS signature_bd,
               SUM(chain.is_open) AS remaining
        FROM ({steps}) chain
        WHERE chain.signature_position IS NULL OR chain.position <= chain.signature_position
        GROUP BY chain.plan_id
    ) path ON path.plan_id = dirty.id
    LEFT JOIN ({counts}) counts ON counts.plan_id = dirty.id
    LEFT JOIN ({visits}) visits ON visits.plan_id = dirty.id
    LEFT JOIN ({recent}) recent ON recent.plan_id = dirty.id
    LEFT JOIN (
        SELECT groups.plan_id, SUM(groups.n) AS n,
               SUM(CASE WHEN groups.buyer_owner_id IS NOT NULL THEN groups.n ELSE 0 END)
                   AS buyer_n,
               SUM(CASE WHEN groups.seller_owner_id IS NOT NULL THEN groups.n ELSE 0 END)
                   AS seller_n,
               SUM(groups.late) AS late
        FROM groups
        GROUP BY groups.plan_id
    ) overdue ON overdue.plan_id = dirty.id
) fresh
WHERE plans_plansummary.plan_id = fresh.id AND plans_plansummary.stamp = fresh.seen"""

# The OverdueGroup rows of the plans whose summary `{written}` names, from the CTE "groups",
# with their seller owner's name.
GROUPS_SQL = """
INSERT INTO plans_overduegroup (
    plan_id, organization_id, buyer_owner_id, seller_name, steps, oldest_due
)
SELECT groups.plan_id, groups.organization_id, groups.buyer_owner_id,
       COALESCE(person.name, ''), groups.n, groups.oldest
FROM groups
LEFT JOIN stakeholders_stakeholder person ON person.id = groups.seller_owner_id
WHERE {written}"""

# refresh_plans's statements, each with the parts whose parameters it takes, in order
# ("summary": PLANS_SQL's own).
# PostgreSQL: one statement, so that the overdue groups are written from the same snapshot
# as the summary rows and only for the rows the compare-and-set let through (RETURNING).
# All its parts see the tables as they were: "cleared" deletes the plans' previous groups,
# not the ones the last part inserts. Two refreshes of a workspace never run at once (see
# refresh_plans): the second would not see the groups the first one inserted, and keep them.
REFRESH_PLANS_SQL = {
    "postgresql": [
        (
            "WITH dirty AS ({dirty}), groups AS ({groups}), "
            # The rows behind, locked in plan order (as the triggers lock them: two
            # transactions never wait for each other's rows); a row deleted meanwhile (its
            # plan deleted) is skipped, and one whose stamp moved fails the UPDATE's check.
            "locked AS (SELECT plans_plansummary.plan_id FROM plans_plansummary "
            "WHERE plans_plansummary.plan_id IN (SELECT dirty.id FROM dirty) "
            "ORDER BY plans_plansummary.plan_id FOR UPDATE), "
            "written AS ("
            + PLANS_SQL.replace("{locked}", "JOIN locked ON locked.plan_id = dirty.id")
            + " RETURNING plans_plansummary.plan_id), "
            "cleared AS (DELETE FROM plans_overduegroup "
            "WHERE plan_id IN (SELECT written.plan_id FROM written))"
            + GROUPS_SQL.replace("{written}", "groups.plan_id IN (SELECT plan_id FROM written)"),
            ("dirty", "groups", "summary"),
        )
    ],
    # SQLite: a writing transaction holds the database's write lock from its first write,
    # so nothing moves the stamps between these statements and the compare-and-set passes
    # for every plan behind: the groups are replaced first, while the summary rows still
    # say which plans are behind.
    "sqlite": [
        (
            "WITH dirty AS ({dirty}) "
            "DELETE FROM plans_overduegroup WHERE plan_id IN (SELECT dirty.id FROM dirty)",
            ("dirty",),
        ),
        (
            "WITH dirty AS ({dirty}), groups AS ({groups})"
            + GROUPS_SQL.replace("{written}", "1 = 1"),
            ("dirty", "groups"),
        ),
        (
            "WITH dirty AS ({dirty}), groups AS ({groups})" + PLANS_SQL.replace("{locked}", ""),
            ("dirty", "groups", "summary"),
        ),
    ],
}

# --- Recomputing the rows that are behind ------------------------------------------------


def _in_dirty(column: str, key: str) -> RawSQL:
    """A condition: `column` (SQL) is one of the `key` values of the rows to recompute (the
    CTE "dirty"). On PostgreSQL, `= ANY(ARRAY(…))`: the planner cannot estimate how few rows
    are behind and, given `IN (SELECT …)`, may scan every step of the workspace; an array
    parameter makes it read the few matching rows through the index."""
    # `column` and `key` are constants of this module, never input.
    if connection.vendor == "postgresql":
        sql = f"{column} = ANY(ARRAY(SELECT dirty.{key} FROM dirty))"
    else:
        sql = f"{column} IN (SELECT dirty.{key} FROM dirty)"
    return RawSQL(sql, [], output_field=BooleanField())  # noqa: S611


@contextmanager
def _refreshing() -> Iterator[None]:
    """A refresh's transaction on PostgreSQL: JIT off (the planner cannot know how few rows
    are behind, and its estimate for a whole workspace would have it compile the statement
    for ~0.6 s first), and no wait for the WAL flush at commit: these rows are derived, and
    a refresh lost in a crash leaves them behind, to be recomputed. Inside the dashboard's
    own transaction (dashboard.analytics), the statement runs in it."""
    if connection.vendor != "postgresql" or getattr(connection, "_dashboard_analytics", False):
        yield
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL synchronous_commit = off")
        yield


def _sql(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def today_of(organization, now: datetime) -> date:
    """The workspace's date at `now` (its "today", as dashboard.Scope has it)."""
    return timezone.localtime(now, ZoneInfo(organization.time_zone)).date()


def _plans_behind(organization, *, now, today):
    """PlanSummary rows to recompute: `id` (the plan), `organization_id`, `seen` (the stamp
    read). Every plan has a row from its creation (the plan's insert trigger, or the
    migration for older plans). A row is behind when a write bumped its stamp, when its
    oldest recent date change left the window, or when its overdue steps, counted as of
    `overdue_on`, are not those of `today`: today is before that day (the workspace moved
    to another time zone), or an open step counted as not overdue then is overdue today
    (its due date `next_due` is before today), or a close-plan step counted as not late
    is late today (`next_late` before today less LATE_DAYS). Without a write, a plan is
    recomputed on the days its own steps fall due or late, not every day."""

    since = now - timedelta(days=RECENT_DAYS)
    other_day = (
        Q(overdue_on=None)
        | Q(overdue_on__gt=today)
        | Q(next_due__lt=today)
        | Q(next_late__lt=today - timedelta(LATE_DAYS))
    )
    return (
        PlanSummary.objects.filter(organization=organization)
        .filter(~Q(computed=F("stamp")) | Q(recent_oldest__lt=since) | other_day)
        .annotate(id=F("plan_id"), seen=F("stamp"))
        .values("id", "organization_id", "seen")
        .order_by()
    )


def _titles_behind(organization):
    return (
        TitleSummary.objects.filter(organization=organization)
        .exclude(computed=F("stamp"), time_zone=organization.time_zone)
        .annotate(seen=F("stamp"))
        .values("organization_id", "title", "seen")
        .order_by()
    )


def _reasons_behind(organization):
    return (
        ReasonSummary.objects.filter(organization=organization)
        .exclude(computed=F("stamp"))
        .annotate(seen=F("stamp"))
        .values("organization_id", "key", "seen")
        .order_by()
    )


def refresh(organization, *, now, titles_and_reasons: bool, today: date | None = None) -> None:
    """Bring up to date the summaries the dashboard is about to read: one query finds which
    tables have rows behind (usually none, or one plan and one title after a change), then
    one statement recomputes each of those tables (refresh_plans, refresh_titles,
    refresh_reasons). The title and reason rows serve the whole workspace only.

    Side effects: updates summary rows. Idempotent."""
    today = today or today_of(organization, now)
    checks = [_plans_behind(organization, now=now, today=today)]
    if titles_and_reasons:
        checks += [_titles_behind(organization), _reasons_behind(organization)]
    parts = [query[:1].query.sql_with_params() for query in checks]
    sql = "SELECT " + ", ".join(f"EXISTS({part})" for part, _params in parts)
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _part, params in parts for param in params])
        behind = cursor.fetchone()
    if behind[0]:
        refresh_plans(organization, now=now, today=today)
    if titles_and_reasons and behind[1]:
        refresh_titles(organization)
    if titles_and_reasons and behind[2]:
        refresh_reasons(organization)


def refresh_every_workspace(*, now: datetime) -> tuple[int, int]:
    """Bring every workspace's summaries up to date as of `now` (each at its own date, in
    its own time zone), as its dashboard's next request would: the beat task
    `plans.refresh_dashboard_summaries` does the day's recount here, so that the first
    request of a workspace's day finds nothing behind. A workspace with nothing behind
    costs one query. A workspace that fails is logged and skipped. Returns (workspaces,
    failures).

    Side effects: updates summary rows. Idempotent, and safe beside requests and another
    run: each row is written only if its stamp has not moved since it was read."""

    # Cross-organization on purpose: this is the beat's refresh of every workspace.
    organizations = list(Organization.objects.order_by("pk").only("pk", "time_zone"))
    failures = 0
    for organization in organizations:
        # Outside a transaction, each statement commits on its own, as in a request (one
        # transaction per workspace would hold the plans' row locks through the titles'
        # and reasons' statements). Inside the caller's transaction, a savepoint: a
        # database error then undoes this workspace's work only, and the others go on.
        atomic = transaction.atomic() if connection.in_atomic_block else nullcontext()
        try:
            with atomic:
                refresh(organization, now=now, titles_and_reasons=True)
        except Exception:
            failures += 1
            log.exception("dashboard summaries: could not refresh workspace %s", organization.pk)
    return len(organizations), failures


def refresh_plans(organization, *, now, today: date | None = None) -> None:
    """Recompute the PlanSummary rows of `organization` that are behind their stamp, whose
    oldest recent date change left the RECENT_DAYS before `now`, or whose overdue steps were
    counted on another day than `today` (the workspace's date at `now` unless given), and
    their plans' OverdueGroup rows, in one statement (three on SQLite). On PostgreSQL,
    refreshes of one workspace take turns (a transaction-level advisory lock).

    Side effects: inserts or updates PlanSummary rows, replaces OverdueGroup rows.
    Idempotent."""

    today = today or today_of(organization, now)
    since = now - timedelta(days=RECENT_DAYS)
    dirty = _plans_behind(organization, now=now, today=today)
    steps_of_dirty = _in_dirty('"plans_milestone"."plan_id"', "id")
    signature = Q(is_signature_step=True) & ~Q(status=Milestone.Status.CANCELLED)
    is_open = Case(When(OPEN_STEP, then=Value(1)), default=Value(0))
    by_position = {"partition_by": [F("plan_id")], "order_by": [F("position"), F("id")]}
    steps = (
        Milestone.objects.filter(steps_of_dirty)
        # The condition of the index milestone_path_idx, which holds these rows in order.
        .filter(PATH_STEPS)
        .annotate(
            is_open=is_open,
            signature_bd=Case(When(signature, then=BusinessDayNumber("due_date"))),
            due_bd=BusinessDayNumber("due_date"),
            # How many business days after today a step can end at the earliest, before the
            # steps after it: 0, or for a step not started its duration less one. An undated
            # step ends no earlier than today (see forecast_check).
            start_offset=Case(
                When(
                    status=Milestone.Status.NOT_STARTED,
                    then=Case(
                        When(due_date=None, then=Greatest(F("duration_days") - 1, Value(0))),
                        default=F("duration_days") - 1,
                    ),
                ),
                default=Value(0),
                output_field=IntegerField(),
            ),
            # The durations of the open steps up to this one, this one included.
            through=Window(
                Sum(Case(When(OPEN_STEP, then=F("duration_days")), default=Value(0))),
                **by_position,
                frame=RowRange(start=None, end=0),
            ),
            signature_position=Window(
                Max(Case(When(signature, then=F("position")))),
                **by_position,
                frame=RowRange(start=None, end=None),
            ),
        )
        .values(
            "plan_id",
            "position",
            "duration_days",
            "is_open",
            "signature_bd",
            "due_bd",
            "start_offset",
            "through",
            "signature_position",
        )
        .order_by()
    )
    steps_sql, steps_params = _sql(steps)
    counts = (
        Milestone.objects.filter(steps_of_dirty)
        .filter(OPEN_STEP)
        .values("plan_id")
        .annotate(
            missing=Count("id", filter=Q(phase=Phase.CLOSE, buyer_owner=None)),
            undated=Count("id", filter=Q(due_date=None)),
            # The overdue figures as of today hold until a step falls due or late: see
            # _plans_behind.
            next_due=Min("due_date", filter=Q(due_date__gte=today)),
            next_late=Min(
                "due_date",
                filter=Q(phase=Phase.CLOSE, due_date__gte=today - timedelta(LATE_DAYS)),
            ),
        )
        .order_by()
    )
    counts_sql, counts_params = _sql(counts)
    # The dashboard's buyer-visit source, for the plans that changed. Its rows bump the
    # plan's stamp through the activity triggers: a new source needs its own trigger.
    visits = buyer_visits(Plan.objects.filter(_in_dirty('"plans_plan"."id"', "id")))
    visits_sql, visits_params = _sql(visits)
    recent = (
        DueDateChange.objects.filter(
            _in_dirty('"plans_milestone"."plan_id"', "id"), created_at__gte=since
        )
        .values(plan_id=F("milestone__plan_id"))
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    recent_sql, recent_params = _sql(recent)
    # The overdue steps (open, due before today) per plan and owners, as dashboard.
    # overdue_steps_of groups them: the owners' panel adds these groups up by owner.
    late = Q(phase=Phase.CLOSE, due_date__lt=today - timedelta(LATE_DAYS))
    groups = (
        Milestone.objects.filter(steps_of_dirty)
        .filter(OPEN_STEP, due_date__lt=today)
        .values_list("plan_id", "organization_id", "buyer_owner_id", "seller_owner_id")
        .annotate(n=Count("pk"), late=Count("pk", filter=late), oldest=Min("due_date"))
        .order_by()
    )
    groups_sql, groups_params = _sql(groups)
    dirty_sql, dirty_params = _sql(dirty)
    on = connection.ops.adapt_datefield_value(today)
    params = {
        "dirty": dirty_params,
        "groups": groups_params,
        "summary": [on, *steps_params, *counts_params, *visits_params, *recent_params],
    }
    parts = {
        "dirty": dirty_sql,
        "steps": steps_sql,
        "counts": counts_sql,
        "visits": visits_sql,
        "recent": recent_sql,
        "groups": groups_sql,
    }
    with _refreshing(), transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One refresh of a workspace at a time (see REFRESH_PLANS_SQL); the statement
            # after this one reads the rows the previous refresh committed.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('plans.refresh_plans', %s))",
                [organization.pk],
            )
        for template, takes in REFRESH_PLANS_SQL[connection.vendor]:
            cursor.execute(
                template.format(**parts), [param for part in takes for param in params[part]]
            )


TITLES_SQL = """
WITH dirty AS ({dirty})
INSERT INTO plans_titlesummary (
    organization_id, title, stamp, computed, time_zone, steps, dated, slipped, slip_days,
    done, planned_sum, actual_sum
)
SELECT dirty.organization_id, dirty.title, dirty.seen, dirty.seen, %s,
       COALESCE(rollup.steps, 0), COALESCE(rollup.dated, 0), COALESCE(rollup.slipped, 0),
       rollup.slip_days, COALESCE(rollup.done, 0), rollup.planned_sum, rollup.actual_sum
FROM dirty
LEFT JOIN ({rollup}) rollup ON rollup.title = dirty.title
WHERE 1 = 1
ORDER BY dirty.title
ON CONFLICT (organization_id, title) DO UPDATE SET
    computed = excluded.computed,
    time_zone = excluded.time_zone,
    steps = excluded.steps,
    dated = excluded.dated,
    slipped = excluded.slipped,
    slip_days = excluded.slip_days,
    done = excluded.done,
    planned_sum = excluded.planned_sum,
    actual_sum = excluded.actual_sum
WHERE plans_titlesummary.stamp = excluded.stamp
"""


def title_rollup_query(steps, *, tz) -> object:
    """Per title of `steps` (not cancelled): counts, slips, and the sums of the planned and
    actual durations of the done steps (see dashboard.step_durations), one GROUP BY title."""

    slipped = Q(due_date__gt=F("baseline_date"))
    done = Q(status=Milestone.Status.DONE, completed_at__isnull=False, baseline_date__isnull=False)
    completed_on = TruncDate("completed_at", tzinfo=tz)
    actual = Greatest(
        F("duration_days") + BusinessDayNumber(completed_on) - BusinessDayNumber("baseline_date"),
        Value(1),
    )
    return (
        steps.exclude(status=Milestone.Status.CANCELLED)
        .values("title")
        .annotate(
            # Counting a column of milestone_title_idx (not the key, which it does not
            # hold) lets PostgreSQL read that index alone.
            steps=Count("title"),
            dated=Count("title", filter=Q(due_date__isnull=False, baseline_date__isnull=False)),
            slipped=Count("title", filter=slipped),
            slip_days=Sum(DayNumber("due_date") - DayNumber("baseline_date"), filter=slipped),
            done=Count("title", filter=done),
            planned_sum=Sum("duration_days", filter=done),
            actual_sum=Sum(actual, filter=done),
        )
        .order_by()
    )


def refresh_titles(organization) -> None:
    """Recompute the TitleSummary rows of `organization` that are behind their stamp or were
    computed in another time zone (two queries: their titles, then one statement).

    The titles are passed as values: the planner then knows how few steps it reads (one
    title of thirty) and reads them through milestone_title_idx, where a subquery left it
    guessing and, on a large table, scanning every step. A title that falls behind between
    the two queries stays behind for the next request.

    Side effects: updates TitleSummary rows. Idempotent."""

    tz_name = organization.time_zone
    titles = list(_titles_behind(organization).values_list("title", flat=True))
    if not titles:
        return
    dirty = _titles_behind(organization).filter(title__in=titles)
    steps = Milestone.objects.for_org(organization).filter(title__in=titles)
    rollup = title_rollup_query(steps, tz=ZoneInfo(tz_name))
    dirty_sql, dirty_params = _sql(dirty)
    rollup_sql, rollup_params = _sql(rollup)
    with _refreshing(), connection.cursor() as cursor:
        cursor.execute(
            TITLES_SQL.format(dirty=dirty_sql, rollup=rollup_sql),
            [*dirty_params, tz_name, *rollup_params],
        )


def title_rollup(organization) -> list[dict]:
    """The per-title rollup of a whole workspace, from its current TitleSummary rows (refresh
    them first), shaped like dashboard._title_rollup's rows."""

    rows = []
    for title, steps, dated, slipped, slip_days, done, planned, actual in (
        TitleSummary.objects.filter(organization=organization, steps__gt=0)
        .values_list(
            "title", "steps", "dated", "slipped", "slip_days", "done", "planned_sum", "actual_sum"
        )
        .order_by()
    ):
        rows.append(
            {
                "title": title,
                "steps": steps,
                "dated": dated,
                "slipped": slipped,
                "slip_days": slip_days,
                "done": done,
                "planned": planned / done if done and planned is not None else None,
                "actual": actual / done if done and actual is not None else None,
            }
        )
    return rows


REASONS_SQL = """
WITH dirty AS ({dirty})
INSERT INTO plans_reasonsummary (organization_id, key, stamp, computed, reason, count, days)
SELECT dirty.organization_id, dirty.key, dirty.seen, dirty.seen,
       COALESCE(moves.reason, ''), COALESCE(moves.count, 0), moves.days
FROM dirty
LEFT JOIN ({moves}) moves ON moves.key = dirty.key
WHERE 1 = 1
ORDER BY dirty.key
ON CONFLICT (organization_id, key) DO UPDATE SET
    computed = excluded.computed,
    reason = excluded.reason,
    count = excluded.count,
    days = excluded.days
WHERE plans_reasonsummary.stamp = excluded.stamp
"""


def reason_moves_query(changes):
    """Per reason (ignoring case and surrounding spaces) of `changes`: the moves to a later
    date, the first spelling and the calendar days they added (one GROUP BY)."""

    return (
        changes.filter(new_date__gt=F("old_date"))
        .values(key=Lower(Trim("reason")))
        .annotate(
            reason=Min(Trim("reason")),
            count=Count("pk"),
            days=Sum(DayNumber("new_date") - DayNumber("old_date")),
        )
    )


def refresh_reasons(organization) -> None:
    """Recompute the ReasonSummary rows of `organization` that are behind their stamp (two
    queries: their reasons, then one statement; the reasons are passed as values, as in
    refresh_titles, so that the planner reads them through date_change_reason_idx).

    Side effects: updates ReasonSummary rows. Idempotent."""

    keys = list(_reasons_behind(organization).values_list("key", flat=True))
    if not keys:
        return
    dirty = _reasons_behind(organization).filter(key__in=keys)
    changes = DueDateChange.objects.for_org(organization).alias(key=Lower(Trim("reason")))
    moves = reason_moves_query(changes.filter(key__in=keys)).order_by()
    dirty_sql, dirty_params = _sql(dirty)
    moves_sql, moves_params = _sql(moves)
    with _refreshing(), connection.cursor() as cursor:
        cursor.execute(
            REASONS_SQL.format(dirty=dirty_sql, moves=moves_sql), [*dirty_params, *moves_params]
        )


def reasons(organization):
    """The slip reasons of a whole workspace from its current ReasonSummary rows (refresh
    them first), most moves first: a QuerySet of dicts with reason, count and days."""

    return (
        ReasonSummary.objects.filter(organization=organization, count__gt=0)
        .values("reason", "count", "days")
        .order_by("-count", "-days", "key")
    )
