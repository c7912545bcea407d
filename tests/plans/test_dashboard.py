"""Dashboard metrics on hand-computed data (tests/plans/dashboard_data.py: the expected
numbers below were worked out on paper from that table)."""

from datetime import date
from decimal import Decimal

import pytest

from plans.dashboard import base as dashboard_base
from plans.dashboard import history as dashboard_history
from plans.dashboard import metrics as dashboard
from plans.dashboard.metrics import Scope

from .dashboard_data import NOW, TODAY, build, build_globex

D = date


@pytest.fixture
def deals(acme, alice, bob, globex, charlie):
    build_globex(globex, charlie)
    return build(acme, alice, bob)


@pytest.fixture
def scope(acme, deals):
    return Scope.build(acme, now=NOW)


def test_scope_today_is_in_the_workspace_time_zone(acme, globex):
    # 12 March 2025 00:30 UTC is still 11 March in Los Angeles.
    from datetime import UTC, datetime

    late = datetime(2025, 3, 12, 0, 30, tzinfo=UTC)

    assert Scope.build(acme, now=late).today == D(2025, 3, 12)
    assert Scope.build(globex, now=late).today == D(2025, 3, 11)


def test_business_day_numbers_round_trip_and_skip_weekends():
    friday, saturday, monday = D(2025, 3, 14), D(2025, 3, 15), D(2025, 3, 17)

    assert (
        dashboard_base.business_day_number(monday) - dashboard_base.business_day_number(friday) == 1
    )
    assert dashboard_base.business_day_number(saturday) == dashboard_base.business_day_number(
        monday
    )
    for day in (friday, monday, D(2024, 2, 29), D(2031, 12, 31)):
        assert dashboard_base.business_day_date(dashboard_base.business_day_number(day)) == day


def test_pipeline_by_stage_counts_open_deals_per_stage_and_currency(scope):
    rows = {row.key: row for row in dashboard.pipeline_by_stage(scope)}

    assert list(rows) == ["discovery", "evaluation", "proposal", "negotiation"]
    assert (rows["discovery"].count, rows["discovery"].amounts) == (1, {"EUR": Decimal(5000)})
    assert (rows["evaluation"].count, rows["evaluation"].amounts) == (1, {"USD": 20000})
    assert (rows["proposal"].count, rows["proposal"].amounts) == (1, {"USD": 50000})
    assert (rows["negotiation"].count, rows["negotiation"].amounts) == (1, {"USD": 100000})


def test_pipeline_by_month_lists_every_month_between_first_and_last(scope):
    rows = dashboard.pipeline_by_month(scope)

    assert [(row.key, row.count, dict(row.amounts)) for row in rows] == [
        (D(2025, 3, 1), 2, {"USD": 120000}),
        (D(2025, 4, 1), 1, {"USD": 50000}),
        (D(2025, 5, 1), 1, {"EUR": 5000}),
    ]
    assert rows[0].label == "Mar 2025"


def test_map_coverage_counts_open_deals_at_or_above_the_threshold(scope, acme):
    coverage = dashboard.map_coverage(scope)

    # Alpha, Bravo and Charlie are at least 10,000; Delta (5,000) is not.
    assert (coverage.eligible, coverage.with_plan, coverage.with_shared_plan) == (3, 3, 2)
    assert coverage.plan_share == 1
    assert coverage.shared_share == pytest.approx(2 / 3)

    acme.map_coverage_threshold = Decimal(50000)
    coverage = dashboard.map_coverage(Scope.build(acme, now=NOW))
    # Alpha (shared) and Bravo (draft, at exactly the threshold).
    assert (coverage.eligible, coverage.with_plan, coverage.with_shared_plan) == (2, 2, 1)


def test_map_coverage_ignores_archived_plans(scope, deals):
    from plans.models import Plan

    Plan.objects.filter(deal=deals["Alpha"]).update(archived_at=NOW)

    coverage = dashboard.map_coverage(scope)

    assert (coverage.eligible, coverage.with_plan, coverage.with_shared_plan) == (3, 2, 1)


