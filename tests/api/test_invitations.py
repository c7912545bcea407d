"""POST /api/v1/stakeholders/{id}/invite/: a buyer gets a new personal room link by email,
returned once to the caller; refusals; isolation."""

from django.core import mail
from rest_framework.test import APIClient

from deals.models import hash_token
from plans import services as plan_services
from plans.models import Activity
from stakeholders import services as stakeholder_services
from stakeholders.models import RoomLink, Stakeholder

from .conftest import ACTOR


def _buyer(plan):
    return Stakeholder.objects.get(deal=plan.deal, email="priya@x.test")


def test_stakeholder_invite_returns_the_room_link_once(
    api, client, acme_plan, django_capture_on_commit_callbacks
):
    buyer = _buyer(acme_plan)
    url = f"/api/v1/stakeholders/{buyer.public_id}/invite/"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url)

    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    room_url = body["room_url"]
    token = room_url.rstrip("/").rsplit("/", 1)[1]
    assert room_url == f"http://testserver/r/{token}/"
    assert body["stakeholder"]["id"] == str(buyer.public_id)
    assert body["stakeholder"]["invited_at"] is not None
    # Emailed to the buyer; only the hash is stored; the link opens the room.
    (email,) = mail.outbox
    assert email.to == ["priya@x.test"] and room_url in email.body
    # The buyer hears from the deal's owner, not from an integration's key.
    owner = acme_plan.deal.owner.display_name
    assert email.subject.startswith(f"{owner} shared the ")
    assert f"{owner} invited you" in email.body and "API key" not in email.body
    link = RoomLink.objects.get(stakeholder=buyer)
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    assert link.created_by is None
    assert body["expires_at"].startswith(link.expires_at.date().isoformat())
    assert client.get(f"/r/{token}/").status_code == 200
    # Recorded like an invitation from the app: feed, and a draft plan becomes shared.
    invited = Activity.objects.get(plan=acme_plan, verb="stakeholder_invited")
    assert invited.actor_name == "API key “Salesforce sync”"
    assert invited.summary == "invited Priya Raman to the deal room"
    acme_plan.refresh_from_db()
    assert acme_plan.status == "shared"
    # Never retrievable again.
    for read in (
        api.get(f"/api/v1/stakeholders/{buyer.public_id}/"),
        api.get("/api/v1/stakeholders/"),
        api.get("/api/v1/activity/"),
    ):
        assert token not in read.content.decode()


def test_stakeholder_invite_again_makes_a_new_link(api, acme_plan):
    url = f"/api/v1/stakeholders/{_buyer(acme_plan).public_id}/invite/"

    first = api.post(url).json()["room_url"]
    second = api.post(url).json()["room_url"]

    assert first != second
    assert RoomLink.objects.usable().filter(stakeholder=_buyer(acme_plan)).count() == 2


def test_stakeholder_invite_by_a_signed_in_member_records_them(alice, acme_plan):
    session = APIClient()
    session.force_login(alice)

    response = session.post(f"/api/v1/stakeholders/{_buyer(acme_plan).public_id}/invite/")

    assert response.status_code == 201
    assert RoomLink.objects.get().created_by == alice
    assert Activity.objects.get(verb="stakeholder_invited").actor_name == "Alice Seller"


def test_stakeholder_invite_refusals_are_409_and_change_nothing(api, acme_plan):
    seller = Stakeholder.objects.get(deal=acme_plan.deal, side="seller")
    no_email = stakeholder_services.add_stakeholder(
        acme_plan.deal, actor=ACTOR, name="Tom Tech", role="technical_evaluator"
    )
    buyer = _buyer(acme_plan)

    responses = {
        "seller": api.post(f"/api/v1/stakeholders/{seller.public_id}/invite/"),
        "no_email": api.post(f"/api/v1/stakeholders/{no_email.public_id}/invite/"),
    }
    plan_services.archive_plan(acme_plan, actor=ACTOR, archived=True)
    responses["archived"] = api.post(f"/api/v1/stakeholders/{buyer.public_id}/invite/")

    assert {name: r.status_code for name, r in responses.items()} == {
        "seller": 409,
        "no_email": 409,
        "archived": 409,
    }
    assert responses["seller"].json() == {
        "detail": "Only buyer-side stakeholders get a deal room link."
    }
    assert responses["no_email"].json() == {"detail": "Add an email address for Tom Tech first."}
    assert "archived" in responses["archived"].json()["detail"]
    assert not RoomLink.objects.exists() and mail.outbox == []
    assert not Stakeholder.objects.filter(invited_at__isnull=False).exists()
    assert not Activity.objects.filter(verb="stakeholder_invited").exists()


def test_stakeholder_invite_in_another_workspace_is_404(api, globex_plan):
    buyer = _buyer(globex_plan)

    response = api.post(f"/api/v1/stakeholders/{buyer.public_id}/invite/")

    assert response.status_code == 404
    assert not RoomLink.objects.exists() and mail.outbox == []


def test_stakeholder_invite_is_not_a_get(api, acme_plan):
    response = api.get(f"/api/v1/stakeholders/{_buyer(acme_plan).public_id}/invite/")

    assert response.status_code == 405
    assert not RoomLink.objects.exists()
