"""An attacker's review of the shared materials (a helper session): each test states a rule
the review found broken at first, now kept; and two it checked sound."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from plans import fragments, materials, services
from plans.models import Milestone, Plan, ResourceView
from stakeholders.actors import Actor
from tests.helpers import url

PDF = b"%PDF-1.4\n% test\n"


def pdf(name="proposal.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def room_url(deal, name="room", **kwargs):
    return reverse(name, kwargs={"deal_id": deal.public_id, **kwargs})


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.get(deal=acme_deal)


@pytest.fixture
def seller(alice):
    return Actor.seller(alice)


@pytest.fixture
def section(plan, seller):
    return materials.add_section(plan, actor=seller, title="Proposal", buyer_uploads=False)


# --- An internal step's title reached the room through a shared resource about it ---


def test_a_step_made_internal_does_not_show_through_a_shared_resource(
    dana_client, acme_deal, plan, seller, section, alice
):
    step = Milestone.objects.filter(plan=plan, visibility="shared").first()
    materials.add_link(
        plan,
        actor=seller,
        section=section,
        title="Security pack",
        url="https://trust.acme.test/",
        milestone=step,
    )
    # The seller makes the step internal and renames it (internal wording).
    services.update_milestone(
        step,
        actor=seller,
        expected_version=None,
        visibility="internal",
        title="Discount approval: 32% floor, CFO sign-off",
    )
    cache.clear()
    room = dana_client.get(room_url(acme_deal)).content.decode()
    pushed = "".join(
        html for _, html in fragments.render(str(plan.public_id), "buyer", ["materials"])
    )
    assert "32% floor" not in pushed, "live fragment pushed to every buyer leaks the internal step"
    assert "32% floor" not in room, "room page leaks the internal step's title"


# --- A section's title reached the buyers' feed, with nothing of it shared ---


def test_an_internal_only_sections_title_is_not_in_the_buyers_feed(
    dana_client, acme_deal, plan, seller
):
    battle = materials.add_section(
        plan, actor=seller, title="Battlecard vs Globex", buyer_uploads=False
    )
    materials.add_file(
        plan, actor=seller, section=battle, upload=pdf("bc.pdf"), visibility="internal"
    )
    cache.clear()
    room = dana_client.get(room_url(acme_deal)).content.decode()
    assert "Battlecard vs Globex" not in room


# --- F3: the content allow-list is undone by the download's file name -------------------------


@pytest.mark.parametrize("name", ["questionnaire.hta", "answers.html", "logo.svg", "run.bat"])
def test_a_download_always_ends_with_an_extension_of_its_sniffed_type(
    dana_client, alice_client, acme_deal, plan, seller, name
):
    docs = materials.add_section(plan, actor=seller, title="Your documents", buyer_uploads=True)
    body = b"<html><script>new ActiveXObject('WScript.Shell').Run('calc')</script></html>\n"
    response = dana_client.post(
        room_url(acme_deal, "room-upload", section_id=docs.public_id),
        {f"upload-{docs.public_id}-file": SimpleUploadedFile(name, body, "text/html")},
    )
    assert response.status_code == 302  # accepted as "plain text"
    resource = plan.resources.get(side="buyer")
    download = alice_client.get(url("plans:resource-file", resource_id=resource.public_id))
    assert download["Content-Type"].startswith("text/plain")
    # It keeps its name but ends as what it is: "answers.html.txt".
    assert download["Content-Disposition"].endswith(f'filename="{name}.txt"')


# --- F4: a beacon's page key that isdigit() but is not an int: 500 instead of 400 -----------


@pytest.mark.parametrize("pages", ['{"\\u00b2": 5}', '{"' + "1" * 5000 + '": 5}'])
def test_a_strange_page_number_is_a_400_not_a_crash(
    dana_client, acme_deal, plan, seller, section, pages
):
    proposal = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    dana_client.get(room_url(acme_deal, "room-resource", resource_id=proposal.public_id))
    view = ResourceView.objects.get()
    beacon = room_url(acme_deal, "room-resource-time", view_id=view.public_id)
    dana_client.raise_request_exception = False
    assert dana_client.post(beacon, {"pages": pages}).status_code == 400


# --- F5: reading time per person is unbounded: open the viewer N times, beacon each ---------


def test_one_person_cannot_claim_more_reading_than_time_passed(
    dana_client, acme_deal, plan, seller, section
):
    proposal = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    for _ in range(10):
        dana_client.get(room_url(acme_deal, "room-resource", resource_id=proposal.public_id))
    ResourceView.objects.update(started_at=timezone.now() - timedelta(minutes=30))
    for view in ResourceView.objects.all():
        beacon = room_url(acme_deal, "room-resource-time", view_id=view.public_id)
        assert dana_client.post(beacon, {"pages": '{"1": 1800}'}).status_code == 204
    total = sum(ResourceView.objects.values_list("seconds", flat=True))
    assert total <= 31 * 60, f"{total // 3600} h of reading claimed in 30 minutes"


# --- F6: the addresses the seller sends documents to are in every buyer's feed ------------


def test_a_sellers_share_link_recipient_is_not_shown_to_buyers(
    dana_client, acme_deal, plan, seller, section
):
    proposal = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    materials.share_resource(proposal, actor=seller, email="counsel@outside-law.test")
    cache.clear()
    room = dana_client.get(room_url(acme_deal)).content.decode()
    assert "counsel@outside-law.test" not in room


# --- Checked sound (these pass) -----------------------------------------------------------------


def test_the_beacon_needs_the_csrf_token(dana, acme_deal, plan, seller, section):
    from stakeholders.services import issue_room_link
    from tests.conftest import share_plan_of

    share_plan_of(acme_deal)
    client = Client(enforce_csrf_checks=True)
    _, token = issue_room_link(dana)
    landing = client.get(f"/r/{token}/")
    csrf = landing.cookies["csrftoken"].value
    assert client.post(f"/r/{token}/", {"csrfmiddlewaretoken": csrf}).status_code == 302
    proposal = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    client.get(room_url(acme_deal, "room-resource", resource_id=proposal.public_id))
    view = ResourceView.objects.get()
    beacon = room_url(acme_deal, "room-resource-time", view_id=view.public_id)
    assert client.post(beacon, {"pages": '{"1": 3}'}).status_code == 403
    csrf = client.cookies["csrftoken"].value
    assert (
        client.post(beacon, {"pages": '{"1": 3}', "csrfmiddlewaretoken": csrf}).status_code == 204
    )


def test_an_api_link_must_be_https(acme, section):
    from plans.material_api import ResourceSerializer

    for address in ("http://x.test/", "javascript:alert(1)", "HTTPS://x.test/", "ftp://x.test/"):
        data = {"section": str(section.public_id), "title": "t", "url": address}
        serializer = ResourceSerializer(data=data, context={"organization": acme})
        assert not serializer.is_valid(), address


# --- A link stopped by making its resource internal (or archiving) stayed revocable -------


def test_a_link_stopped_by_making_the_resource_internal_stays_stopped(seller, section, plan):
    proposal = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    _, token = materials.share_resource(proposal, actor=seller, email="ex-partner@other.test")
    materials.update_resource(proposal, actor=seller, visibility="internal")
    assert materials.find_share_link(token) is None
    materials.update_resource(proposal, actor=seller, visibility="shared")
    assert materials.find_share_link(token) is None, "the old link opens the document again"


def test_archiving_stops_share_links_for_good(seller, section, plan):
    proposal = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    _, token = materials.share_resource(proposal, actor=seller, email="x@other.test")
    services.archive_plan(plan, actor=seller, archived=True)
    services.archive_plan(plan, actor=seller, archived=False)
    assert materials.find_share_link(token) is None