def test_map_health_levels_and_reasons(scope):
    report = dashboard.map_health(scope)
    rows = {row.deal.account: row for row in report.rows}

    assert set(rows) == {"Alpha", "Bravo", "Charlie"}
    assert report.counts == {"off_track": 1, "at_risk": 2, "on_track": 0}
    assert rows["Alpha"].level == "at_risk"
    assert rows["Alpha"].reasons == ["1 date change(s) in the last 14 days"]
    assert rows["Alpha"].last_buyer_visit.date() == D(2025, 3, 10)
    assert rows["Bravo"].level == "at_risk"
    # A draft is not shared with the buyer yet: no buyer-visit rule.
    assert rows["Bravo"].reasons == [
        "1 step(s) overdue (0 with a buyer owner)",
        "1 close-plan step(s) without a buyer owner",
        "1 step(s) without a date",
    ]
    assert rows["Charlie"].level == "off_track"
    assert rows["Charlie"].reasons == [
        "unsigned past its target signature date",
        "2 close-plan step(s) overdue by more than 7 days",
        "3 step(s) overdue (3 with a buyer owner)",
        "no buyer visit in 14 days",
    ]
    assert (rows["Charlie"].overdue, rows["Charlie"].late_close) == (3, 2)
    # The February date change of Charlie is older than 14 days.
    assert rows["Charlie"].recent_changes == 0


def test_map_health_on_track_when_nothing_is_wrong(scope, deals):
    from plans.models import DueDateChange

    DueDateChange.objects.filter(milestone__plan__deal=deals["Alpha"]).delete()

    rows = {row.deal.account: row for row in dashboard.map_health(scope).rows}

    assert rows["Alpha"].level == "on_track"
    assert rows["Alpha"].reasons == []


def test_map_health_counts_a_signed_or_amended_plan_as_signed(scope, deals):
    from plans.models import Plan

    Plan.objects.filter(deal=deals["Charlie"]).update(status="amended")

    rows = {row.deal.account: row for row in dashboard.map_health(scope).rows}

    assert "unsigned past its target signature date" not in rows["Charlie"].reasons


def test_sort_health_by_column_and_reversed(scope):
    rows = dashboard.map_health(scope).rows

    worst_first = [row.deal.account for row in dashboard.sort_health(rows, "health")]
    by_amount = [row.deal.account for row in dashboard.sort_health(rows, "amount")]
    smallest_first = [row.deal.account for row in dashboard.sort_health(rows, "-amount")]
    nonsense = [row.deal.account for row in dashboard.sort_health(rows, "drop table")]

    # Bravo and Alpha are both at risk: Bravo has three reasons.
    assert worst_first == ["Charlie", "Bravo", "Alpha"]
    assert by_amount == ["Alpha", "Bravo", "Charlie"]
    assert smallest_first == ["Charlie", "Bravo", "Alpha"]
    assert nonsense == worst_first


def test_forecast_check_projects_signature_from_remaining_steps(scope):
    forecast = dashboard.forecast_check(scope)
    rows = {row.deal.account: row for row in forecast.rows}

    # Alpha: security (in progress) ends 14 Mar, then legal 15 and signature 1 business
    # days: Mon 7 Apr, 7 days after the 31 Mar target.
    assert (rows["Alpha"].projected, rows["Alpha"].gap_days, rows["Alpha"].at_risk) == (
        D(2025, 4, 7),
        7,
        True,
    )
    # Charlie: security (blocked, overdue) ends today at the earliest, then legal 3 and
    # signature 1: Tue 18 Mar, 11 days after the 7 Mar target.
    assert (rows["Charlie"].projected, rows["Charlie"].gap_days) == (D(2025, 3, 18), 11)
    # Bravo: its late steps still fit before the signature date (15 Apr).
    assert (rows["Bravo"].projected, rows["Bravo"].gap_days, rows["Bravo"].at_risk) == (
        D(2025, 4, 15),
        0,
        False,
    )
    assert [row.deal.account for row in forecast.rows] == ["Charlie", "Alpha", "Bravo"]
    assert [row.deal.account for row in forecast.at_risk] == ["Charlie", "Alpha"]
    assert forecast.amount_at_risk == {"USD": 120000}
    assert rows["Alpha"].remaining_steps == 3


