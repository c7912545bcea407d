"""The dashboard's cache (plans.dashboard.cache): served while nothing changed, computed
afresh after any change of what it reads, never shared between scopes, and dated."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans import services
from plans.models import Milestone
from stakeholders.actors import Actor

from .dashboard_data import NOW, build, build_globex

URL = reverse("plans:dashboard", kwargs={"org_slug": "acme"})


@pytest.fixture(autouse=True)
def _frozen_and_cached(settings):
    # The fixtures are small: cache them anyway (the default skips scopes under 100 plans).
    settings.DASHBOARD_CACHE_MIN_PLANS = 0
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def deals(acme, alice, bob, globex, charlie):
    build_globex(globex, charlie)
    return build(acme, alice, bob)


def _get(client, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params or {})
    assert response.status_code == 200
    # Computing the figures reads the plans' summaries (and, after a change, the steps).
    metric_queries = [q["sql"] for q in queries.captured_queries if "plans_plansummary" in q["sql"]]
    return response, metric_queries


def test_dashboard_cache_serves_unchanged_figures_without_the_metric_queries(client, bob, deals):
    client.force_login(bob)

    first, computed = _get(client)
    second, cached = _get(client)

    assert computed  # the first request ran the metrics' queries
    assert cached == []  # the second read none of them
    assert second.context["health"].total == first.context["health"].total == 3
    assert second.context["overdue"].total == first.context["overdue"].total
    assert [r.deal.account for r in second.context["health_rows"]] == [
        r.deal.account for r in first.context["health_rows"]
    ]


def test_dashboard_cache_is_invalidated_by_a_milestone_change(client, bob, deals):
    client.force_login(bob)
    before, _ = _get(client)
    _get(client)  # cached
    step = Milestone.objects.get(plan__deal=deals["Bravo"], title="Business case")

    services.set_milestone_status(step, actor=Actor.seller(bob), status="done")
    after, queries = _get(client)

    assert queries  # computed afresh
    assert after.context["overdue"].total == before.context["overdue"].total - 1


def test_dashboard_cache_is_invalidated_by_a_plain_save_of_a_step(client, bob, deals):
    client.force_login(bob)
    before, _ = _get(client)
    step = Milestone.objects.get(plan__deal=deals["Bravo"], title="Business case")

    step.due_date = NOW.date() + timedelta(days=10)
    step.save()
    after, queries = _get(client)

    assert queries
    assert after.context["overdue"].total == before.context["overdue"].total - 1


def test_dashboard_cache_is_invalidated_by_a_step_deletion(client, bob, deals):
    client.force_login(bob)
    before, _ = _get(client)
    step = Milestone.objects.get(plan__deal=deals["Bravo"], title="Business case")

    services.delete_milestone(step, actor=Actor.seller(bob))
    after, _ = _get(client)

    assert after.context["overdue"].total == before.context["overdue"].total - 1


def test_dashboard_cache_is_invalidated_by_a_deal_change(client, bob, deals):
    client.force_login(bob)
    before, _ = _get(client)
    delta = deals["Delta"]

    delta.stage = "closed_lost"
    delta.closed_date = NOW.date()
    delta.save()
    after, _ = _get(client)

    assert after.context["pipeline"]["count"] == before.context["pipeline"]["count"] - 1


def test_dashboard_cache_is_invalidated_by_an_owner_rename(client, alice, bob, deals):
    client.force_login(bob)
    _get(client)

    alice.full_name = "Alice Renamed"
    alice.save()
    after, _ = _get(client)

    assert "Alice Renamed" in {row.deal.owner for row in after.context["health_rows"]}


def test_dashboard_cache_is_invalidated_by_the_coverage_threshold(client, acme, bob, deals):
    client.force_login(bob)
    before, _ = _get(client)

    acme.map_coverage_threshold = 0
    acme.save()
    after, _ = _get(client)

    assert before.context["coverage"].eligible == 3
    assert after.context["coverage"].eligible == 4  # Delta (5,000 EUR) counts now


def test_dashboard_cache_keeps_scopes_and_sorts_apart(client, alice, bob, deals):
    client.force_login(bob)
    everything, _ = _get(client)
    owners_only, _ = _get(client, {"owner": str(alice.public_id)})
    by_amount, _ = _get(client, {"sort": "amount"})
    by_smallest, _ = _get(client, {"sort": "-amount"})
    client.force_login(alice)
    own, _ = _get(client)

    assert everything.context["health"].total == 3
    assert owners_only.context["health"].total == 2
    assert own.context["health"].total == 2
    assert {r.deal.account for r in own.context["health_rows"]} == {"Alpha", "Bravo"}
    assert [r.deal.account for r in by_amount.context["health_rows"]] == [
        r.deal.account for r in reversed(by_smallest.context["health_rows"])
    ]


def test_dashboard_cache_other_workspace_change_keeps_the_entry(client, bob, globex, deals):
    client.force_login(bob)
    _get(client)

    globex.map_coverage_threshold = 1
    globex.save()
    _, queries = _get(client)

    assert queries == []


def test_dashboard_page_says_when_its_figures_were_computed(client, bob, deals):
    client.force_login(bob)

    first = client.get(URL).content.decode()
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        cached = client.get(URL).content.decode()
        Milestone.objects.filter(plan__deal=deals["Alpha"]).first().save()
        fresh = client.get(URL).content.decode()

    assert "figures as of 12:00" in first  # Europe/London is on GMT in March
    assert "figures as of 12:00" in cached
    assert "figures as of 12:03" in fresh


def test_dashboard_small_scopes_are_not_cached_by_default(client, bob, deals, settings):
    settings.DASHBOARD_CACHE_MIN_PLANS = 100
    client.force_login(bob)

    _get(client)
    _, queries = _get(client)

    assert queries  # 3 plans: computed on every request


def test_dashboard_cache_is_not_served_after_the_workspaces_midnight(client, bob, deals):
    # The key holds the workspace's date: figures cached at 23:58 are not served at 00:02,
    # when a step has fallen due (Alpha's security review, due on 14 March).
    client.force_login(bob)
    with time_machine.travel(datetime(2025, 3, 14, 23, 58, tzinfo=UTC), tick=False):
        evening, _ = _get(client)
        _, cached = _get(client)
    with time_machine.travel(datetime(2025, 3, 15, 0, 2, tzinfo=UTC), tick=False):
        morning, queries = _get(client)

    assert cached == []
    assert queries  # computed afresh
    assert morning.context["overdue"].total == evening.context["overdue"].total + 1


def test_dashboard_cache_is_not_served_after_a_deploy(client, bob, deals, settings):
    # Cached figures are pickled objects of the code that computed them.
    client.force_login(bob)
    _get(client)
    settings.RELEASE = "the next release"

    _response, computed = _get(client)

    assert computed
