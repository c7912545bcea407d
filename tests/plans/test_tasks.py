"""The beat task plans.refresh_dashboard_summaries: every workspace's dashboard summaries
brought to its own day (in its own time zone), one query for a workspace with nothing
behind, and a failing workspace logged and skipped."""

import logging
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from config.celery import app
from deals.models import Organization
from plans import tasks
from plans.dashboard import summaries as dashboard_summaries
from plans.models import Milestone, PlanSummary, TitleSummary
from tests.factories import OrganizationFactory

from .dashboard_data import NOW, build, build_globex

# 12:00 UTC on Friday 14 March: still the 14th in London and Los Angeles, already 01:00 on
# the 15th on Kiritimati (UTC+14), where Alpha's security review (due the 14th) falls due.
LATER = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def workspaces(acme, alice, bob, globex, charlie):
    """Acme (Europe/London), the same deals in a workspace on Kiritimati, and Globex (Los
    Angeles), their summaries computed at NOW."""
    line = OrganizationFactory(name="Line Islands", slug="line", time_zone="Pacific/Kiritimati")
    with time_machine.travel(NOW, tick=False):
        build(acme, alice, bob)
        build(line, alice, bob)
        build_globex(globex, charlie)
        tasks.refresh_dashboard_summaries()
    return {"acme": acme, "line": line, "globex": globex}


def behind(organization, now) -> set[int]:
    today = dashboard_summaries.today_of(organization, now)
    plans = dashboard_summaries._plans_behind(organization, now=now, today=today)
    return set(plans.values_list("id", flat=True))


# The figures a plan's row keeps (not its bookkeeping: the stamps, the day the overdue
# steps were counted on and the dates they next change).
BOOKKEEPING = {"stamp", "computed", "overdue_on", "next_due", "next_late"}
FIGURES = [f.attname for f in PlanSummary._meta.concrete_fields if f.name not in BOOKKEEPING]


def kept(organization) -> list[dict]:
    return list(
        PlanSummary.objects.filter(organization=organization).values(*FIGURES).order_by("plan_id")
    )


def from_scratch(organization, now) -> list[dict]:
    PlanSummary.objects.filter(organization=organization).update(computed=-1)
    dashboard_summaries.refresh_plans(organization, now=now)
    return kept(organization)


def test_refresh_dashboard_summaries_brings_each_workspace_to_its_own_day(workspaces):
    acme, line, globex = workspaces["acme"], workspaces["line"], workspaces["globex"]
    Milestone.objects.filter(organization=globex).update(duration_days=3)  # a write
    assert behind(acme, LATER) == set()  # nothing fell due in London yet
    assert len(behind(line, LATER)) == 2  # on Kiritimati it is the 15th
    assert behind(globex, LATER)

    with time_machine.travel(LATER, tick=False):
        result = tasks.refresh_dashboard_summaries()

    assert result == {"workspaces": 3, "failed": 0}
    for organization in (acme, line, globex):
        assert behind(organization, LATER) == set()
        assert not TitleSummary.objects.filter(organization=organization).exclude(
            computed=F("stamp"), time_zone=organization.time_zone
        )
    # Kiritimati's two plans recounted as of its 15th; London's left as of the 12th.
    assert PlanSummary.objects.filter(organization=line, overdue_on=date(2025, 3, 15)).count() == 2
    assert not PlanSummary.objects.filter(organization=acme).exclude(overdue_on=date(2025, 3, 12))
    summaries = {slug: kept(organization) for slug, organization in workspaces.items()}
    for slug, organization in workspaces.items():
        assert summaries[slug] == from_scratch(organization, LATER), slug


def test_refresh_dashboard_summaries_reads_a_moment_without_offset_as_utc(workspaces):
    line = workspaces["line"]
    assert len(behind(line, LATER)) == 2

    result = tasks.refresh_dashboard_summaries(now=LATER.replace(tzinfo=None).isoformat())

    assert result == {"workspaces": 3, "failed": 0}
    assert behind(line, LATER) == set()


def test_refresh_dashboard_summaries_costs_one_query_per_workspace_with_nothing_behind(
    workspaces,
):
    with time_machine.travel(LATER, tick=False):
        tasks.refresh_dashboard_summaries()  # the 15th on Kiritimati

        with CaptureQueriesContext(connection) as queries:
            result = tasks.refresh_dashboard_summaries()

    # The test runs in a transaction: each workspace's savepoint is not a query of its own.
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert result == {"workspaces": 3, "failed": 0}
    assert len(sql) == 1 + 3  # the workspaces, then one EXISTS query each


def _unknown_time_zone(organization, monkeypatch):
    Organization.objects.filter(pk=organization.pk).update(time_zone="Mars/Olympus_Mons")


def _database_error(organization, monkeypatch):
    refresh_plans = dashboard_summaries.refresh_plans

    def failing(org, **kwargs):
        refresh_plans(org, **kwargs)  # its rows written, then undone with the error
        if org.pk == organization.pk:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(dashboard_summaries, "refresh_plans", failing)


@pytest.mark.parametrize("failure", [_unknown_time_zone, _database_error])
def test_refresh_dashboard_summaries_goes_on_after_a_failing_workspace(
    workspaces, failure, monkeypatch, caplog
):
    acme, line, globex = workspaces["acme"], workspaces["line"], workspaces["globex"]
    for organization in workspaces.values():
        Milestone.objects.filter(organization=organization).update(duration_days=3)
    assert acme.pk < line.pk and acme.pk < globex.pk  # the first one fails
    failure(acme, monkeypatch)

    with time_machine.travel(LATER, tick=False), caplog.at_level(logging.ERROR):
        result = tasks.refresh_dashboard_summaries()

    assert result == {"workspaces": 3, "failed": 1}
    assert f"could not refresh workspace {acme.pk}" in caplog.text
    assert behind(line, LATER) == set()
    assert behind(globex, LATER) == set()
    acme.refresh_from_db()
    acme.time_zone = "Europe/London"
    assert behind(acme, LATER)  # left as it was, for the next run


def test_beat_schedule_refreshes_the_dashboard_summaries_every_15_minutes():
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["dashboard-summaries-refresh"]

    assert entry["task"] == "plans.refresh_dashboard_summaries"
    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert len(entry["schedule"].hour) == 24
    # A run that waited past the next one is dropped: the next does the same work.
    assert 0 < entry["options"]["expires"] < 15 * 60