def test_forecast_check_monthly_committed_vs_projected(scope):
    months = dashboard.forecast_check(scope).months

    assert [
        (m.month, dict(m.committed), m.committed_count, dict(m.projected), m.projected_count)
        for m in months
    ] == [
        (D(2025, 3, 1), {"USD": 120000}, 2, {"USD": 20000}, 1),
        (D(2025, 4, 1), {"USD": 50000}, 1, {"USD": 150000}, 2),
    ]


def test_forecast_check_follows_the_signature_step_not_later_close_steps(scope, deals):
    from plans.models import Milestone, Plan

    plan = Plan.objects.get(deal=deals["Bravo"])
    # A close-plan step after the signature step, far in the future, does not delay it.
    Milestone.objects.create(
        organization=plan.organization,
        plan=plan,
        title="Reference call",
        position=9,
        due_date=D(2025, 9, 1),
        baseline_date=D(2025, 9, 1),
    )

    rows = {row.deal.account: row for row in dashboard.forecast_check(scope).rows}

    assert rows["Bravo"].projected == D(2025, 4, 15)


def test_forecast_check_with_every_step_done_uses_the_last_due_date(scope, deals):
    from plans.models import Milestone

    Milestone.objects.filter(plan__deal=deals["Charlie"]).update(status="done")

    rows = {row.deal.account: row for row in dashboard.forecast_check(scope).rows}

    assert (rows["Charlie"].projected, rows["Charlie"].remaining_steps) == (D(2025, 3, 7), 0)


def test_slip_summary_rate_and_days(scope):
    slips = dashboard_history.slip_summary(scope)

    # 18 dated steps (Bravo's undated step and Echo's cancelled kickoff left out), 6 later
    # than their baseline by 7 + 7 + 14 + 7 + 14 + 14 days.
    assert (slips.dated, slips.slipped, slips.slip_days) == (18, 6, 63)
    assert slips.rate == pytest.approx(1 / 3)


def test_slip_reasons_grouped_ignoring_case_and_spaces(scope):
    reasons = dashboard_history.slip_reasons(scope)

    # "Pulled in" moved a date earlier: not a slip.
    assert [(r.reason, r.count, r.days) for r in reasons] == [
        ("Security asked for more time", 4, 42),
        ("Budget freeze", 1, 14),
        ("Legal on holiday", 1, 7),
    ]
    assert len(dashboard_history.slip_reasons(scope, limit=1)) == 1


def test_step_durations_planned_vs_actual_by_title(scope):
    rows = dashboard_history.step_durations(scope)

    assert [
        (r.title, r.steps, r.done, r.slipped, r.planned, r.actual, r.overrun) for r in rows
    ] == [
        # Done: Echo 10 + 12 business days late = 22, Foxtrot 10 + 10 = 20.
        ("Security review", 5, 2, 4, 10.0, 21.0, 11.0),
        # Echo: 5 planned, completed 5 business days after its baseline.
        ("Legal review", 3, 1, 1, 5.0, 10.0, 5.0),
        # Echo 1, Foxtrot 1 + 10. Same overrun as legal, lower slip rate (1 of 5).
        ("Signature", 5, 2, 1, 1.0, 6.0, 5.0),
        # Alpha 7, Charlie 5, Echo 5, Foxtrot done early (at least 1): 4.5.
        ("Business case", 5, 4, 0, 5.0, 4.5, -0.5),
        ("Kickoff", 1, 0, 0, None, None, None),
    ]


def test_overdue_by_owner_counts_each_step_on_both_sides(scope):
    report = dashboard_history.overdue_by_owner(scope)

    assert (report.total, report.buyer_side, report.seller_side) == (4, 3, 4)
    assert [(r.owner, r.side, r.account, r.overdue, r.days_overdue) for r in report.rows] == [
        ("Sol Engineer", "seller", "", 2, 12),
        ("Bea Security", "buyer", "Charlie", 1, 12),
        ("Len Legal", "buyer", "Charlie", 1, 8),
        ("Lee Legal", "seller", "", 1, 8),
        ("Eve Economic", "buyer", "Charlie", 1, 5),
        ("Ann Executive", "seller", "", 1, 5),
        ("No owner", "buyer", "Bravo", 1, 2),
    ]


