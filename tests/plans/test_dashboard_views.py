"""The dashboard page: scope by role, isolation, filters, bad input, CSV exports, and a
query count that does not grow with the data."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from tests.conftest import needs_postgres

from .dashboard_data import NOW, Builder, build, build_globex

URL = reverse("plans:dashboard", kwargs={"org_slug": "acme"})


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def deals(acme, alice, bob, globex, charlie):
    build_globex(globex, charlie)
    return build(acme, alice, bob)


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_dashboard_manager_sees_every_deal_of_the_workspace(client, bob, deals):
    client.force_login(bob)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    for account in ("Alpha", "Bravo", "Charlie"):
        assert f">{account}</a>" in html
    assert "Every deal of Acme Software" in html
    assert 'id="dashboard-charts"' in html
    assert html.count('class="info-tip"') == 10
    assert 'aria-current="page">Dashboard</a>' in html


def test_dashboard_other_org_sees_nothing_of_acme(client, bob, deals):
    client.force_login(bob)

    html = client.get(URL).content.decode()
    health = _csv(client.get(URL, {"export": "health"}))
    reasons = _csv(client.get(URL, {"export": "slip-reasons"}))

    assert "Initrode" not in html
    assert "Globex" not in html
    assert "999,000" not in html
    assert {row[0] for row in health[1:]} == {"Alpha", "Bravo", "Charlie"}
    assert "Globex reason" not in {row[0] for row in reasons}


@pytest.mark.parametrize("query", ["", "?export=health"])
def test_dashboard_other_org_member_is_404(client, charlie, deals, query):
    client.force_login(charlie)

    assert client.get(URL + query).status_code == 404


def test_dashboard_anonymous_redirects_to_sign_in(client, acme):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_dashboard_seller_sees_only_own_deals(client, alice, bob, deals):
    client.force_login(alice)

    response = client.get(URL, {"owner": str(bob.public_id)})

    assert response.status_code == 200
    html = response.content.decode()
    assert ">Alpha</a>" in html
    assert ">Bravo</a>" in html
    assert ">Charlie</a>" not in html
    assert "Your deals" in html
    assert 'name="owner"' not in html
    health = _csv(client.get(URL, {"export": "health", "owner": str(bob.public_id)}))
    assert {row[0] for row in health[1:]} == {"Alpha", "Bravo"}


def test_dashboard_filters_by_owner(client, bob, deals):
    client.force_login(bob)

    response = client.get(URL, {"owner": str(bob.public_id)})

    html = response.content.decode()
    assert ">Charlie</a>" in html
    assert ">Alpha</a>" not in html
    assert f'<option value="{bob.public_id}" selected>' in html


def test_dashboard_filters_by_stage_period_and_amount(client, bob, deals):
    client.force_login(bob)

    # This quarter (Jan–Mar 2025) and at least 20,000: Alpha and Charlie are open and due
    # in March; Echo (26 Feb), Golf (3 Mar) and Foxtrot (14 Feb) closed in the quarter.
    rows = _csv(
        client.get(URL, {"export": "health", "period": "this_quarter", "amount_min": "20000"})
    )
    outcomes = _csv(
        client.get(URL, {"export": "outcomes", "period": "this_quarter", "amount_min": "20000"})
    )
    negotiation = _csv(client.get(URL, {"export": "health", "stage": "negotiation"}))
    next_quarter = _csv(client.get(URL, {"export": "pipeline-stage", "period": "next_quarter"}))

    assert {row[0] for row in rows[1:]} == {"Alpha", "Charlie"}
    assert outcomes[3][:3] == ["All closed deals", "3", "2"]
    assert {row[0] for row in negotiation[1:]} == {"Alpha"}
    # Bravo (15 Apr) and Delta (20 May).
    assert {(row[0], row[1]) for row in next_quarter[1:] if row[1] != "0"} == {
        ("Proposal", "1"),
        ("Discovery", "1"),
    }


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"amount_min": "lots"}, "amount_min", "Enter an amount such as 50000."),
        ({"amount_min": "-5"}, "amount_min", "greater than or equal to 0"),
        (
            {"amount_min": "900", "amount_max": "100"},
            "amount_max",
            "The maximum is below the minimum.",
        ),
        ({"close_from": "2025-02-30"}, "close_from", "Enter a date such as 2025-01-31."),
        (
            {"period": "custom", "close_from": "2025-05-01", "close_to": "2025-04-01"},
            "close_to",
            "The end date is before the start date.",
        ),
        ({"period": "custom"}, "close_from", "Give a start or an end date for custom dates."),
        (
            {"period": "this_year", "close_from": "2025-05-01"},
            "period",
            "Choose “Custom dates” to use your own dates",
        ),
        ({"period": "someday"}, "period", "Choose a period from the list."),
        ({"stage": "won?"}, "stage", "Choose a stage from the list."),
        ({"owner": "not-a-uuid"}, "owner", "Choose an owner from the list."),
        (
            {"owner": "00000000-0000-0000-0000-000000000000"},
            "owner",
            "Choose an owner from the list.",
        ),
    ],
)
def test_dashboard_bad_filter_is_422_with_message(client, bob, deals, params, field, message):
    client.force_login(bob)

    response = client.get(URL, params)

    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert "correct the highlighted fields" in html
    assert 'id="dashboard-charts"' not in html
    assert response.context["form"].errors[field]


def test_dashboard_owner_from_another_workspace_is_rejected(client, bob, charlie, deals):
    client.force_login(bob)

    response = client.get(URL, {"owner": str(charlie.public_id)})

    assert response.status_code == 422
    assert "Choose an owner from the list." in response.content.decode()


def test_dashboard_export_with_bad_filter_is_422_text(client, bob, deals):
    client.force_login(bob)

    response = client.get(URL, {"export": "health", "amount_max": "abc"})

    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert "Amount up to: Enter an amount such as 250000." in response.content.decode()


def test_dashboard_export_unknown_table_is_404(client, bob, deals):
    client.force_login(bob)

    response = client.get(URL, {"export": "passwords"})

    assert response.status_code == 404
    assert "There is no table “passwords” to export." in response.content.decode()


EXPORTS = [
    ("pipeline-stage", ["stage", "deals", "currency", "amount"], 4),
    ("pipeline-month", ["target close month", "deals", "currency", "amount"], 3),
    ("coverage", ["threshold", "open deals at or above it", "with a plan"], 1),
    ("health", ["account", "opportunity", "owner"], 3),
    ("forecast", ["account", "opportunity", "owner", "amount"], 3),
    ("forecast-months", ["month", "currency", "committed deals", "committed"], 2),
    ("slips", ["dated steps", "slipped steps", "slip rate (%)", "total slip days"], 1),
    ("slip-reasons", ["reason", "date moves", "days added"], 3),
    ("step-durations", ["step", "steps", "done", "slipped"], 5),
    ("overdue-owners", ["side", "owner", "account", "overdue steps"], 7),
    ("outcomes", ["group", "closed deals", "won", "lost"], 3),
]


@pytest.mark.parametrize(("table", "header", "rows"), EXPORTS)
def test_dashboard_export_every_table_as_csv(client, bob, deals, table, header, rows):
    client.force_login(bob)

    response = client.get(URL, {"export": table})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="tandem-acme-{table}-2025-03-12.csv"'
    )
    content = _csv(response)
    assert content[0][: len(header)] == header
    assert len(content) - 1 == rows


def test_dashboard_page_links_every_export(client, bob, deals):
    from plans.dashboard.views import EXPORTS as TABLES

    client.force_login(bob)

    html = client.get(URL, {"stage": "open"}).content.decode()

    for table in TABLES:
        assert f"?stage=open&amp;export={table}" in html


def test_dashboard_export_values(client, bob, deals):
    client.force_login(bob)

    forecast = _csv(client.get(URL, {"export": "forecast"}))
    slips = _csv(client.get(URL, {"export": "slips"}))
    health = _csv(client.get(URL, {"export": "health"}))

    assert forecast[1][:1] + forecast[1][5:] == [
        "Charlie",
        "2025-03-07",
        "2025-03-18",
        "11",
        "yes",
        "3",
    ]
    assert slips[1] == ["18", "6", "33.3", "63"]
    charlie = next(row for row in health if row[0] == "Charlie")
    assert charlie[9] == "Off track"
    assert charlie[-1].startswith("http://testserver/o/acme/deals/")


def test_dashboard_export_defuses_spreadsheet_formulas(client, bob, deals):
    from plans.models import DueDateChange

    DueDateChange.objects.filter(reason="Budget freeze").update(reason='=HYPERLINK("http://x")')
    client.force_login(bob)

    reasons = _csv(client.get(URL, {"export": "slip-reasons"}))
    durations = _csv(client.get(URL, {"export": "step-durations"}))

    assert ['\'=HYPERLINK("http://x")', "1", "14"] in reasons
    # Negative numbers stay numbers.
    assert next(row for row in durations if row[0] == "Business case")[-1] == "-0.5"


def test_dashboard_health_table_sorts_by_column(client, bob, deals):
    client.force_login(bob)

    by_amount = client.get(URL, {"sort": "amount"}).context["health_rows"]
    smallest = client.get(URL, {"sort": "-amount"}).context["health_rows"]
    html = client.get(URL, {"sort": "amount"}).content.decode()

    assert [row.deal.account for row in by_amount] == ["Alpha", "Bravo", "Charlie"]
    assert [row.deal.account for row in smallest] == ["Charlie", "Bravo", "Alpha"]
    assert '<th scope="col" aria-sort="descending"><a href="?sort=-amount#health-panel">' in html


def _grow(acme, owner, count: int) -> None:
    """`count` more deals, each with a plan of 6 steps (slipped, overdue, done), a date
    change and a buyer visit, half of them closed."""
    b = Builder(acme)
    start = date(2025, 1, 6)
    for index in range(count):
        closed = index % 2 == 1
        deal = b.deal(
            f"Bulk {index}",
            owner=owner,
            stage="closed_won" if closed else "proposal",
            amount=1000 * (index + 1),
            target=start + timedelta(days=7 * index),
            closed=start + timedelta(days=7 * index) if closed else None,
            created=date(2024, 11, 4),
        )
        plan = b.plan(deal, status="signed" if closed else "shared", target=deal.target_close_date)
        buyer = b.person(deal, f"Buyer {index}", "buyer")
        for position in range(1, 7):
            due = start + timedelta(days=7 * index - 14 + 3 * position)
            step = b.step(
                plan,
                f"Step {position}",
                position,
                due=due,
                baseline=due - timedelta(days=position % 3),
                status="done" if position < 3 else "not_started",
                completed=due if position < 3 else None,
                buyer=buyer if position % 2 else None,
                signature=position == 6,
            )
        b.moved(step, old=step.baseline_date, new=step.due_date, reason="Bulk", on=date(2025, 3, 1))
        b.buyer_activity(plan, on=date(2025, 3, 1))


# PostgreSQL runs one more statement: SET LOCAL jit = off (see plans.dashboard.analytics).
EXTRA = 1 if connection.vendor == "postgresql" else 0


# After a change, the summary tables with rows behind (plans, titles, reasons:
# plans.dashboard.summaries.refresh) recompute those rows, whatever their number: for plans
# one statement after the workspace's refresh lock on PostgreSQL, three on SQLite (their
# overdue groups, then the summaries), two for titles and for reasons (their keys, then the
# statement), each table in a transaction of its own (with its SET LOCAL on PostgreSQL).
PLANS_REFRESH = 2 if connection.vendor == "postgresql" else 3
BEHIND = PLANS_REFRESH + 4 + 3 * EXTRA


def test_dashboard_query_count_does_not_grow_with_deals(
    client, bob, acme, alice, deals, django_assert_num_queries
):
    client.force_login(bob)
    client.get(URL)  # the session and the site's first-request work

    # + the notification bell, + the engagement column (plans.materials.recent_engagement)
    with django_assert_num_queries(13 + EXTRA):
        assert client.get(URL).status_code == 200
    _grow(acme, alice, 40)
    with django_assert_num_queries(13 + BEHIND + EXTRA):
        client.get(URL)
    with django_assert_num_queries(13 + EXTRA):
        response = client.get(URL)
    assert response.context["health"].total == 3 + 20


def test_dashboard_export_query_count_does_not_grow_with_deals(
    client, bob, acme, alice, deals, django_assert_num_queries
):
    client.force_login(bob)
    client.get(URL)

    with django_assert_num_queries(6 + EXTRA):  # with the engagement column
        client.get(URL, {"export": "health"})
    _grow(acme, alice, 40)
    with django_assert_num_queries(6 + BEHIND + EXTRA):
        client.get(URL, {"export": "health"})
    with django_assert_num_queries(6 + EXTRA):
        assert len(_csv(client.get(URL, {"export": "health"}))) == 1 + 3 + 20


def test_settings_admin_sets_map_coverage_threshold(client, acme, acme_admin):
    client.force_login(acme_admin)
    url = reverse("deals:workspace-settings", kwargs={"org_slug": "acme"})

    response = client.post(
        url,
        {
            "ws-name": "Acme Software",
            "ws-time_zone": "UTC",
            "ws-room_link_days": "30",
            "ws-accent_color": "#1f6feb",
            "ws-map_coverage_threshold": "25000",
        },
    )

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.map_coverage_threshold == Decimal(25000)


def test_settings_negative_threshold_is_refused(client, acme, acme_admin):
    client.force_login(acme_admin)
    url = reverse("deals:workspace-settings", kwargs={"org_slug": "acme"})

    response = client.post(
        url, {"ws-name": "Acme Software", "ws-time_zone": "UTC", "ws-map_coverage_threshold": "-1"}
    )

    assert "greater than or equal to 0" in response.content.decode()
    acme.refresh_from_db()
    assert acme.map_coverage_threshold == 0


def test_dashboard_coverage_uses_the_threshold(client, bob, deals):
    client.force_login(bob)

    coverage = _csv(client.get(URL, {"export": "coverage"}))

    assert coverage[1] == ["10000.00", "3", "3", "100.0", "2", "66.7"]


@needs_postgres
def test_dashboard_turns_postgres_jit_off_for_its_queries(client, bob, deals):
    from django.test.utils import CaptureQueriesContext

    client.force_login(bob)

    with CaptureQueriesContext(connection) as queries:
        client.get(URL)

    statements = [query["sql"] for query in queries.captured_queries]
    assert "SET LOCAL jit = off" in statements  # the page's transaction
    # Before the dashboard's first aggregate (the summaries' refreshes come first, in
    # transactions of their own that also set it).
    first_set = next(i for i, sql in enumerate(statements) if sql.startswith("SET LOCAL jit = off"))
    assert first_set < next(i for i, sql in enumerate(statements) if "GROUP BY" in sql)
