from datetime import timedelta

import pytest
from django.utils import timezone

from deals.models import Deal
from plans import services
from stakeholders.actors import Actor
from tests.factories import DealFactory, MembershipFactory, PlanFactory, UserFactory
from tests.helpers import assert_error_next_to, assert_fragment, assert_page, htmx, snapshot, url


@pytest.fixture
def deals(acme, alice, bob):
    today = timezone.localdate()
    return {
        "initech": DealFactory(
            organization=acme,
            owner=alice,
            account_name="Initech",
            name="Platform rollout",
            amount=180000,
            stage="negotiation",
            target_close_date=today + timedelta(days=40),
        ),
        "hooli": DealFactory(
            organization=acme,
            owner=bob,
            account_name="Hooli",
            name="Team plan",
            amount=24000,
            stage="evaluation",
            target_close_date=today + timedelta(days=20),
        ),
        "stark": DealFactory(
            organization=acme,
            owner=alice,
            account_name="Stark Industries",
            name="Global deployment",
            amount=320000,
            stage="closed_won",
            target_close_date=today - timedelta(days=5),
        ),
    }


def accounts(html: str) -> list[str]:
    """Account names in the order of the results table."""
    found = []
    for name in ["Initech", "Hooli", "Stark Industries", "Vandelay"]:
        at = html.find(f">{name}</a>")
        if at != -1:
            found.append((at, name))
    return [name for _, name in sorted(found)]


# deal-list ----------------------------------------------------------------------------


def test_deal_list_sorts_by_close_date_by_default(alice_client, deals):
    html = assert_page(alice_client.get(url("deals:deal-list")))

    assert accounts(html) == ["Stark Industries", "Hooli", "Initech"]
    assert "No plan" in html
    assert ">New deal</a>" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "init"}, ["Initech"]),
        ({"q": "team"}, ["Hooli"]),
        ({"q": "nothing like it"}, []),
        ({"stage": "open"}, ["Hooli", "Initech"]),
        ({"stage": "closed_won"}, ["Stark Industries"]),
        ({"stage": "bogus"}, ["Stark Industries", "Hooli", "Initech"]),
        ({"owner": "me"}, ["Stark Industries", "Initech"]),
        ({"owner": "not-a-uuid"}, []),
        ({"sort": "-close"}, ["Initech", "Hooli", "Stark Industries"]),
        ({"sort": "-amount"}, ["Stark Industries", "Initech", "Hooli"]),
        ({"sort": "account"}, ["Hooli", "Initech", "Stark Industries"]),
        ({"sort": "bogus"}, ["Stark Industries", "Hooli", "Initech"]),
        ({"stage": "open", "owner": "me", "q": "plat"}, ["Initech"]),
    ],
)
def test_deal_list_search_filter_sort(alice_client, deals, params, expected):
    html = assert_page(alice_client.get(url("deals:deal-list"), params))

    assert accounts(html) == expected


def test_deal_list_filters_by_owner_id(alice_client, deals, bob):
    html = alice_client.get(url("deals:deal-list"), {"owner": str(bob.public_id)}).content

    assert accounts(html.decode()) == ["Hooli"]


def test_deal_list_no_match_says_so(alice_client, deals):
    html = alice_client.get(url("deals:deal-list"), {"q": "zzz"}).content.decode()

    assert "No deals match these filters." in html


def test_deal_list_hides_archived_plans_unless_asked(alice_client, deals, alice):
    plan = PlanFactory(deal=deals["initech"])
    services.archive_plan(plan, actor=Actor.seller(alice), archived=True)

    hidden = alice_client.get(url("deals:deal-list")).content.decode()
    shown = alice_client.get(url("deals:deal-list"), {"archived": "1"}).content.decode()

    assert "Initech" not in accounts(hidden)
    assert "Initech" in accounts(shown)
    assert "archived" in shown


def test_deal_list_htmx_returns_only_the_results(alice_client, deals):
    response = alice_client.get(url("deals:deal-list"), {"q": "hoo"}, **htmx("deal-results"))

    html = assert_fragment(response)
    assert html.startswith('<div id="deal-results">')
    assert accounts(html) == ["Hooli"]
    assert 'role="search"' not in html


def test_deal_list_shows_only_the_workspace_deals(alice_client, deals, globex, charlie):
    DealFactory(organization=globex, owner=charlie, account_name="Vandelay")

    html = alice_client.get(url("deals:deal-list")).content.decode()

    assert "Vandelay" not in html
    assert "Charlie" not in html  # nor their people in the owner filter


# deal-create --------------------------------------------------------------------------


