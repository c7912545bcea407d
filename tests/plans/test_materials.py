"""A plan's shared materials: sections, files with versions and links added by the seller,
shown in the room (shared ones only), buyers' uploads to open sections, engagement (counted
openings, the viewer's beacons, bounded), share links for one resource, webhooks, and every
door an attacker might try (other deals, other workspaces, internal resources, drafts)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications import webhooks
from notifications.models import WebhookDelivery, WebhookEndpoint
from plans import materials, services
from plans.models import (
    Activity,
    Plan,
    Resource,
    ResourceSection,
    ResourceShareLink,
    ResourceView,
)
from stakeholders.actors import Actor
from tests.conftest import open_room
from tests.factories import add_buyer
from tests.helpers import assert_fragment, assert_page, htmx, url

PDF = b"%PDF-1.4\n% test\n"


def pdf(name="proposal.pdf", body=PDF):
    return SimpleUploadedFile(name, body, content_type="application/pdf")


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


@pytest.fixture
def proposal(plan, seller, section):
    return materials.add_file(plan, actor=seller, section=section, upload=pdf(), title="Proposal")


@pytest.fixture
def secret(plan, seller, section):
    return materials.add_file(
        plan,
        actor=seller,
        section=section,
        upload=pdf("pricing-floor.pdf"),
        title="Pricing floor",
        visibility="internal",
    )


# --- The seller builds the materials ----------------------------------------------------------


def test_seller_adds_a_section_a_file_and_a_link_from_the_plan_page(alice_client, acme_deal):
    plan_url = acme_deal.get_absolute_url()
    response = alice_client.post(
        url("plans:section-add", deal_id=acme_deal.public_id),
        {"section-title": "Security & legal", "section-buyer_uploads": ""},
        **htmx("plan-materials"),
    )
    html = assert_fragment(response)
    assert "Security &amp; legal" in html
    section = ResourceSection.objects.get(title="Security & legal")

    response = alice_client.post(
        url("plans:resource-add", deal_id=acme_deal.public_id, kind="file"),
        {
            "file-section": section.pk,
            "file-title": "Security pack",
            "file-visibility": "shared",
            "file-file": pdf("soc2.pdf"),
        },
        **htmx("plan-materials"),
    )
    html = assert_fragment(response)
    assert "Security pack" in html and "soc2.pdf" in html
    response = alice_client.post(
        url("plans:resource-add", deal_id=acme_deal.public_id, kind="link"),
        {
            "link-section": section.pk,
            "link-title": "Trust center",
            "link-url": "https://trust.acme.test/",
            "link-visibility": "shared",
        },
        **htmx("plan-materials"),
    )
    assert "Trust center" in assert_fragment(response)
    page = assert_page(alice_client.get(plan_url))
    assert "Security pack" in page and "Trust center" in page
    assert Activity.objects.filter(verb="resource_added").count() == 2


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 10), "This type of file is not accepted"),
        (SimpleUploadedFile("empty.pdf", b""), "The submitted file is empty."),
    ],
)
def test_a_refused_file_says_why_next_to_the_field_and_adds_nothing(
    alice_client, acme_deal, section, upload, message
):
    response = alice_client.post(
        url("plans:resource-add", deal_id=acme_deal.public_id, kind="file"),
        {"file-section": section.pk, "file-visibility": "shared", "file-file": upload},
        **htmx("plan-materials"),
    )
    html = assert_fragment(response, 422)
    assert message in html
    assert not Resource.objects.exists()


def test_a_file_over_the_limit_is_refused(alice_client, acme_deal, section, settings):
    settings.ATTACHMENT_MAX_MB = 1
    big = pdf("big.pdf", PDF + b"0" * (1024 * 1024 + 1))
    response = alice_client.post(
        url("plans:resource-add", deal_id=acme_deal.public_id, kind="file"),
        {"file-section": section.pk, "file-visibility": "shared", "file-file": big},
        **htmx("plan-materials"),
    )
    assert "the limit is 1 MB" in assert_fragment(response, 422)
    assert not Resource.objects.exists()


@pytest.mark.parametrize("address", ["javascript:alert(1)", "http://plain.test/", "data:,x"])
def test_a_link_must_be_https(alice_client, acme_deal, section, address):
    response = alice_client.post(
        url("plans:resource-add", deal_id=acme_deal.public_id, kind="link"),
        {"link-section": section.pk, "link-title": "x", "link-url": address},
        **htmx("plan-materials"),
    )
    assert_fragment(response, 422)
    assert not Resource.objects.exists()


def test_another_plans_section_or_step_is_refused(alice_client, acme_deal, section, alice):
    from tests.factories import make_deal, make_plan

    other = make_deal(alice.memberships.get().organization, alice, account_name="Hooli")
    make_plan(other)
    other_section = materials.add_section(
        other.plan, actor=Actor.seller(alice), title="Theirs", buyer_uploads=False
    )
    other_step = other.plan.milestones.first()
    for fields in (
        {"link-section": other_section.pk},
        {"link-section": section.pk, "link-milestone": other_step.pk},
    ):
        response = alice_client.post(
            url("plans:resource-add", deal_id=acme_deal.public_id, kind="link"),
            {"link-title": "x", "link-url": "https://x.test/", **fields},
            **htmx("plan-materials"),
        )
        assert_fragment(response, 422)
    assert not Resource.objects.exists()


def test_a_new_version_keeps_the_old_ones_listed_and_downloadable(
    alice_client, dana_client, acme_deal, proposal, seller
):
    first = proposal.current
    response = alice_client.post(
        url("plans:resource-version", resource_id=proposal.public_id),
        {"version-file": pdf("proposal-v2.pdf", PDF + b"v2")},
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.current.number == 2
    page = assert_page(
        alice_client.get(url("plans:resource-detail", resource_id=proposal.public_id))
    )
    assert "proposal.pdf" in page and "proposal-v2.pdf" in page
    # In the room: the current one, and the earlier one listed with its own download.
    room = assert_page(dana_client.get(room_url(acme_deal)))
    assert "version 2" in room and "version 1" in room
    old = dana_client.get(
        room_url(
            acme_deal,
            "room-resource-version",
            resource_id=proposal.public_id,
            version_id=first.public_id,
        )
    )
    assert b"".join(old.streaming_content) == PDF
    assert 'filename="proposal.pdf"' in old["Content-Disposition"]


def test_sections_and_resources_are_reordered_and_an_empty_section_removed(
    alice_client, plan, seller, section, proposal
):
    second = materials.add_section(plan, actor=seller, title="Case studies", buyer_uploads=False)
    link = materials.add_link(
        plan, actor=seller, section=section, title="Demo", url="https://demo.test/"
    )
    alice_client.post(
        url("plans:section-move", section_id=second.public_id, direction="up"),
        **htmx("plan-materials"),
    )
    assert [s.title for s in ResourceSection.objects.filter(plan=plan)] == [
        "Case studies",
        "Proposal",
    ]
    alice_client.post(
        url("plans:resource-move", resource_id=link.public_id, direction="up"),
        **htmx("plan-materials"),
    )
    assert [r.title for r in section.resources.all()] == ["Demo", "Proposal"]
    # A section with materials is not removed by the way.
    response = alice_client.post(url("plans:section-remove", section_id=section.public_id))
    assert response.status_code == 409
    response = alice_client.post(
        url("plans:section-remove", section_id=second.public_id), **htmx("plan-materials")
    )
    assert_fragment(response)
    assert not ResourceSection.objects.filter(pk=second.pk).exists()
    bad = alice_client.post(
        url("plans:section-move", section_id=section.public_id, direction="sideways")
    )
    assert bad.status_code == 404


def test_archived_plan_materials_cannot_change(alice_client, dana_client, plan, section, seller):
    ResourceSection.objects.filter(pk=section.pk).update(buyer_uploads=True)
    services.archive_plan(plan, actor=seller, archived=True)
    response = alice_client.post(
        url("plans:resource-add", deal_id=plan.deal.public_id, kind="link"),
        {"link-section": section.pk, "link-title": "x", "link-url": "https://x.test/"},
    )
    assert response.status_code == 409
    response = dana_client.post(
        room_url(plan.deal, "room-upload", section_id=section.public_id),
        {f"upload-{section.public_id}-file": pdf()},
    )
    assert response.status_code == 409
    assert not Resource.objects.exists()


# --- The room ---------------------------------------------------------------------------------


def test_room_shows_shared_materials_only(dana_client, acme_deal, proposal, secret):
    room = assert_page(dana_client.get(room_url(acme_deal)))
    assert "Proposal" in room
    assert "Pricing floor" not in room and "pricing-floor" not in room
    for name in ("room-resource", "room-resource-download", "room-resource-content"):
        response = dana_client.get(room_url(acme_deal, name, resource_id=secret.public_id))
        assert response.status_code == 404, name


def test_room_never_shows_engagement(dana_client, acme_deal, proposal, dana):
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    materials.record_open(proposal, kind="viewer", stakeholder=eve)
    room = assert_page(dana_client.get(room_url(acme_deal)))
    assert "Opened" not in room and "opened “Proposal”" not in room
    # Engagement is internal: no buyer's feed hears of it.
    assert Activity.objects.get(verb="resource_viewed").visibility == "internal"


def test_a_draft_plans_materials_do_not_exist_for_buyers(client, acme_deal, dana, plan, seller):
    open_room(client, dana)  # shares the plan
    section = materials.add_section(plan, actor=seller, title="Docs", buyer_uploads=True)
    resource = materials.add_file(plan, actor=seller, section=section, upload=pdf())
    Plan.objects.filter(pk=plan.pk).update(status="draft")
    cache.clear()
    assert "Docs" not in client.get(room_url(acme_deal)).content.decode()
    for name in ("room-resource", "room-resource-download", "room-resource-content"):
        assert (
            client.get(room_url(acme_deal, name, resource_id=resource.public_id)).status_code == 404
        )
    response = client.post(
        room_url(acme_deal, "room-upload", section_id=section.public_id),
        {f"upload-{section.public_id}-file": pdf()},
    )
    assert response.status_code == 404


def test_another_deals_buyer_gets_404_for_every_resource_url(
    client, acme_deal, proposal, globex_room_deal, section
):
    gus = globex_room_deal.stakeholders.get(email="gus@initrode.test")
    open_room(client, gus)
    # Their own room's URLs with our ids, and our room's URLs: 404 both.
    for deal in (globex_room_deal, acme_deal):
        for name in ("room-resource", "room-resource-download", "room-resource-content"):
            response = client.get(room_url(deal, name, resource_id=proposal.public_id))
            assert response.status_code == 404
        response = client.post(
            room_url(deal, "room-upload", section_id=section.public_id),
            {f"upload-{section.public_id}-file": pdf()},
        )
        assert response.status_code == 404
    assert not ResourceView.objects.exists()


def test_another_workspace_seller_gets_404(client, charlie, proposal):
    client.force_login(charlie)
    for name in ("plans:resource-detail", "plans:resource-file", "plans:resource-viewer"):
        response = client.get(url(name, org_slug="globex", resource_id=proposal.public_id))
        assert response.status_code == 404, name
        response = client.get(url(name, org_slug="acme", resource_id=proposal.public_id))
        assert response.status_code == 404, name


def test_opening_a_pdf_shows_the_viewer_and_counts_one_opening(dana_client, acme_deal, proposal):
    response = dana_client.get(room_url(acme_deal, "room-resource", resource_id=proposal.public_id))
    html = assert_page(response)
    view = ResourceView.objects.get()
    assert view.kind == "viewer" and view.stakeholder.email == "dana@initech.test"
    assert f'data-session="{view.public_id}"' in html
    assert 'id="pdf-viewer"' in html
    content = dana_client.get(
        room_url(acme_deal, "room-resource-content", resource_id=proposal.public_id)
    )
    assert b"".join(content.streaming_content) == PDF
    assert content["X-Content-Type-Options"] == "nosniff"
    assert ResourceView.objects.count() == 1  # the bytes for the viewer are not an opening


def test_following_a_link_and_downloading_a_file_count(
    dana_client, acme_deal, plan, seller, section
):
    link = materials.add_link(
        plan, actor=seller, section=section, title="Demo", url="https://demo.test/recording"
    )
    sheet = materials.add_file(
        plan,
        actor=seller,
        section=section,
        upload=SimpleUploadedFile("prices.csv", b"a,b\n1,2\n"),
    )
    response = dana_client.get(room_url(acme_deal, "room-resource", resource_id=link.public_id))
    assert response.status_code == 302 and response["Location"] == "https://demo.test/recording"
    response = dana_client.get(room_url(acme_deal, "room-resource", resource_id=sheet.public_id))
    assert b"".join(response.streaming_content) == b"a,b\n1,2\n"
    assert sorted(ResourceView.objects.values_list("kind", flat=True)) == ["download", "link"]


# --- Engagement -------------------------------------------------------------------------------


def _open(client, deal, resource) -> ResourceView:
    client.get(room_url(deal, "room-resource", resource_id=resource.public_id))
    return ResourceView.objects.latest("started_at")


def test_beacons_are_cumulative_and_tolerate_loss_and_repeats(dana_client, acme_deal, proposal):
    view = _open(dana_client, acme_deal, proposal)
    ResourceView.objects.filter(pk=view.pk).update(started_at=timezone.now() - timedelta(minutes=5))
    beacon = room_url(acme_deal, "room-resource-time", view_id=view.public_id)
    for pages in ('{"1": 10}', '{"1": 30, "2": 5}', '{"1": 20}', '{"1": 30, "2": 5}'):
        # The third is an old beacon arriving late, the fourth a repeat: they change nothing.
        assert dana_client.post(beacon, {"pages": pages}).status_code == 204
    view.refresh_from_db()
    assert view.pages == {"1": 30, "2": 5} and view.seconds == 35


def test_a_beacon_is_one_write(dana_client, acme_deal, proposal, django_assert_num_queries):
    view = _open(dana_client, acme_deal, proposal)
    ResourceView.objects.filter(pk=view.pk).update(started_at=timezone.now() - timedelta(minutes=5))
    view.refresh_from_db()
    # The person's openings of the resource (locked), then the write (within a savepoint).
    with django_assert_num_queries(4) as queries:
        assert materials.record_time(view, {"1": 12, "3": 40})
    statements = [q["sql"] for q in queries.captured_queries]
    writes = [sql for sql in statements if sql.startswith(("UPDATE", "INSERT", "DELETE"))]
    assert len(writes) == 1 and writes[0].startswith("UPDATE")


def test_time_is_bounded_by_the_clock_and_per_opening(proposal, dana):
    view = materials.record_open(proposal, kind="viewer", stakeholder=dana)
    # Twenty seconds after opening, a beacon cannot claim an hour.
    materials.record_time(view, {"1": 1800, "2": 1800}, now=view.started_at + timedelta(seconds=20))
    assert view.seconds == 20 + materials.BEACON_SLACK_SECONDS
    # A tab left open for a day counts at most MAX_VIEW_SECONDS.
    later = view.started_at + timedelta(days=1)
    materials.record_time(view, {"1": 1800, "2": 1800, "3": 1800}, now=later)
    view.refresh_from_db()
    assert view.seconds == materials.MAX_VIEW_SECONDS


@pytest.mark.parametrize(
    "pages",
    ["", "not json", "[1, 2]", '{"0": 5}', '{"-1": 5}', '{"1": -5}', '{"1": 1e9}', '{"1": true}'],
)
def test_a_malformed_beacon_is_400_and_changes_nothing(dana_client, acme_deal, proposal, pages):
    view = _open(dana_client, acme_deal, proposal)
    beacon = room_url(acme_deal, "room-resource-time", view_id=view.public_id)
    assert dana_client.post(beacon, {"pages": pages}).status_code == 400
    view.refresh_from_db()
    assert view.seconds == 0


def test_a_beacon_for_someone_elses_opening_is_404(dana_client, acme_deal, proposal):
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    view = materials.record_open(proposal, kind="viewer", stakeholder=eve)
    beacon = room_url(acme_deal, "room-resource-time", view_id=view.public_id)
    assert dana_client.post(beacon, {"pages": '{"1": 3}'}).status_code == 404


def test_the_seller_sees_engagement_per_person_and_per_page(
    alice_client, acme_deal, proposal, dana
):
    view = materials.record_open(proposal, kind="viewer", stakeholder=dana)
    materials.record_time(view, {"1": 40, "2": 200}, now=view.started_at + timedelta(minutes=10))
    materials.record_open(proposal, kind="download", stakeholder=dana)
    page = assert_page(
        alice_client.get(url("plans:resource-detail", resource_id=proposal.public_id))
    )
    assert "Dana Buyer" in page
    assert "4 min" in page  # 240 seconds in the viewer
    assert "1 download" in page
    assert 'aria-label="Page 2: 100% of the most read page"' in page
    plan_page = assert_page(alice_client.get(acme_deal.get_absolute_url()))
    assert "Opened 2 times by 1 person" in plan_page
    # Per person, in the stakeholder panel: what Dana opened of the materials.
    assert "Opened 1 of the materials (2 times, 4 min reading)" in plan_page
    feed = Activity.objects.filter(verb="resource_viewed")
    assert feed.count() == 1  # the second opening within the half hour is not news


def test_the_dashboard_counts_openings_of_the_last_14_days(
    client, acme, alice, acme_deal, proposal, dana
):
    from deals.models import Membership

    Membership.objects.filter(user=alice).update(role="manager")
    old = materials.record_open(proposal, kind="viewer", stakeholder=dana)
    ResourceView.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=15))
    materials.record_open(proposal, kind="download", stakeholder=dana)
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    materials.record_open(proposal, kind="viewer", stakeholder=eve)
    client.force_login(alice)
    page = assert_page(client.get("/o/acme/dashboard/"))
    assert "Materials opened (14 days)" in page
    assert "2 by 2 people" in page
    export = client.get("/o/acme/dashboard/", {"export": "health"}).content.decode()
    header, row = export.splitlines()[:2]
    assert "materials opened in 14 days" in header
    columns = header.split(",")
    values = row.split(",")
    assert values[columns.index("materials opened in 14 days")] == "2"


def test_resource_viewed_and_added_are_webhook_events(acme, proposal, dana, plan, seller, section):
    WebhookEndpoint.objects.create(
        organization=acme, url="https://hooks.example.test/", secret=webhooks.new_secret()
    )
    materials.add_link(plan, actor=seller, section=section, title="Demo", url="https://d.test/")
    materials.record_open(proposal, kind="viewer", stakeholder=dana)
    added = WebhookDelivery.objects.get(event_type="resource.added")
    assert added.payload["data"]["resource"]["title"] == "Demo"
    viewed = WebhookDelivery.objects.get(event_type="resource.viewed")
    data = viewed.payload["data"]
    assert data["resource"]["title"] == "Proposal"
    assert data["resource"]["file"]["content_type"] == "application/pdf"
    assert data["stakeholder"]["email"] == "dana@initech.test"
    assert data["view"]["kind"] == "viewer"
    assert "/room/" not in str(data)  # never a way into the room


# --- Buyers' uploads --------------------------------------------------------------------------


def test_buyers_upload_to_an_open_section_only(dana_client, acme_deal, plan, seller, section):
    docs = materials.add_section(plan, actor=seller, title="Your documents", buyer_uploads=True)
    response = dana_client.post(
        room_url(acme_deal, "room-upload", section_id=docs.public_id),
        {
            f"upload-{docs.public_id}-file": pdf("signed-nda.pdf"),
            f"upload-{docs.public_id}-title": "NDA",
        },
        **htmx("room-materials"),
    )
    html = assert_fragment(response)
    assert "NDA" in html and "added by Dana Buyer" in html
    resource = Resource.objects.get(title="NDA")
    assert resource.side == "buyer" and resource.visibility == "shared"
    response = dana_client.post(
        room_url(acme_deal, "room-upload", section_id=section.public_id),
        {f"upload-{section.public_id}-file": pdf()},
    )
    assert response.status_code == 404
    bad = dana_client.post(
        room_url(acme_deal, "room-upload", section_id=docs.public_id),
        {f"upload-{docs.public_id}-file": SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 10)},
        **htmx("room-materials"),
    )
    assert "This type of file is not accepted" in assert_fragment(bad, 422)
    assert Resource.objects.count() == 1


def test_a_buyer_removes_only_their_own_upload(dana_client, acme_deal, plan, seller, proposal):
    docs = materials.add_section(plan, actor=seller, title="Your documents", buyer_uploads=True)
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    theirs = materials.add_file(plan, actor=Actor.buyer(eve), section=docs, upload=pdf("eve.pdf"))
    for resource in (theirs, proposal):
        response = dana_client.post(
            room_url(acme_deal, "room-resource-remove", resource_id=resource.public_id)
        )
        assert response.status_code == 403
    dana = acme_deal.stakeholders.get(email="dana@initech.test")
    mine = materials.add_file(plan, actor=Actor.buyer(dana), section=docs, upload=pdf("dana.pdf"))
    response = dana_client.post(
        room_url(acme_deal, "room-resource-remove", resource_id=mine.public_id),
        **htmx("room-materials"),
    )
    assert_fragment(response)
    assert not Resource.objects.filter(pk=mine.pk).exists()
    assert Resource.objects.filter(pk=theirs.pk).exists()


# --- Share links ------------------------------------------------------------------------------


def _token_from_mail() -> str:
    body = mail.outbox[-1].body
    return body.split("/s/", 1)[1].split("/", 1)[0]


def test_a_share_link_opens_one_resource_after_a_post_and_counts(
    alice_client, proposal, section, plan, seller, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            url("plans:resource-share", resource_id=proposal.public_id),
            {"share-email": "cfo@initech.test", "share-days": 7, "share-message": "For Friday"},
        )
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["cfo@initech.test"]
    token = _token_from_mail()
    link = ResourceShareLink.objects.get()
    assert token not in link.token_hash
    visitor = Client()
    landing = visitor.get(f"/s/{token}/")
    assert landing.status_code == 200 and b"Proposal" in landing.content
    link.refresh_from_db()
    assert link.first_used_at is None  # a mail scanner's GET changes nothing
    assert not ResourceView.objects.exists()
    opened = visitor.post(f"/s/{token}/")
    assert opened.status_code == 302
    viewer = visitor.get(opened["Location"])
    assert viewer.status_code == 200 and b'id="pdf-viewer"' in viewer.content
    view = ResourceView.objects.get()
    assert view.share_link == link and view.stakeholder is None
    beacon = reverse(
        "shared-resource-time", kwargs={"link_id": link.public_id, "view_id": view.public_id}
    )
    ResourceView.objects.filter(pk=view.pk).update(started_at=timezone.now() - timedelta(minutes=1))
    assert visitor.post(beacon, {"pages": '{"1": 12}'}).status_code == 204
    # It opens that resource only: the room stays shut.
    other = materials.add_file(plan, actor=seller, section=section, upload=pdf("other.pdf"))
    assert visitor.get(room_url(plan.deal)).status_code == 404
    assert (
        visitor.get(reverse("shared-resource", kwargs={"link_id": other.public_id})).status_code
        == 404
    )
    page = assert_page(
        alice_client.get(url("plans:resource-detail", resource_id=proposal.public_id))
    )
    assert "cfo@initech.test (share link)" in page


def test_an_expired_revoked_or_internal_share_link_does_not_open(alice_client, proposal, seller):
    link, token = materials.share_resource(proposal, actor=seller, email="x@initech.test")
    visitor = Client()
    visitor.post(f"/s/{token}/")
    shared = reverse("shared-resource", kwargs={"link_id": link.public_id})
    assert visitor.get(shared).status_code == 200
    ResourceShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    assert visitor.get(shared).status_code == 404
    assert Client().get(f"/s/{token}/").status_code == 404
    ResourceShareLink.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() + timedelta(days=1)
    )
    assert visitor.get(shared).status_code == 200
    alice_client.post(url("plans:share-link-revoke", link_id=link.public_id))
    assert visitor.get(shared).status_code == 404
    link2, token2 = materials.share_resource(proposal, actor=seller, email="y@initech.test")
    Resource.objects.filter(pk=proposal.pk).update(visibility="internal")
    assert Client().get(f"/s/{token2}/").status_code == 404
    with pytest.raises(materials.MaterialRefused):
        materials.share_resource(
            Resource.objects.get(pk=proposal.pk), actor=seller, email="z@initech.test"
        )


def test_the_champion_forwards_within_the_buyers_domains_only(
    dana_client, acme_deal, proposal, secret, django_capture_on_commit_callbacks
):
    forward = room_url(acme_deal, "room-forward")
    fields = {"forward-days": 14, "forward-message": ""}
    response = dana_client.post(
        forward,
        {**fields, "resource": proposal.public_id, "forward-email": "boss@gmail.test"},
        **htmx("room-materials"),
    )
    assert "You can forward to colleagues at initech.test" in assert_fragment(response, 422)
    response = dana_client.post(
        forward,
        {**fields, "resource": secret.public_id, "forward-email": "cfo@initech.test"},
        **htmx("room-materials"),
    )
    assert_fragment(response, 422)
    assert not ResourceShareLink.objects.exists() and not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = dana_client.post(
            forward,
            {**fields, "resource": proposal.public_id, "forward-email": "cfo@initech.test"},
            **htmx("room-materials"),
        )
    assert "was sent to cfo@initech.test" in assert_fragment(response)
    assert mail.outbox[-1].to == ["cfo@initech.test"]


def test_only_the_champion_forwards(client, acme_deal, proposal):
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    open_room(client, eve)
    response = client.post(
        room_url(acme_deal, "room-forward"),
        {"resource": proposal.public_id, "forward-email": "cfo@initech.test", "forward-days": 3},
        **htmx("room-materials"),
    )
    # Only the champions see the form; whoever posts it anyway changes nothing.
    assert_fragment(response, 422)
    assert not ResourceShareLink.objects.exists()


def test_the_share_link_token_is_redacted_from_logs():
    from config.secret_urls import redact

    assert redact("GET /s/abcdefghijklmnopqrstuvwxyz123456/ 200") == "GET /s/[redacted]/ 200"


# --- Query budgets ----------------------------------------------------------------------------


def test_room_materials_cost_the_same_queries_whatever_their_number(
    client, acme_deal, dana, plan, seller, django_assert_num_queries, django_assert_max_num_queries
):
    section = materials.add_section(plan, actor=seller, title="Docs", buyer_uploads=True)
    materials.add_file(plan, actor=seller, section=section, upload=pdf())
    open_room(client, dana)
    client.get(room_url(acme_deal))
    cache.clear()
    with django_assert_max_num_queries(30) as few:
        client.get(room_url(acme_deal))
    for i in range(5):
        extra = materials.add_section(plan, actor=seller, title=f"S{i}", buyer_uploads=i % 2)
        for j in range(6):
            resource = materials.add_file(
                plan, actor=seller, section=extra, upload=pdf(f"{i}-{j}.pdf")
            )
            materials.add_version(resource, actor=seller, upload=pdf(f"{i}-{j}-v2.pdf"))
            materials.add_link(
                plan, actor=seller, section=extra, title=f"L{i}{j}", url="https://x.test/"
            )
    cache.clear()
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(room_url(acme_deal))
    assert response.content.count(b"-v2.pdf") == 0  # names of files are not shown, titles are
    assert response.content.count(b"earlier versions") == 30


def test_a_resource_page_costs_the_same_queries_whatever_its_engagement(
    alice_client, proposal, acme_deal, django_assert_num_queries, django_assert_max_num_queries
):
    detail = url("plans:resource-detail", resource_id=proposal.public_id)
    # One opening by a buyer and one by a share link: each kind of name is looked up.
    seller = Actor.seller(proposal.plan.deal.owner)
    link, _ = materials.share_resource(proposal, actor=seller, email="x@initech.test")
    materials.record_open(proposal, kind="download", share_link=link)
    materials.record_open(proposal, kind="download", stakeholder=acme_deal.stakeholders.first())
    alice_client.get(detail)
    with django_assert_max_num_queries(30) as few:
        alice_client.get(detail)
    for i in range(8):
        buyer = add_buyer(acme_deal, name=f"P{i}", email=f"p{i}@initech.test", role="buyer_other")
        view = materials.record_open(proposal, kind="viewer", stakeholder=buyer)
        materials.record_time(view, {"1": 5, str(i + 2): 9}, now=view.started_at + timedelta(1))
    with django_assert_num_queries(len(few.captured_queries)):
        alice_client.get(detail)


# --- Templates carry materials ----------------------------------------------------------------


def test_a_template_saved_from_a_plan_gives_new_plans_its_materials(
    alice_client, alice, plan, seller, section, proposal, secret
):
    from plans.models import PlanTemplate
    from plans.services import create_plan_from_template
    from tests.factories import make_deal

    step = plan.milestones.filter(visibility="shared").first()
    materials.update_resource(proposal, actor=seller, milestone=step)
    materials.add_link(plan, actor=seller, section=section, title="Demo", url="https://d.test/")
    response = alice_client.post(
        url("plans:plan-save-template", deal_id=plan.deal.public_id),
        {"template-name": "With materials"},
    )
    assert response.status_code in (200, 302)
    template = PlanTemplate.objects.get(name="With materials")
    assert [r.title for s in template.sections.all() for r in s.resources.all()] == [
        "Proposal",
        "Demo",
    ]  # the internal one stayed out
    page = assert_page(alice_client.get(url("plans:template-edit", template_id=template.public_id)))
    assert "Proposal" in page and "Pricing floor" not in page

    deal = make_deal(alice.memberships.get().organization, alice, account_name="Hooli")
    new = create_plan_from_template(
        deal, template=template, target_date=plan.target_signature_date, actor=seller
    )
    copied = Resource.objects.filter(plan=new).select_related("current", "milestone")
    by_title = {r.title: r for r in copied}
    assert set(by_title) == {"Proposal", "Demo"}
    assert by_title["Proposal"].milestone.title == step.title
    assert by_title["Proposal"].milestone.plan == new
    # Its own copy of the file: removing the original changes nothing for the new plan.
    materials.remove_resource(proposal, actor=seller)
    proposal.current.file.delete(save=False)
    with by_title["Proposal"].current.file.open("rb") as handle:
        assert handle.read() == PDF


def test_a_templates_resource_is_removed_only_by_its_workspace(
    alice_client, plan, seller, section, proposal, charlie
):
    from plans import plan_templates
    from plans.models import TemplateResource

    template = plan_templates.save_plan_as_template(
        plan, organization=plan.organization, name="Mine"
    )
    item = TemplateResource.objects.get()
    remove = "plans:template-resource-remove"
    client = Client()
    client.force_login(charlie)
    for org in ("globex", "acme"):
        response = client.post(
            url(remove, org_slug=org, template_id=template.public_id, resource_id=item.public_id)
        )
        assert response.status_code == 404
    assert TemplateResource.objects.exists()
    alice_client.post(url(remove, template_id=template.public_id, resource_id=item.public_id))
    assert not TemplateResource.objects.exists()


def test_a_resource_about_a_step_shows_on_that_steps_row_in_the_room(
    dana_client, acme_deal, plan, seller, section
):
    step = plan.milestones.filter(visibility="shared").first()
    materials.add_file(
        plan, actor=seller, section=section, upload=pdf(), title="Security pack", milestone=step
    )
    materials.add_link(
        plan,
        actor=seller,
        section=section,
        title="Internal checklist",
        url="https://wiki.test/",
        visibility="internal",
    )
    room = assert_page(dana_client.get(room_url(acme_deal)))
    assert f"Open Security pack (for {step.title})" in room
    assert "Internal checklist" not in room
    row = dana_client.get(
        room_url(acme_deal, "room-milestone-row", milestone_id=step.public_id), **htmx()
    )
    assert f"Open Security pack (for {step.title})" in assert_fragment(row)


def test_the_add_forms_are_drawn_when_opened(alice_client, acme_deal, section):
    page = assert_page(alice_client.get(acme_deal.get_absolute_url()))
    add_file = url("plans:resource-add", deal_id=acme_deal.public_id, kind="file")
    assert f'hx-get="{add_file}"' in page and 'name="file-file"' not in page
    form = assert_fragment(alice_client.get(add_file, **htmx()))
    assert 'name="file-file"' in form and "Proposal" in form  # the section's option
    full = assert_page(alice_client.get(add_file))
    assert 'name="file-file"' in full
