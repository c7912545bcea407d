"""/api/v1/deals/: list with filters and cursor pagination, create, update with If-Match,
isolation across workspaces."""

from datetime import timedelta

from django.utils import timezone

from deals.models import Deal, Membership
from plans.models import Activity, Milestone
from tests.factories import MembershipFactory, UserFactory

from .conftest import TARGET, make_deal, make_plan


def test_deal_list_filters_by_stage_owner_and_overdue(api, acme, alice, bob):
    make_deal(acme, alice, account_name="Open A", stage="evaluation")
    make_deal(acme, bob, account_name="Won B", stage="closed_won")
    plan = make_plan(acme, alice, account_name="Late C", stage="proposal")
    Milestone.objects.filter(plan=plan, position=1).update(
        due_date=timezone.localdate() - timedelta(days=3)
    )

    def names(**params):
        response = api.get("/api/v1/deals/", params)
        assert response.status_code == 200, response.json()
        return sorted(d["account_name"] for d in response.json()["results"])

    assert names(stage="open") == ["Late C", "Open A"]
    assert names(stage="closed_won") == ["Won B"]
    assert names(owner=str(bob.public_id)) == ["Won B"]
    assert names(overdue="true") == ["Late C"]
    assert names(overdue="false") == ["Open A", "Won B"]


def test_deal_list_updated_since_and_ordering(api, acme, alice):
    old = make_deal(acme, alice, account_name="Old", amount=5)
    Deal.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=10))
    make_deal(acme, alice, account_name="New", amount=9)
    since = (timezone.now() - timedelta(days=1)).isoformat()

    recent = api.get("/api/v1/deals/", {"updated_since": since}).json()["results"]
    by_amount = api.get("/api/v1/deals/", {"ordering": "-amount"}).json()["results"]

    assert [d["account_name"] for d in recent] == ["New"]
    assert [d["account_name"] for d in by_amount] == ["New", "Old"]


def test_deal_list_invalid_filters_are_400_with_field_errors(api):
    response = api.get("/api/v1/deals/", {"stage": "nope", "updated_since": "yesterday"})

    assert response.status_code == 400
    assert set(response.json()) == {"stage", "updated_since"}


def test_deal_list_cursor_pagination(api, acme, alice):
    for n in range(5):
        make_deal(acme, alice, account_name=f"A{n}", target_close_date=TARGET + timedelta(n))

    first = api.get("/api/v1/deals/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    names = [d["account_name"] for page in (first, second, third) for d in page["results"]]
    assert names == ["A0", "A1", "A2", "A3", "A4"]
    assert third["next"] is None


def test_deal_create(api, acme, alice):
    response = api.post(
        "/api/v1/deals/",
        {
            "account_name": "Hooli",
            "name": "Team plan",
            "amount": "24000",
            "currency": "eur",
            "owner": str(alice.public_id),
            "target_close_date": TARGET.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    deal = Deal.objects.get(public_id=body["id"])
    assert deal.organization == acme and deal.owner == alice and deal.currency == "EUR"
    assert response["Location"].endswith(f"/api/v1/deals/{deal.public_id}/")
    assert response["ETag"]
    assert body["plan"] is None and body["owner_name"] == "Alice Seller"


def test_deal_create_defaults_owner_to_key_creator(api, acme, acme_admin):
    response = api.post(
        "/api/v1/deals/",
        {"account_name": "X", "name": "Y", "target_close_date": TARGET.isoformat()},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["owner"] == str(acme_admin.public_id)


def test_deal_create_validation_errors(api, acme, alice, charlie):
    response = api.post(
        "/api/v1/deals/",
        {
            "account_name": "",
            "name": "Y",
            "currency": "EURO",
            "amount": "-1",
            "stage": "closed_won",
            "owner": str(charlie.public_id),
            "target_close_date": "soon",
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {
        "account_name",
        "currency",
        "amount",
        "owner",
        "target_close_date",
    }
    assert Deal.objects.count() == 0


def test_deal_update_requires_if_match(api, acme, alice):
    deal = make_deal(acme, alice)

    response = api.patch(f"/api/v1/deals/{deal.public_id}/", {"name": "Z"}, format="json")

    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    deal.refresh_from_db()
    assert deal.name == "Platform rollout"


def test_deal_update_with_etag_then_stale_etag_is_412(api, acme, alice):
    deal = make_deal(acme, alice)
    url = f"/api/v1/deals/{deal.public_id}/"
    etag = api.get(url)["ETag"]

    ok = api.patch(url, {"stage": "closed_won"}, format="json", HTTP_IF_MATCH=etag)
    stale = api.patch(url, {"name": "Other"}, format="json", HTTP_IF_MATCH=etag)

    assert ok.status_code == 200, ok.json()
    assert ok.json()["stage"] == "closed_won" and ok.json()["closed_date"]
    assert ok["ETag"] != etag
    assert stale.status_code == 412
    assert stale["ETag"] == ok["ETag"]
    deal.refresh_from_db()
    assert deal.name == "Platform rollout" and deal.closed_date is not None


def test_deal_get_if_none_match_is_304(api, acme, alice):
    deal = make_deal(acme, alice)
    url = f"/api/v1/deals/{deal.public_id}/"
    etag = api.get(url)["ETag"]

    response = api.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304


def test_deal_owner_change_is_recorded_in_the_plan_feed(api, acme, alice, bob):
    plan = make_plan(acme, alice)
    url = f"/api/v1/deals/{plan.deal.public_id}/"
    etag = api.get(url)["ETag"]

    response = api.patch(url, {"owner": str(bob.public_id)}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    activity = Activity.objects.filter(plan=plan, verb="deal_transferred").get()
    assert "Bob Manager" in activity.summary
    assert activity.actor_name == "API key “Salesforce sync”" and activity.actor_user is None


def test_deal_other_workspace_is_404_and_unchanged(api, globex, charlie):
    deal = make_deal(globex, charlie, name="Secret")
    url = f"/api/v1/deals/{deal.public_id}/"

    assert api.get(url).status_code == 404
    assert api.patch(url, {"name": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 404
    assert api.get("/api/v1/deals/").json()["results"] == []
    deal.refresh_from_db()
    assert deal.name == "Secret"


def test_deal_unknown_api_address_is_json_404(api):
    assert api.get("/api/v1/deals/not-a-uuid/").json() == {"detail": "Not found."}
    assert api.get("/api/v1/nothing/").status_code == 404


def test_deal_member_who_left_cannot_be_owner(api, acme):
    former = MembershipFactory(organization=acme, user=UserFactory()).user
    Membership.objects.filter(user=former).delete()

    response = api.post(
        "/api/v1/deals/",
        {
            "account_name": "X",
            "name": "Y",
            "owner": str(former.public_id),
            "target_close_date": TARGET.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 400 and "owner" in response.json()
