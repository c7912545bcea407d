"""The buyer's room: what a buyer sees and may do, and what stays out of reach."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from plans.models import Attachment, Comment, DateProposal, DueDateChange, Milestone, Plan
from plans.services import update_milestone
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from tests.conftest import open_room
from tests.factories import add_buyer, make_deal, make_plan


def room_url(deal, name="room", **kwargs):
    return reverse(name, kwargs={"deal_id": deal.public_id, **kwargs})


def buyer_step(deal):
    return Milestone.objects.filter(plan__deal=deal, buyer_owner__isnull=False).first()


def seller_only_step(deal):
    step = Milestone.objects.filter(plan__deal=deal).last()
    Milestone.objects.filter(pk=step.pk).update(buyer_owner=None)
    return Milestone.objects.get(pk=step.pk)


def test_room_shows_plan_but_never_internal_steps_or_notes(dana_client, acme_deal):
    step = buyer_step(acme_deal)
    Milestone.objects.filter(pk=step.pk).update(internal_note="Discount ceiling 18%")
    plan = Plan.objects.get(deal=acme_deal)
    Milestone.objects.create(
        organization=plan.organization,
        plan=plan,
        title="Internal deal desk approval",
        visibility="internal",
        position=99,
    )

    response = dana_client.get(room_url(acme_deal))

    assert response.status_code == 200
    assert step.title.encode() in response.content
    assert b"Internal deal desk approval" not in response.content
    assert b"Discount ceiling" not in response.content
    assert b"Dana Buyer" in response.content and b"Alice Seller" in response.content


def test_buyer_marks_buyer_side_step_done(dana_client, acme_deal):
    step = buyer_step(acme_deal)

    response = dana_client.post(
        room_url(acme_deal, "room-milestone-status", milestone_id=step.public_id),
        {"status": "done"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert b"<html" not in response.content
    step.refresh_from_db()
    assert step.status == "done"
    assert step.completed_by_name == "Dana Buyer"
    activity = Plan.objects.get(deal=acme_deal).activities.first()
    assert activity.actor_name == "Dana Buyer" and activity.side == "buyer"


def test_buyer_status_toggle_is_idempotent(dana_client, acme_deal):
    step = buyer_step(acme_deal)
    url = room_url(acme_deal, "room-milestone-status", milestone_id=step.public_id)

    dana_client.post(url, {"status": "done"})
    dana_client.post(url, {"status": "done"})

    step.refresh_from_db()
    assert step.version == 2
    assert (
        Plan.objects.get(deal=acme_deal).activities.filter(verb="milestone_completed").count() == 1
    )


def test_buyer_cannot_change_seller_side_step(dana_client, acme_deal):
    step = seller_only_step(acme_deal)

    response = dana_client.post(
        room_url(acme_deal, "room-milestone-status", milestone_id=step.public_id),
        {"status": "done"},
    )

    assert response.status_code == 403
    step.refresh_from_db()
    assert step.status == "not_started"


def test_buyer_cannot_cancel_a_step(dana_client, acme_deal):
    step = buyer_step(acme_deal)

    response = dana_client.post(
        room_url(acme_deal, "room-milestone-status", milestone_id=step.public_id),
        {"status": "cancelled"},
    )

    assert response.status_code == 422
    step.refresh_from_db()
    assert step.status == "not_started"


def test_buyer_adds_own_step(dana_client, acme_deal, dana):
    due = Plan.objects.get(deal=acme_deal).target_signature_date - timedelta(days=3)

    response = dana_client.post(
        room_url(acme_deal, "room-milestone-add"),
        {
            "add-title": "Internal budget sign-off",
            "add-phase": "close",
            "add-buyer_owner": dana.pk,
            "add-due_date": due.isoformat(),
            "add-duration_days": 2,
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    step = Milestone.objects.get(title="Internal budget sign-off")
    assert step.created_by_side == "buyer"
    assert step.buyer_owner == dana
    assert step.visibility == "shared"


def test_buyer_add_step_without_date_is_refused(dana_client, acme_deal, dana):
    response = dana_client.post(
        room_url(acme_deal, "room-milestone-add"),
        {
            "add-title": "Undated",
            "add-phase": "close",
            "add-buyer_owner": dana.pk,
            "add-duration_days": 1,
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert b"Give the step a date." in response.content
    assert not Milestone.objects.filter(title="Undated").exists()


def test_buyer_add_step_with_owner_from_other_deal_is_refused(
    dana_client, acme_deal, globex_room_deal
):
    stranger = globex_room_deal.stakeholders.get(email="gus@initrode.test")

    response = dana_client.post(
        room_url(acme_deal, "room-milestone-add"),
        {
            "add-title": "Sneaky",
            "add-phase": "close",
            "add-buyer_owner": stranger.pk,
            "add-due_date": timezone.localdate().isoformat(),
            "add-duration_days": 1,
        },
    )

    assert response.status_code == 422
    assert not Milestone.objects.filter(title="Sneaky").exists()


def test_buyer_proposes_date_and_seller_accepts(dana_client, client, alice, acme_deal):
    step = buyer_step(acme_deal)
    new_date = step.due_date + timedelta(days=5)

    response = dana_client.post(
        room_url(acme_deal, "room-propose", milestone_id=step.public_id),
        {"proposed_date": new_date.isoformat(), "reason": "Our CFO is travelling"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    proposal = DateProposal.objects.get()
    step.refresh_from_db()
    assert step.due_date != new_date  # a proposal does not move the date

    from django.test import Client

    seller = Client()
    seller.force_login(alice)
    seller.post(
        reverse(
            "plans:proposal-decide", kwargs={"org_slug": "acme", "proposal_id": proposal.public_id}
        ),
        {"decision": "accept"},
    )

    step.refresh_from_db()
    assert step.due_date == new_date
    change = DueDateChange.objects.get(milestone=step)
    assert "Our CFO is travelling" in change.reason
    proposal.refresh_from_db()
    assert proposal.status == "accepted"


def test_propose_without_reason_changes_nothing(dana_client, acme_deal):
    step = buyer_step(acme_deal)

    response = dana_client.post(
        room_url(acme_deal, "room-propose", milestone_id=step.public_id),
        {"proposed_date": (step.due_date + timedelta(days=5)).isoformat(), "reason": ""},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert b"Say why the date should move." in response.content
    assert not DateProposal.objects.exists()


def test_seller_declines_proposal(client, alice, acme_deal, dana):
    from plans.services import propose_date

    step = buyer_step(acme_deal)
    proposal = propose_date(
        step, buyer=dana, proposed_date=step.due_date + timedelta(days=9), reason="x"
    )
    client.force_login(alice)

    client.post(
        reverse(
            "plans:proposal-decide", kwargs={"org_slug": "acme", "proposal_id": proposal.public_id}
        ),
        {"decision": "decline"},
    )

    proposal.refresh_from_db()
    assert proposal.status == "declined"
    assert not DueDateChange.objects.exists()


def test_buyer_comments_and_mention_emails_the_seller(
    dana_client, acme_deal, django_capture_on_commit_callbacks
):
    step = buyer_step(acme_deal)

    with django_capture_on_commit_callbacks(execute=True):
        response = dana_client.post(
            room_url(acme_deal, "room-comment", milestone_id=step.public_id),
            {"body": "Can @Alice Seller send the DPA?"},
            HTTP_HX_REQUEST="true",
        )

    assert response.status_code == 200
    assert b"Can @Alice Seller send the DPA?" in response.content
    assert Comment.objects.get().side == "buyer"
    assert [m.to for m in mail.outbox] == [["alice@acme.test"]]
    assert "mentioned you" in mail.outbox[0].subject


def test_seller_mention_of_buyer_emails_a_room_link(
    client, alice, acme_deal, django_capture_on_commit_callbacks
):
    step = buyer_step(acme_deal)
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse(
                "plans:milestone-comment",
                kwargs={"org_slug": "acme", "milestone_id": step.public_id},
            ),
            {"body": "@Dana please review"},
        )

    message = mail.outbox[0]
    assert message.to == ["dana@initech.test"]
    assert re.search(r"http://testserver/r/[\w-]+/", message.body)


def pdf_file(name="msa.pdf", size=None):
    content = b"%PDF-1.7\n" + b"0" * (size or 100)
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def docx_file():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return SimpleUploadedFile("redlines.docx", buffer.getvalue())


@pytest.mark.parametrize("make_file", [pdf_file, docx_file])
def test_buyer_attaches_document_and_downloads_it(dana_client, acme_deal, make_file):
    step = buyer_step(acme_deal)

    response = dana_client.post(
        room_url(acme_deal, "room-attach", milestone_id=step.public_id),
        {"file": make_file()},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    attachment = Attachment.objects.get()
    download = dana_client.get(room_url(acme_deal, "room-file", attachment_id=attachment.public_id))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert attachment.original_name in download["Content-Disposition"]


def test_attachment_type_is_checked_by_content(dana_client, acme_deal):
    step = buyer_step(acme_deal)
    fake = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64)

    response = dana_client.post(
        room_url(acme_deal, "room-attach", milestone_id=step.public_id),
        {"file": fake},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert b"This type of file is not accepted" in response.content
    assert not Attachment.objects.exists()


def test_attachment_size_limit(dana_client, acme_deal, settings):
    settings.ATTACHMENT_MAX_MB = 1
    step = buyer_step(acme_deal)

    response = dana_client.post(
        room_url(acme_deal, "room-attach", milestone_id=step.public_id),
        {"file": pdf_file(size=1024 * 1024 + 10)},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert b"the limit is 1 MB" in response.content
    assert not Attachment.objects.exists()


def test_other_deal_buyer_cannot_download_attachment(client, acme_deal, globex_room_deal, alice):
    from plans.services import add_attachment

    step = buyer_step(acme_deal)
    attachment = add_attachment(step, actor=Actor.seller(alice), upload=pdf_file())
    open_room(client, globex_room_deal.stakeholders.get(email="gus@initrode.test"))

    response = client.get(
        room_url(globex_room_deal, "room-file", attachment_id=attachment.public_id)
    )

    assert response.status_code == 404


def test_seller_downloads_buyer_attachment_and_other_org_cannot(
    client, alice, charlie, acme_deal, dana
):
    from plans.services import add_attachment

    attachment = add_attachment(buyer_step(acme_deal), actor=Actor.buyer(dana), upload=pdf_file())
    client.force_login(alice)
    url = reverse(
        "plans:attachment-download",
        kwargs={"org_slug": "acme", "attachment_id": attachment.public_id},
    )
    assert client.get(url).status_code == 200

    client.force_login(charlie)
    other = reverse(
        "plans:attachment-download",
        kwargs={"org_slug": "globex", "attachment_id": attachment.public_id},
    )
    assert client.get(other).status_code == 404


def test_champion_invites_colleague_of_own_domain(
    dana_client, acme_deal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = dana_client.post(
            room_url(acme_deal, "room-person-add"),
            {
                "sh-name": "Ian IT",
                "sh-title": "IT lead",
                "sh-email": "ian@initech.test",
                "sh-role": "security_reviewer",
            },
            HTTP_HX_REQUEST="true",
        )

    assert response.status_code == 200
    ian = Stakeholder.objects.get(email="ian@initech.test")
    assert ian.added_by_buyer and ian.side == "buyer"
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["alice@acme.test", "ian@initech.test"]


def test_champion_cannot_invite_outside_buyer_domains(dana_client, acme_deal):
    response = dana_client.post(
        room_url(acme_deal, "room-person-add"),
        {"sh-name": "Out Sider", "sh-email": "out@gmail.test", "sh-role": "buyer_other"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert b"ask Alice Seller to invite someone at gmail.test" in response.content
    assert not Stakeholder.objects.filter(email="out@gmail.test").exists()


def test_non_champion_cannot_invite(client, acme_deal):
    open_room(client, acme_deal.stakeholders.get(email="eve@initech.test"))

    response = client.post(
        room_url(acme_deal, "room-person-add"),
        {"sh-name": "Ian IT", "sh-email": "ian@initech.test", "sh-role": "buyer_other"},
    )

    assert response.status_code == 422
    assert not Stakeholder.objects.filter(email="ian@initech.test").exists()


def _seller_url_patterns():
    """Every URL pattern under /o/<org_slug>/ with its converter names."""
    for top in get_resolver().url_patterns:
        if isinstance(top, URLResolver) and str(top.pattern).startswith("o/"):
            for pattern in top.url_patterns:
                if isinstance(pattern, URLPattern):
                    yield top.urlconf_name, pattern


def _fill(pattern, ids):
    route = str(pattern.pattern)
    return "/o/acme/" + re.sub(
        r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), ids["any"])), route
    )


def test_buyer_session_gets_404_on_every_seller_url(dana_client, acme_deal, dana):
    step = buyer_step(acme_deal)
    ids = {
        "deal_id": acme_deal.public_id,
        "milestone_id": step.public_id,
        "stakeholder_id": dana.public_id,
        "any": acme_deal.public_id,
    }
    urls = {_fill(pattern, ids) for _, pattern in _seller_url_patterns()}
    assert len(urls) > 20

    for url in sorted(urls):
        # POST-only views answer GET with 405 before anything else: nothing is revealed.
        assert dana_client.get(url).status_code in {404, 405}, url
        assert dana_client.post(url, {"status": "done", "title": "x"}).status_code == 404, url
    step.refresh_from_db()
    assert step.status == "not_started"


def test_buyer_session_cannot_enter_another_deals_room(dana_client, acme_deal, alice):
    other = make_deal(acme_deal.organization, alice, account_name="Hooli")
    add_buyer(other, email="x@hooli.test")
    make_plan(other)
    step = Milestone.objects.filter(plan__deal=other).first()

    assert dana_client.get(room_url(other)).status_code == 404
    response = dana_client.post(
        room_url(other, "room-milestone-status", milestone_id=step.public_id), {"status": "done"}
    )
    assert response.status_code == 404
    # Nor another deal's step through this room's URLs.
    response = dana_client.post(
        room_url(acme_deal, "room-milestone-status", milestone_id=step.public_id),
        {"status": "done"},
    )
    assert response.status_code == 404
    step.refresh_from_db()
    assert step.status == "not_started"


def test_internal_step_is_404_in_room(dana_client, acme_deal):
    step = buyer_step(acme_deal)
    Milestone.objects.filter(pk=step.pk).update(visibility="internal")

    assert (
        dana_client.get(
            room_url(acme_deal, "room-milestone-row", milestone_id=step.public_id)
        ).status_code
        == 404
    )
    response = dana_client.post(
        room_url(acme_deal, "room-comment", milestone_id=step.public_id), {"body": "hello"}
    )
    assert response.status_code == 404


def test_room_visits_are_recorded_and_shown_to_seller(client, alice, dana):
    from django.test import Client

    open_room(Client(), dana)
    client.force_login(alice)

    response = client.get(dana.deal.get_absolute_url())

    assert b"Last visit" in response.content
    assert b"1 visit" in response.content


def test_room_query_count_is_constant(
    client, acme_deal, dana, django_assert_num_queries, django_assert_max_num_queries
):
    # Drawn (cold: the page cache empty) and served from the page cache (warm).
    open_room(client, dana)
    url = room_url(acme_deal)
    client.get(url)
    with django_assert_max_num_queries(1) as warm:  # the access check alone
        client.get(url)
    assert "plans_plan" not in warm.captured_queries[0]["sql"]
    cache.clear()
    with django_assert_max_num_queries(15) as cold:
        client.get(url)
    plan = Plan.objects.get(deal=acme_deal)
    for i in range(50):
        Milestone.objects.create(
            organization=plan.organization,
            plan=plan,
            title=f"Extra {i}",
            position=100 + i,
            buyer_owner=dana,
            due_date=plan.target_signature_date,
        )
    for i in range(10):
        add_buyer(acme_deal, name=f"Person {i}", email=f"p{i}@initech.test", role="buyer_other")
    cache.clear()
    with django_assert_num_queries(len(cold.captured_queries)):
        response = client.get(url)
    assert response.content.count(b"Extra ") >= 50
    with django_assert_num_queries(len(warm.captured_queries)):
        assert client.get(url).content.count(b"Extra ") >= 50


def test_room_row_fragment_query_count_is_small(
    dana_client, acme_deal, django_assert_max_num_queries
):
    step = buyer_step(acme_deal)

    with django_assert_max_num_queries(8):
        response = dana_client.get(
            room_url(acme_deal, "room-milestone-row", milestone_id=step.public_id),
            HTTP_HX_REQUEST="true",
        )
    assert b"<html" not in response.content


def test_two_concurrent_edits_one_wins_other_gets_409(client, alice, acme_deal):
    from django.test import Client

    step = buyer_step(acme_deal)
    url = reverse(
        "plans:milestone-edit", kwargs={"org_slug": "acme", "milestone_id": step.public_id}
    )
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(alice)
    base = {
        "title": step.title,
        "phase": "close",
        "due_date": step.due_date.isoformat(),
        "duration_days": step.duration_days,
        "status": "not_started",
        "risk": step.risk,
        "visibility": "shared",
        "version": step.version,
    }

    one = first.post(url, {**base, "title": "Renamed by first"}, HTTP_HX_REQUEST="true")
    two = second.post(url, {**base, "title": "Renamed by second"}, HTTP_HX_REQUEST="true")

    assert one.status_code == 200
    assert two.status_code == 409
    assert b"Renamed by first" in two.content and b"Renamed by second" in two.content
    step.refresh_from_db()
    assert step.title == "Renamed by first"


def test_update_milestone_with_stale_version_raises_and_saves_nothing(acme_deal, alice):
    from plans.services import ConflictError

    step = buyer_step(acme_deal)
    actor = Actor.seller(alice)
    update_milestone(step, actor=actor, expected_version=step.version, title="A")

    with pytest.raises(ConflictError) as raised:
        update_milestone(step, actor=actor, expected_version=step.version, title="B")

    assert raised.value.current.title == "A"
    step.refresh_from_db()
    assert step.title == "A"


def test_each_step_names_its_owners_by_company(dana_client, acme_deal):
    """ "Owner (Initech)" and "Owner (Acme Software)", not "Your side": the buyer reads whose
    step it is, on a phone too (the cells' labels when the table stacks)."""
    step = buyer_step(acme_deal)
    html = dana_client.get(room_url(acme_deal)).content.decode()

    account = acme_deal.account_name
    assert f'<th scope="col">Owner ({account})</th>' in html
    assert '<th scope="col">Owner (Acme Software)</th>' in html
    row = html[html.index(f'id="milestone-{step.public_id}"') :]
    assert f'<td data-label="Owner ({account})">{step.buyer_owner.name}</td>' in row
    assert "Your side" not in html
