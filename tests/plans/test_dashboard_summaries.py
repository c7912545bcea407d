"""The dashboard's summaries (plans.dashboard.summaries) never go stale: after every kind of
write — services, plain saves, QuerySet.update, bulk_create, deletions and their cascades,
raw SQL — the figures read from the kept summaries equal the figures recomputed from scratch,
and the page's set-based panels (plans.dashboard.panels) equal the full metrics."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse

from deals.models import Organization
from plans import services
from plans.dashboard import base as dashboard_base
from plans.dashboard import history as dashboard_history
from plans.dashboard import metrics as dashboard
from plans.dashboard import panels as dashboard_page
from plans.dashboard.metrics import Scope
from plans.models import (
    Activity,
    DueDateChange,
    Milestone,
    OverdueGroup,
    Plan,
    PlanSummary,
    ReasonSummary,
    TitleSummary,
)
from stakeholders.actors import Actor
from stakeholders.models import Side, Stakeholder
from tests.conftest import needs_postgres

from .dashboard_data import NOW, TODAY, Builder, at, build, build_globex


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def deals(acme, alice, bob, globex, charlie):
    build_globex(globex, charlie)
    return build(acme, alice, bob)


def figures(organization, **filters) -> dict:
    """Every figure the summaries feed, for the whole workspace (or a filtered scope)."""
    organization.refresh_from_db()
    scope = Scope.build(organization, now=NOW, **filters)
    health = dashboard.map_health(scope)
    forecast = dashboard.forecast_check(scope)
    return {
        "health": sorted(
            (
                row.deal.account,
                row.level,
                tuple(row.reasons),
                row.missing_buyer_owner,
                row.undated,
                row.last_buyer_visit,
            )
            for row in health.rows
        ),
        "forecast": sorted(
            (row.deal.account, row.projected, row.remaining_steps) for row in forecast.rows
        ),
        "slips": dashboard_history.slip_summary(scope),
        "durations": sorted(
            (row.title, row.steps, row.done, row.slipped, row.planned, row.actual)
            for row in dashboard_history.step_durations(scope, limit=None)
        ),
        "reasons": [
            (row.reason, row.count, row.days)
            for row in dashboard_history.slip_reasons(scope, limit=None)
        ],
    }


def page_figures(organization, **filters) -> dict:
    """The page's panels (dashboard_page, which reads the kept summaries, its overdue steps
    included) checked equal to the metric functions (plans.dashboard, which count the overdue
    steps from the steps themselves), every row shown; returns the page's overdue figures.
    The page runs first, so that its own refresh brings the summaries up to date."""
    organization.refresh_from_db()
    page = dashboard_page.compute(
        Scope.build(organization, **filters),
        sort="health",
        health_limit=1000,
        forecast_limit=1000,
        owner_limit=1000,
    )
    scope = Scope.build(organization, **filters)
    health = dashboard.map_health(scope)
    forecast = dashboard.forecast_check(scope)
    overdue = dashboard_history.overdue_by_owner(scope)
    assert page.health.counts == health.counts
    assert [
        (r.deal, r.level, r.reasons, r.overdue, r.overdue_buyer, r.late_close)
        for r in page.health.rows
    ] == [
        (r.deal, r.level, r.reasons, r.overdue, r.overdue_buyer, r.late_close)
        for r in dashboard.sort_health(health.rows, "health")
    ]
    assert page.forecast.rows == forecast.rows
    assert page.forecast.months == forecast.months
    assert (page.overdue.buyer_side, page.overdue.seller_side, page.overdue.total) == (
        overdue.buyer_side,
        overdue.seller_side,
        overdue.total,
    )
    assert page.overdue.rows == overdue.rows
    assert page.overdue.owners == len(overdue.rows)
    return {
        "overdue": (page.overdue.buyer_side, page.overdue.seller_side, page.overdue.total),
        "owners": page.overdue.rows,
        "health": [(r.deal.account, r.overdue, r.late_close) for r in page.health.rows],
    }


def from_scratch(organization) -> dict:
    """The figures after marking every summary row as never computed."""
    PlanSummary.objects.update(computed=-1)
    TitleSummary.objects.update(computed=-1)
    ReasonSummary.objects.update(computed=-1)
    return figures(organization)


def assert_current(organization, before: dict) -> dict:
    """The kept summaries give the from-scratch figures, the page's panels equal the metric
    functions (for the whole workspace and for one filtered scope), and the change changed
    them."""
    page_figures(organization)
    page_figures(organization, stage="open")
    kept = figures(organization)
    assert kept == from_scratch(organization)
    # Titles and reasons: the whole workspace reads summaries; a filter that keeps every
    # deal computes them from the steps.
    every_deal = figures(organization, amount_min=Decimal(0))
    for key in ("slips", "durations", "reasons"):
        assert kept[key] == every_deal[key]
    assert kept != before  # the change mattered (else this test proves nothing)
    return kept


def _step(deals, account, title) -> Milestone:
    return Milestone.objects.get(plan__deal=deals[account], title=title)


def test_summaries_follow_a_service_status_change(acme, bob, deals):
    before = figures(acme)
    step = _step(deals, "Bravo", "Business case")

    services.set_milestone_status(step, actor=Actor.seller(bob), status="done")

    assert_current(acme, before)


def test_summaries_follow_a_service_edit_with_a_date_move(acme, bob, deals):
    before = figures(acme)
    step = _step(deals, "Alpha", "Legal review")

    services.update_milestone(
        step,
        actor=Actor.seller(bob),
        expected_version=step.version,
        reason="Legal is out",
        due_date=step.due_date + timedelta(days=9),
    )

    assert_current(acme, before)


def test_summaries_follow_a_plan_reschedule(acme, bob, deals):
    before = figures(acme)

    services.reschedule_plan(
        deals["Alpha"].plan,
        actor=Actor.seller(bob),
        target_date=TODAY + timedelta(days=60),
        reason="Budget moved",
    )

    assert_current(acme, before)


def test_summaries_follow_a_plain_save(acme, deals):
    before = figures(acme)
    step = _step(deals, "Charlie", "Security review")

    step.due_date, step.status = None, "not_started"
    step.save()

    assert_current(acme, before)


def test_summaries_follow_queryset_update(acme, deals):
    before = figures(acme)

    Milestone.objects.filter(plan__deal=deals["Alpha"]).update(
        status="not_started", completed_at=None, duration_days=9
    )

    assert_current(acme, before)


def test_summaries_follow_a_title_rename_by_update(acme, deals):
    before = figures(acme)

    Milestone.objects.filter(plan__deal=deals["Echo"]).update(title="Renamed step")

    assert_current(acme, before)


def test_summaries_follow_bulk_create(acme, deals):
    before = figures(acme)
    plan = deals["Bravo"].plan

    Milestone.objects.bulk_create(
        [
            Milestone(
                organization=acme,
                plan=plan,
                title="Bulk step",
                position=10 + index,
                due_date=TODAY - timedelta(days=10 + index),
                baseline_date=TODAY - timedelta(days=20),
                duration_days=3,
                is_signature_step=index == 2,
            )
            for index in range(3)
        ]
    )

    assert_current(acme, before)


def test_summaries_follow_a_service_deletion(acme, bob, deals):
    before = figures(acme)

    services.delete_milestone(_step(deals, "Charlie", "Security review"), actor=Actor.seller(bob))

    assert_current(acme, before)


def test_summaries_follow_a_stakeholders_removal_set_null(acme, bob, deals):
    # Django sets the steps' owner to NULL with an UPDATE, without any step signal.
    before = figures(acme)
    owner = Stakeholder.objects.filter(deal=deals["Alpha"], side=Side.BUYER).first()
    assert Milestone.objects.filter(buyer_owner=owner).exists()

    from stakeholders import services as stakeholder_services

    stakeholder_services.remove_stakeholder(owner, actor=Actor.seller(bob))

    assert_current(acme, before)


def test_summaries_follow_date_changes_and_their_reasons(acme, deals):
    before = figures(acme)
    step = _step(deals, "Bravo", "Business case")
    builder = Builder(acme)

    builder.moved(step, old=TODAY, new=TODAY + timedelta(days=4), reason=" NEW reason ", on=TODAY)
    DueDateChange.objects.filter(reason__icontains="legal").update(reason="Legal (renamed)")

    assert_current(acme, before)


def test_summaries_follow_a_deleted_date_change(acme, deals):
    before = figures(acme)

    DueDateChange.objects.filter(organization=acme).first().delete()

    assert_current(acme, before)


def test_summaries_follow_buyer_activity(acme, deals):
    before = figures(acme)

    Builder(acme).buyer_activity(deals["Bravo"].plan, on=TODAY)
    Activity.objects.filter(plan=deals["Alpha"].plan, side=Side.BUYER).delete()

    assert_current(acme, before)


def test_summaries_follow_a_new_and_a_deleted_plan(acme, alice, deals):
    before = figures(acme)
    builder = Builder(acme)
    deal = builder.deal(
        "Hotel", owner=alice, stage="proposal", amount=1, target=TODAY, created=TODAY
    )
    plan = builder.plan(deal, status="shared", target=TODAY + timedelta(days=3))
    builder.step(plan, "Kickoff", 1, due=TODAY - timedelta(days=2), signature=True)

    deals["Charlie"].plan.delete()

    assert_current(acme, before)
    # One row per plan: the new plan has one, the deleted plan's went with it.
    assert set(PlanSummary.objects.values_list("plan_id", flat=True)) == set(
        Plan.objects.values_list("pk", flat=True)
    )


def test_summaries_follow_raw_sql(acme, deals):
    before = figures(acme)
    step = _step(deals, "Alpha", "Legal review")

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE plans_milestone SET status = 'done', completed_at = %s WHERE id = %s",
            [at(TODAY), step.pk],
        )

    assert_current(acme, before)


def test_summaries_follow_the_workspace_time_zone(acme, deals):
    # A step completed at 23:30 UTC on 11 March is done on the 12th in Tokyo.
    done = Milestone.objects.filter(organization=acme, status="done").first()
    Milestone.objects.filter(pk=done.pk).update(
        completed_at=at(done.baseline_date, 23) + timedelta(minutes=30)
    )
    before = figures(acme)

    Organization.objects.filter(pk=acme.pk).update(time_zone="Asia/Tokyo")

    assert_current(acme, before)


def test_a_write_leaves_the_plans_row_behind_until_it_is_recomputed(acme, deals):
    from plans.dashboard import summaries as dashboard_summaries

    plan = deals["Bravo"].plan

    dashboard_summaries.refresh_plans(acme, now=NOW)
    row = PlanSummary.objects.get(plan=plan)
    assert row.computed == row.stamp

    Milestone.objects.filter(plan=plan).update(duration_days=7)
    row.refresh_from_db()

    assert row.computed < row.stamp  # behind: the next read recomputes it
    dashboard_summaries.refresh_plans(acme, now=NOW)
    row.refresh_from_db()
    assert row.computed == row.stamp


def test_recent_date_changes_leave_the_window_with_the_clock(acme, deals):
    # No write at all: a date change that was recent is not after the clock moved on.
    step = _step(deals, "Bravo", "Business case")
    Builder(acme).moved(
        step, old=TODAY, new=TODAY + timedelta(days=2), reason="Late", on=TODAY - timedelta(13)
    )
    counted = figures(acme)

    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        later = Scope.build(acme)
        bravo = next(row for row in dashboard.map_health(later).rows if row.deal.account == "Bravo")
        PlanSummary.objects.update(computed=-1)
        scratch = next(
            row
            for row in dashboard.map_health(Scope.build(acme)).rows
            if row.deal.account == "Bravo"
        )

    before = next(row for row in counted["health"] if row[0] == "Bravo")
    assert any("date change" in reason for reason in before[2])
    assert bravo.recent_changes == scratch.recent_changes
    assert bravo.reasons == scratch.reasons


@pytest.mark.parametrize("time_zone", ["Europe/London", "Pacific/Kiritimati"])
def test_overdue_figures_follow_the_date_without_any_write(acme, deals, time_zone):
    # No write at all: steps become overdue, and close-plan steps late, as the days pass.
    Organization.objects.filter(pk=acme.pk).update(time_zone=time_zone)
    seen = [page_figures(acme)]

    for days in (1, 3, 7, 8):
        with time_machine.travel(NOW + timedelta(days=days), tick=False):
            seen.append(page_figures(acme))
            page_figures(acme, stage="open")

    # The figures moved with the date (else this test proves nothing).
    assert len({repr(figures) for figures in seen}) >= 3


# (days later, whether a step of the fixtures fell due or late meanwhile)
@pytest.mark.parametrize(("days", "changed"), [(1, False), (3, True), (8, True), (30, True)])
def test_a_new_day_recomputes_only_the_plans_whose_steps_fell_due_or_late(
    acme, deals, days, changed, django_assert_num_queries
):
    from plans.dashboard import summaries as dashboard_summaries

    dashboard_summaries.refresh_plans(acme, now=NOW)
    later = NOW + timedelta(days=days)
    today = TODAY + timedelta(days=days)
    open_steps = Milestone.objects.filter(organization=acme).exclude(
        status__in=Milestone.CLOSED_STATUSES
    )
    fell_due = open_steps.filter(due_date__gte=TODAY, due_date__lt=today)
    fell_late = open_steps.filter(
        phase="close",
        due_date__gte=TODAY - timedelta(days=7),
        due_date__lt=today - timedelta(days=7),
    )
    expected = set(fell_due.values_list("plan_id", flat=True)) | set(
        fell_late.values_list("plan_id", flat=True)
    )

    dashboard_summaries.refresh(acme, now=later, titles_and_reasons=False)

    recomputed = set(
        PlanSummary.objects.filter(organization=acme, overdue_on=today).values_list(
            "plan_id", flat=True
        )
    )
    assert recomputed == expected
    assert bool(expected) == changed
    assert len(expected) < PlanSummary.objects.filter(organization=acme).count()
    # Nothing behind any more: one query finds that out.
    with django_assert_num_queries(1):
        dashboard_summaries.refresh(acme, now=later, titles_and_reasons=False)


def test_a_workspace_moving_back_a_day_recomputes_its_plans(acme, deals):
    # The workspace moved to a time zone where it is still yesterday: every plan counted
    # as of "tomorrow" is recounted (its overdue steps may be fewer).
    from plans.dashboard import summaries as dashboard_summaries

    dashboard_summaries.refresh_plans(acme, now=NOW + timedelta(days=1))
    page_figures(acme)

    assert set(
        PlanSummary.objects.filter(organization=acme).values_list("overdue_on", flat=True)
    ) == {TODAY}


def test_summaries_of_another_workspace_are_untouched(acme, globex, deals):
    figures(acme)
    figures(globex)
    kept = {
        row.pk: (row.stamp, row.computed) for row in PlanSummary.objects.filter(organization=globex)
    }

    Milestone.objects.filter(organization=acme).update(duration_days=2)

    assert kept == {
        row.pk: (row.stamp, row.computed) for row in PlanSummary.objects.filter(organization=globex)
    }


# --- The page's panels equal the full metrics ------------------------------------------


@pytest.mark.parametrize(
    "sort", [*dashboard.HEALTH_SORTS, *(f"-{k}" for k in dashboard.HEALTH_SORTS)]
)
def test_page_panels_equal_the_full_metrics(acme, deals, sort):
    scope = Scope.build(acme, now=NOW)
    health = dashboard.map_health(scope)
    forecast = dashboard.forecast_check(scope)
    overdue = dashboard_history.overdue_by_owner(scope)

    page = dashboard_page.compute(
        Scope.build(acme, now=NOW), sort=sort, health_limit=2, forecast_limit=2, owner_limit=3
    )

    assert page.health.counts == health.counts
    assert page.health.total == health.total
    expected = dashboard.sort_health(health.rows, sort)[:2]
    assert [(r.deal, r.level, r.reasons) for r in page.health.rows] == [
        (r.deal, r.level, r.reasons) for r in expected
    ]
    assert page.forecast.months == forecast.months
    assert page.forecast.total == len(forecast.rows)
    assert page.forecast.at_risk_count == len(forecast.at_risk)
    assert page.forecast.amount_at_risk == forecast.amount_at_risk
    assert page.forecast.rows == forecast.rows[:2]
    assert (page.overdue.buyer_side, page.overdue.seller_side, page.overdue.total) == (
        overdue.buyer_side,
        overdue.seller_side,
        overdue.total,
    )
    assert page.overdue.owners == len(overdue.rows)
    assert page.overdue.rows == overdue.rows[:3]


@pytest.mark.parametrize("sort", ["deal", "-deal", "owner", "-owner"])
def test_page_sorts_names_as_python_lowers_them(acme, alice, bob, deals, sort):
    # Accented capitals, which SQLite's LOWER() leaves as they are, and names equal but for
    # case (their plans keep plan order).
    for account, name in zip(
        ("Ébert", "éa", "Zoë", "ÉCLAIR", "alpha", "Ørsted", "Zebra"), deals, strict=False
    ):
        deals[name].account_name = account
        deals[name].save()
    alice.full_name = "Ärne Seller"
    alice.save()
    bob.full_name = ""  # named by email (bob@acme.test)
    bob.save()
    scope = Scope.build(acme, now=NOW)
    expected = dashboard.sort_health(dashboard.map_health(scope).rows, sort)

    page = dashboard_page.compute(
        Scope.build(acme, now=NOW), sort=sort, health_limit=10, forecast_limit=1, owner_limit=1
    )

    assert [r.deal for r in page.health.rows] == [r.deal for r in expected]
    assert len({r.deal.owner for r in expected}) > 1


def test_page_panels_equal_the_full_metrics_for_a_seller(acme, alice, deals):
    scope = Scope.build(acme, owner=alice, now=NOW)

    page = dashboard_page.compute(
        Scope.build(acme, owner=alice, now=NOW),
        sort="health",
        health_limit=25,
        forecast_limit=25,
        owner_limit=15,
    )

    health = dashboard.map_health(scope)
    assert page.health.counts == health.counts
    assert [r.deal for r in page.health.rows] == [
        r.deal for r in dashboard.sort_health(health.rows, "health")
    ]
    assert page.forecast.rows == dashboard.forecast_check(scope).rows
    assert page.overdue.rows == dashboard_history.overdue_by_owner(scope).rows


def plans_cte(rows: list[dict], *, today) -> list[tuple]:
    """dashboard_page.PLANS_CTE over literal "live" rows: (level, reasons, projected) of each
    row, in order."""
    columns = [
        "target", "past_target", "late", "overdue", "changes", "missing", "undated",
        "unvisited", "path_total", "due_term", "start_term", "signature_bd",
    ]  # fmt: skip
    date = "CAST(%s AS date)" if connection.vendor == "postgresql" else "%s"
    select = "SELECT CAST(%s AS integer) AS plan_pk, " + ", ".join(
        f"{date if column == 'target' else 'CAST(%s AS integer)'} AS {column}" for column in columns
    )
    vendor = dashboard_page.VENDOR_SQL[connection.vendor]
    today_bd = dashboard_base.business_day_number(today)
    results = []
    for first in range(0, len(rows), 100):  # SQLite allows 500 terms in a compound SELECT
        chunk = rows[first : first + 100]
        sql = dashboard_page.PLANS_CTE.format(
            live=" UNION ALL ".join([select] * len(chunk)),
            many=dashboard.MANY_OVERDUE,
            bd_date=vendor["bd_date"].format(n="counted.projected_bd"),
        )
        params = [p for pk, row in enumerate(chunk) for p in [pk, *map(row.get, columns)]]
        with connection.cursor() as cursor:
            cursor.execute(
                sql + " SELECT level, reasons, projected FROM plans ORDER BY plan_pk",  # noqa: S608
                [*params, today_bd, today_bd],
            )
            results += [
                (level, reasons, dashboard._parse_date(projected))
                for level, reasons, projected in cursor.fetchall()
            ]
    return results


@pytest.mark.django_db
def test_the_sql_health_level_matches_classify_health():
    # Every combination of the inputs that decide the level: the page's SQL (PLANS_CTE)
    # counts the reasons classify_health writes out.
    from itertools import product

    since = NOW - timedelta(days=14)
    deal = dashboard.DealInfo(1, None, "A", "B", "O", Decimal(1), "USD", "proposal", TODAY)
    cases, expected = [], []
    for signed, past, late, overdue, changes, status, visited, missing, undated in product(
        (False, True), (False, True), (0, 1), (0, 1, 2, 3, 4), (0, 2), ("draft", "shared"),
        (False, True), (0, 1), (0, 1),
    ):  # fmt: skip
        target = TODAY - timedelta(days=1) if past else TODAY
        row = dashboard.classify_health(
            dashboard.HealthRow(
                deal=deal,
                plan_status=status,
                signed=signed,
                target_signature=target,
                overdue=overdue,
                overdue_buyer=0,
                late_close=late,
                missing_buyer_owner=missing,
                undated=undated,
                recent_changes=changes,
                last_buyer_visit=NOW if visited else None,
            ),
            today=TODAY,
            since=since,
        )
        cases.append(
            {
                "target": target,
                # _live's two clock rules, as its annotations compute them
                "past_target": int(not signed and past),
                "unvisited": int(status != "draft" and not visited),
                "late": late,
                "overdue": overdue,
                "changes": changes,
                "missing": missing,
                "undated": undated,
            }
        )
        expected.append((dashboard.LEVELS[row.level], len(row.reasons)))

    assert [(level, reasons) for level, reasons, _ in plans_cte(cases, today=TODAY)] == expected


@pytest.mark.django_db
def test_the_sql_projection_matches_forecast_check():
    # The projection from a path's components (dashboard._projected_bd and
    # business_day_date), every weekday of today and of the due term.
    from itertools import product

    target = TODAY + timedelta(days=30)
    cases, expected = [], []
    for today, total, due_shift, start, signature in product(
        [TODAY + timedelta(days=d) for d in range(7)],
        (0, 3, 11),
        (None, -4, 0, 1, 2, 3, 4, 9),
        (None, 0, 2),
        (None, 3),
    ):
        today_bd = dashboard_base.business_day_number(today)
        due = None if due_shift is None else today_bd + due_shift
        signature_bd = None if signature is None else today_bd + signature
        projected_bd = dashboard._projected_bd(total, due, start, today_bd)
        if projected_bd is None:
            projected_bd = signature_bd
        cases.append(
            {
                "target": target,
                "path_total": total,
                "due_term": due,
                "start_term": start,
                "signature_bd": signature_bd,
            }
        )
        expected.append(
            (
                today,
                target if projected_bd is None else dashboard_base.business_day_date(projected_bd),
            )
        )

    for today in {today for today, _ in expected}:
        chosen = [i for i, (day, _) in enumerate(expected) if day == today]
        projected = plans_cte([cases[i] for i in chosen], today=today)
        assert [p for _, _, p in projected] == [expected[i][1] for i in chosen]


def test_dashboard_rows_link_to_their_plans(client, bob, deals):
    client.force_login(bob)

    html = client.get(reverse("plans:dashboard", kwargs={"org_slug": "acme"})).content.decode()

    for account in ("Alpha", "Bravo", "Charlie"):
        url = deals[account].plan.get_absolute_url()
        assert f'<a href="{url}">{account}</a>' in html


def refresh_while_held(organization, hold) -> None:
    """Run `hold()` in a transaction on a thread of its own and keep it open while
    dashboard_summaries.refresh_plans(organization) starts on another (and waits for what
    `hold` locked), then commit it and wait for both (PostgreSQL: each thread its own
    connection)."""
    from django.db import connection as thread_connection

    from plans.dashboard import summaries as dashboard_summaries

    held, release = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                hold()
                held.set()
                release.wait(5)
        finally:
            thread_connection.close()

    def refresher():
        try:
            dashboard_summaries.refresh_plans(organization, now=NOW)
        finally:
            thread_connection.close()

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(5)
    second = threading.Thread(target=refresher)
    second.start()
    second.join(0.5)  # the refresh now waits for the held transaction
    release.set()
    first.join()
    second.join()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_racing_a_write_leaves_the_row_behind(acme, alice):
    # The dashboard recomputes a plan while a writer holds an uncommitted change of it: the
    # refresh reads the committed steps, waits for the writer's lock, and must not mark its
    # figures as current once the writer commits.
    from plans.dashboard import summaries as dashboard_summaries

    builder = Builder(acme)
    deal = builder.deal(
        "Race", owner=alice, stage="proposal", amount=1, target=TODAY, created=TODAY
    )
    plan = builder.plan(deal, status="shared", target=TODAY + timedelta(days=30))
    step = builder.step(plan, "Only step", 1, due=TODAY + timedelta(days=5), signature=True)
    dashboard_summaries.refresh_plans(acme, now=NOW)
    Milestone.objects.filter(pk=step.pk).update(duration_days=3)  # committed: plan behind

    refresh_while_held(acme, lambda: Milestone.objects.filter(pk=step.pk).update(duration_days=9))

    row = PlanSummary.objects.get(plan=plan)
    assert row.computed != row.stamp  # behind: computed before the write committed
    dashboard_summaries.refresh_plans(acme, now=NOW)
    row.refresh_from_db()
    assert row.computed == row.stamp
    assert row.path_total == 9  # the committed duration


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 40])
def test_page_owner_ranking_equals_the_full_table_with_ties(acme, alice, deals, limit):
    # Buyers and sellers with equal counts and oldest dates: the names decide.
    builder = Builder(acme)
    for index, name in enumerate(["Zed", "Amy", "Bob", "Amy", "Cyd", "Bea"]):
        deal = builder.deal(
            f"Tie {index}", owner=alice, stage="proposal", amount=10, target=TODAY, created=TODAY
        )
        plan = builder.plan(deal, status="shared", target=TODAY + timedelta(days=20))
        buyer = builder.person(deal, name, Side.BUYER)
        seller = builder.person(deal, name if index % 2 else "Sam", Side.SELLER)
        for position in range(1 + index % 2):
            builder.step(
                plan,
                f"Late {position}",
                position + 1,
                due=TODAY - timedelta(days=3),
                buyer=buyer,
                seller=seller,
            )
    scope = Scope.build(acme, now=NOW)
    full = dashboard_history.overdue_by_owner(scope)

    page = dashboard_page.compute(
        Scope.build(acme, now=NOW),
        sort="health",
        health_limit=5,
        forecast_limit=5,
        owner_limit=limit,
    )

    assert page.overdue.rows == full.rows[:limit]
    assert page.overdue.owners == len(full.rows)


# --- The owners panel's overdue groups (plans.models.OverdueGroup) -------------------------


def _overdue_deal(builder, alice, account, *, buyer, seller, steps=1, days=3):
    """A deal whose plan has `steps` steps `days` days overdue, owned by a new buyer and a new
    seller stakeholder named `buyer` and `seller` (None: no owner on that side)."""
    deal = builder.deal(
        account, owner=alice, stage="proposal", amount=10, target=TODAY, created=TODAY
    )
    plan = builder.plan(deal, status="shared", target=TODAY + timedelta(days=20))
    buyer = buyer if buyer is None else builder.person(deal, buyer, Side.BUYER)
    seller = seller if seller is None else builder.person(deal, seller, Side.SELLER)
    for position in range(steps):
        builder.step(
            plan,
            f"Late {position}",
            position + 1,
            due=TODAY - timedelta(days=days),
            buyer=buyer,
            seller=seller,
        )
    return deal


def test_the_owners_panel_follows_a_seller_owners_rename(acme, alice, bob, deals):
    # The groups keep their seller owner's name: a rename bumps the plans whose steps the
    # stakeholder owns on the seller side (a trigger), whatever writes it.
    builder = Builder(acme)
    first = _overdue_deal(builder, alice, "Rename 1", buyer="Bo", seller="Sam", steps=2)
    _overdue_deal(builder, alice, "Rename 2", buyer="Cy", seller="Kim")
    page_figures(acme)
    sam = Stakeholder.objects.get(deal=first, side=Side.SELLER)

    from stakeholders import services as stakeholder_services

    stakeholder_services.update_stakeholder(sam, actor=Actor.seller(bob), name="Samuel")
    renamed = page_figures(acme)["owners"]
    Stakeholder.objects.filter(pk=sam.pk).update(name="Kim")  # now one owner with Kim
    merged = page_figures(acme)["owners"]

    def sellers(rows):
        return {row.owner: row.overdue for row in rows if row.side == "seller"}

    assert sellers(renamed)["Samuel"] == 2 and "Sam" not in sellers(renamed)
    assert sellers(merged)["Kim"] == 3 and "Samuel" not in sellers(merged)


def test_a_stakeholders_other_updates_bump_no_plan(acme, deals):
    # Buyer visits update stakeholders all day long: only a name change bumps plans.
    dashboard_page.compute(
        Scope.build(acme, now=NOW), sort="health", health_limit=1, forecast_limit=1, owner_limit=1
    )
    stamps = dict(PlanSummary.objects.values_list("plan_id", "stamp"))

    Stakeholder.objects.filter(organization=acme).update(visit_count=F("visit_count") + 1)
    for person in Stakeholder.objects.filter(organization=acme):
        person.title = "Updated"
        person.save()

    assert dict(PlanSummary.objects.values_list("plan_id", "stamp")) == stamps


def test_overdue_groups_go_with_their_plan_and_workspace(acme, alice, globex, deals):
    builder = Builder(acme)
    gone = _overdue_deal(builder, alice, "Gone", buyer="Bo", seller="Sam").plan
    dashboard_page.compute(
        Scope.build(acme, now=NOW), sort="health", health_limit=1, forecast_limit=1, owner_limit=1
    )
    dashboard_page.compute(
        Scope.build(globex, now=NOW), sort="health", health_limit=1, forecast_limit=1, owner_limit=1
    )
    assert OverdueGroup.objects.filter(plan=gone).exists()
    assert OverdueGroup.objects.filter(organization=globex).exists()

    gone.delete()
    Organization.objects.filter(pk=globex.pk).delete()

    assert not OverdueGroup.objects.filter(plan_id=gone.pk).exists()
    assert not OverdueGroup.objects.filter(organization_id=globex.pk).exists()
    page_figures(acme)


@pytest.mark.parametrize("limit", [1, 3, 6, 40])
def test_page_owner_ranking_with_no_owner_blank_and_non_ascii_names(acme, alice, deals, limit):
    # "No owner" on each side (a missing owner, and a seller stakeholder with a blank name,
    # which the definition merges with it), and names ordered by code point as Python does
    # (uppercase before lowercase, accented letters after "z"), with equal counts and dates.
    builder = Builder(acme)
    _overdue_deal(builder, alice, "Nobody", buyer=None, seller=None, steps=2)
    _overdue_deal(builder, alice, "Blank", buyer="Émile", seller="", steps=2)
    _overdue_deal(builder, alice, "Accents", buyer="Zoë", seller="Émile", steps=2)
    _overdue_deal(builder, alice, "Lower", buyer="amy", seller="Zoë", steps=2)
    _overdue_deal(builder, alice, "Upper", buyer="Amy", seller="amy", steps=2)
    _overdue_deal(builder, alice, "Ascii", buyer="Zed", seller="Åsa", steps=2)
    scope = Scope.build(acme, now=NOW)
    full = dashboard_history.overdue_by_owner(scope)
    assert {"No owner", "Émile", "Zoë", "amy", "Åsa"} <= {row.owner for row in full.rows}

    page = dashboard_page.compute(
        Scope.build(acme, now=NOW),
        sort="health",
        health_limit=5,
        forecast_limit=5,
        owner_limit=limit,
    )

    assert page.overdue.rows == full.rows[:limit]
    assert page.overdue.owners == len(full.rows)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_keep_one_set_of_overdue_groups(acme, alice):
    # Two requests recompute the same plans at once: the second runs after the first
    # commits (the workspace's refresh lock), and replaces the groups the first wrote
    # instead of adding its own to them.
    from plans.dashboard import summaries as dashboard_summaries

    builder = Builder(acme)
    for index in range(3):
        _overdue_deal(builder, alice, f"Busy {index}", buyer="Bo", seller="Sam", steps=2)
    PlanSummary.objects.update(computed=-1)

    refresh_while_held(acme, lambda: dashboard_summaries.refresh_plans(acme, now=NOW))

    assert OverdueGroup.objects.count() == 3
    assert sum(OverdueGroup.objects.values_list("steps", flat=True)) == 6
    scope = Scope.build(acme, now=NOW)
    page = dashboard_page.overdue_owners(scope, limit=10, totals=(6, 6, 6))
    assert page.rows == dashboard_history.overdue_by_owner(scope).rows
