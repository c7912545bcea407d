"""A deal room's closing day (Deal.room_closes_at): after it no buyer link opens the room, a
buyer already in it is shown out, and documents sent by link stop opening; the seller sets
and clears it on the deal's form, as a day of the workspace's calendar."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal
from plans import materials
from stakeholders.actors import Actor
from stakeholders.models import RoomLink
from stakeholders.services import issue_room_link
from tests.conftest import open_room, share_plan_of

FORM = {
    "account_name": "Initech",
    "name": "Initech — Core",
    "amount": "1000",
    "currency": "USD",
    "stage": "discovery",
    "target_close_date": "2031-03-14",
}


def edit_url(deal):
    return reverse("deals:deal-edit", kwargs={"org_slug": "acme", "deal_id": deal.public_id})


def test_the_seller_sets_the_last_open_day_in_the_workspaces_calendar(alice_client, acme_deal):
    acme = acme_deal.organization
    acme.time_zone = "America/New_York"
    acme.save()
    FORM["owner"] = acme_deal.owner.pk
    response = alice_client.post(edit_url(acme_deal), {**FORM, "room_open_until": "2031-01-31"})
    assert response.status_code == 302
    acme_deal.refresh_from_db()
    # Open through 31 January in New York: closed from its midnight.
    assert acme_deal.room_closes_at == datetime(2031, 2, 1, tzinfo=ZoneInfo("America/New_York"))
    page = alice_client.get(edit_url(acme_deal)).content.decode()
    assert 'value="2031-01-31"' in page
    plan_page = alice_client.get(acme_deal.get_absolute_url()).content.decode()
    assert "Deal room open until" in plan_page and "31 Jan 2031" in plan_page
    # Cleared: the room no longer closes by date.
    alice_client.post(edit_url(acme_deal), {**FORM, "room_open_until": ""})
    acme_deal.refresh_from_db()
    assert acme_deal.room_closes_at is None


def test_a_past_day_is_refused_next_to_the_field(alice_client, acme_deal):
    FORM["owner"] = acme_deal.owner.pk
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = alice_client.post(edit_url(acme_deal), {**FORM, "room_open_until": yesterday})
    assert response.status_code == 422
    assert "Choose today or a later day." in response.content.decode()
    acme_deal.refresh_from_db()
    assert acme_deal.room_closes_at is None


def test_after_the_closing_day_no_link_opens_the_room(client, acme_deal, dana):
    share_plan_of(acme_deal)
    _, token = issue_room_link(dana)
    closes = timezone.now() + timedelta(days=2)
    Deal.objects.filter(pk=acme_deal.pk).update(room_closes_at=closes)
    buyer = Client()
    open_room(buyer, dana)
    room = reverse("room", kwargs={"deal_id": acme_deal.public_id})
    assert buyer.get(room).status_code == 200
    assert "this room is open until" in buyer.get(room).content.decode()
    assert RoomLink.objects.usable().filter(stakeholder=dana).count() == 2
    with time_machine.travel(closes + timedelta(seconds=1)):
        # A new visitor gets the one invalid-link page; the buyer inside is shown out.
        assert client.get(f"/r/{token}/").status_code == 404
        assert client.post(f"/r/{token}/").status_code == 404
        ended = buyer.get(room)
        assert ended.status_code == 410
        assert not RoomLink.objects.usable().filter(stakeholder=dana).exists()
    # Extending the day opens the same links again.
    Deal.objects.filter(pk=acme_deal.pk).update(room_closes_at=closes + timedelta(days=7))
    with time_machine.travel(closes + timedelta(seconds=1)):
        assert client.get(f"/r/{token}/").status_code == 200


def test_documents_sent_by_link_stop_opening_with_the_room(acme_deal, alice):
    seller = Actor.seller(alice)
    plan = acme_deal.plan
    section = materials.add_section(plan, actor=seller, title="Docs", buyer_uploads=False)
    resource = materials.add_file(
        plan, actor=seller, section=section, upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4 a")
    )
    _, token = materials.share_resource(resource, actor=seller, email="cfo@initech.test")
    assert Client().get(f"/s/{token}/").status_code == 200
    Deal.objects.filter(pk=acme_deal.pk).update(room_closes_at=timezone.now())
    assert Client().get(f"/s/{token}/").status_code == 404