def deal_data(**overrides):
    data = {
        "account_name": "Umbrella Corp",
        "name": "EMEA expansion",
        "amount": "95000",
        "currency": "eur",
        "stage": "proposal",
        "owner": "",
        "target_close_date": "2031-03-14",
    }
    data.update(overrides)
    return data


def test_deal_create_get_shows_the_form(alice_client, alice):
    html = assert_page(alice_client.get(url("deals:deal-create")))

    assert ">Create deal</button>" in html
    assert "Closed won" not in html  # a new deal is open


def test_deal_create_saves_and_goes_to_the_plan_builder(alice_client, acme, alice):
    response = alice_client.post(url("deals:deal-create"), deal_data(owner=alice.pk))

    deal = Deal.objects.get(account_name="Umbrella Corp")
    assert response.status_code == 302
    assert response["Location"] == deal.get_absolute_url()
    assert (deal.organization, deal.owner, deal.currency) == (acme, alice, "EUR")
    assert deal.original_close_date == deal.target_close_date


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"account_name": ""}, "id_account_name", "This field is required."),
        ({"target_close_date": "14/03/2031"}, "id_target_close_date", "Enter a valid date."),
        ({"currency": "E1R"}, "id_currency", "Use a three-letter currency code"),
        ({"amount": "-1"}, "id_amount", "The amount cannot be negative."),
        ({"stage": "closed_won"}, "id_stage", "Select a valid choice."),
    ],
)
def test_deal_create_invalid_is_422_next_to_the_field(
    alice_client, alice, overrides, field, message
):
    before = snapshot()

    response = alice_client.post(url("deals:deal-create"), deal_data(owner=alice.pk, **overrides))

    html = assert_page(response, 422)
    assert_error_next_to(html, field, message)
    assert snapshot() == before


def test_deal_create_owner_from_another_workspace_is_422(alice_client, charlie):
    before = snapshot()

    response = alice_client.post(url("deals:deal-create"), deal_data(owner=charlie.pk))

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_owner", "Select a valid choice.")
    assert snapshot() == before


# deal-edit ----------------------------------------------------------------------------


def test_deal_edit_get_and_post(alice_client, deals, bob):
    deal = deals["initech"]
    endpoint = url("deals:deal-edit", deal_id=deal.public_id)

    assert 'value="Initech"' in assert_page(alice_client.get(endpoint))
    response = alice_client.post(
        endpoint, deal_data(account_name="Initech AG", owner=bob.pk, stage="closed_lost")
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.account_name, deal.owner, deal.stage) == ("Initech AG", bob, "closed_lost")
    # The original target close date is kept for "closed on or before the original target".
    assert deal.original_close_date != deal.target_close_date


def test_deal_edit_invalid_is_422_and_changes_nothing(alice_client, deals, alice):
    before = snapshot()

    response = alice_client.post(
        url("deals:deal-edit", deal_id=deals["initech"].public_id),
        deal_data(owner=alice.pk, name=""),
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_name", "This field is required.")
    assert snapshot() == before


# deal-close ---------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["closed_won", "closed_lost"])
def test_deal_close_won_or_lost(alice_client, deals, outcome):
    deal = deals["initech"]

    response = alice_client.post(
        url("deals:deal-close", deal_id=deal.public_id),
        {"outcome": outcome, "closed_date": "2031-03-14"},
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_date.isoformat()) == (outcome, "2031-03-14")


def test_deal_close_reopen(alice_client, deals):
    deal = deals["stark"]

    alice_client.post(url("deals:deal-close", deal_id=deal.public_id), {"outcome": "reopen"})

    deal.refresh_from_db()
    assert (deal.stage, deal.closed_date) == ("negotiation", None)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"outcome": "closed_won", "closed_date": "yesterday"},
            "id_closed_date",
            "Enter a valid date.",
        ),
        ({"outcome": "won", "closed_date": "2031-03-14"}, "id_outcome", "Select a valid choice."),
    ],
)
def test_deal_close_invalid_is_422_next_to_the_field(alice_client, deals, data, field, message):
    before = snapshot()

    response = alice_client.post(url("deals:deal-close", deal_id=deals["initech"].public_id), data)

    html = assert_page(response, 422)
    assert_error_next_to(html, field, message)
    assert snapshot() == before


def test_deal_close_refuses_get(alice_client, deals):
    response = alice_client.get(url("deals:deal-close", deal_id=deals["initech"].public_id))

    assert response.status_code == 405


def test_deal_views_are_open_to_every_member(client, deals, acme):
    other_seller = MembershipFactory(organization=acme, user=UserFactory()).user
    client.force_login(other_seller)

    assert client.get(url("deals:deal-edit", deal_id=deals["initech"].public_id)).status_code == 200