def test_outcomes_with_and_without_signed_map(scope):
    rows = {row.key: row for row in dashboard_history.outcomes(scope)}

    signed, unsigned, everything = rows["signed"], rows["unsigned"], rows["all"]
    # Echo: won, 86 days from 2 Dec to 26 Feb, before its 28 Feb target.
    assert (signed.closed, signed.won, signed.win_rate, signed.median_cycle) == (1, 1, 1, 86)
    assert signed.on_time_share == 1
    # Foxtrot (won, 105 days, after its original 31 Jan target) and Golf (lost, 56 days).
    assert (unsigned.closed, unsigned.won, unsigned.win_rate) == (2, 1, 0.5)
    assert unsigned.median_cycle == 80.5
    assert unsigned.on_time_share == 0
    assert (everything.closed, everything.won, everything.median_cycle) == (3, 2, 86)
    assert everything.win_rate == pytest.approx(2 / 3)
    assert everything.on_time_share == 0.5


def test_seller_scope_sees_only_own_deals(acme, alice, deals):
    scope = Scope.build(acme, owner=alice, now=NOW)

    assert sum(row.count for row in dashboard.pipeline_by_stage(scope)) == 2
    assert {row.deal.account for row in dashboard.map_health(scope).rows} == {"Alpha", "Bravo"}
    assert dashboard_history.overdue_by_owner(scope).total == 1
    outcomes = {row.key: row for row in dashboard_history.outcomes(scope)}
    assert (outcomes["all"].closed, outcomes["all"].won) == (2, 1)
    # Alpha's and Echo's slips only.
    assert dashboard_history.slip_summary(scope).slipped == 3


def test_filters_by_stage_close_period_and_amount(acme, deals):
    negotiation = Scope.build(acme, stage="negotiation", now=NOW)
    spring = Scope.build(acme, close_from=D(2025, 4, 1), close_to=D(2025, 5, 31), now=NOW)
    middle = Scope.build(acme, amount_min=Decimal(40000), amount_max=Decimal(90000), now=NOW)

    assert set(negotiation.deals.values_list("account_name", flat=True)) == {"Alpha"}
    # Closed deals count by their closed date (all before April), open ones by target.
    assert set(spring.deals.values_list("account_name", flat=True)) == {"Bravo", "Delta"}
    assert set(middle.deals.values_list("account_name", flat=True)) == {"Bravo", "Echo", "Golf"}
    assert {r.key: r.closed for r in dashboard_history.outcomes(middle)}["all"] == 2


def test_metrics_of_an_empty_workspace(acme):
    scope = Scope.build(acme, now=NOW)

    assert dashboard.map_coverage(scope).plan_share is None
    assert dashboard.map_health(scope).rows == []
    assert dashboard.forecast_check(scope).months == []
    assert dashboard_history.slip_summary(scope).rate is None
    assert dashboard.pipeline_by_month(scope) == []
    assert all(row.win_rate is None for row in dashboard_history.outcomes(scope))


def test_every_metric_has_a_definition():
    definitions = dashboard_history.definitions()

    assert set(definitions) == set(dashboard_history.METRICS)
    for text in definitions.values():
        assert len(text) > 60
        assert "\n" not in text
    assert "buyer visit" in definitions["map_health"]
    assert "latest activity" in definitions["map_health"]


def test_today_constant_matches_now():
    assert NOW.date() == TODAY


def test_filtered_scope_computes_the_same_as_the_whole_workspace(acme, deals):
    # The whole workspace scopes queries by organization alone; any filter scopes them
    # through the deals. A filter that keeps every deal must not change a single figure.
    whole = Scope.build(acme, now=NOW)
    everything = Scope.build(acme, amount_min=Decimal(0), now=NOW)

    assert whole.whole_workspace
    assert not everything.whole_workspace
    for name, metric in dashboard_history.METRICS.items():
        assert metric(whole) == metric(everything), name
