"""Drafting a plan from a conversation in the browser's forms (plans/drafting/views.py):
the review shows each item with its sentence; accepting merges what was kept through the
plan's services; bad input changes nothing; the text is kept only when asked, and never
reaches the buyers."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from plans.models import Activity, Conversation, Milestone, Plan
from stakeholders.models import Stakeholder
from tests.conftest import open_room
from tests.helpers import url

CALL = """\
[00:00:05] Alice Seller: Thanks for making time, Dana. I'm Alice from Acme.
[00:00:12] Dana Buyer: Happy to. On our side the big one is security review: we usually need four weeks for security review.
[00:01:30] Dana Buyer: I'll loop in our CFO before signature. Our fiscal year ends September 30, so we need to sign before then.
[00:02:10] Dana Buyer: Legal is swamped until January, honestly. And we won't need a pilot.
[00:02:40] Dana Buyer: Success for us looks like cutting onboarding time in half.
[00:03:00] Alice Seller: Marcus Lee from procurement will handle vendor onboarding, right?
[00:03:10] Dana Buyer: Yes, Marcus will run procurement, it takes a couple of weeks. The PO by the 14th <script>alert(1)</script>.
"""  # noqa: E501 - a transcript's lines are long


def _read(client, deal, text=CALL, **extra):
    data = {"call_date": "2026-10-14", "text": text, **extra}
    return client.post(url("plans:plan-draft", deal_id=deal.public_id), data)


def test_the_review_shows_each_item_with_its_sentence(alice_client, acme_deal):
    response = _read(alice_client, acme_deal)
    assert response.status_code == 200
    page = response.content.decode()
    assert "we usually need four weeks for security review" in page
    assert 'name="step-security_review-duration" value="20"' in page
    assert "Keep step: Procurement PO issuance" in page  # the Core plan's step
    assert "Keep step: Pilot" not in page  # ruled out on the call
    assert "Add Marcus Lee" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    # Nothing changed, nothing kept.
    assert not Conversation.objects.exists()
    assert not Stakeholder.objects.filter(name="Marcus Lee").exists()


def _accept(client, deal, review_page, **choices):
    """Post the review form as the browser would: every field as drawn, then `choices`."""
    import re

    page = review_page.content.decode()
    data = {"action": "apply", "call_date": "2026-10-14", "text": CALL}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        data[name] = value
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" checked', page):
        data[name] = "on"
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        data[name] = chosen[1] if chosen else ""
    data.update(choices)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(url("plans:plan-draft", deal_id=deal.public_id), data)


def test_accepting_merges_the_kept_items(alice_client, acme_deal):
    plan = Plan.objects.get(deal=acme_deal)
    before = plan.milestones.count()
    review = _read(alice_client, acme_deal)
    response = _accept(
        alice_client,
        acme_deal,
        review,
        **{"step-purchase_order-take": None, "step-procurement-date": "2026-11-20"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    plan.refresh_from_db()
    security = plan.milestones.get(title="Complete security review")  # the Core step
    assert security.duration_days == 20
    procurement = plan.milestones.get(title__icontains="procurement", due_date=date(2026, 11, 20))
    assert procurement.buyer_owner.name == "Marcus Lee"
    marcus = Stakeholder.objects.get(deal=acme_deal, name="Marcus Lee")
    assert not marcus.is_required_signer and not marcus.email
    assert plan.target_signature_date == date(2027, 9, 30)
    assert "Success for us looks like cutting onboarding time in half." in plan.success_criteria
    assert plan.milestones.count() >= before
    assert Activity.objects.filter(plan=plan, summary__contains="from a conversation").exists() or (
        plan.milestones.count() == before
    )
    assert not Conversation.objects.exists()


def test_a_wrong_field_changes_nothing(alice_client, acme_deal):
    plan = Plan.objects.get(deal=acme_deal)
    steps = list(plan.milestones.values_list("pk", "title", "due_date", "duration_days"))
    review = _read(alice_client, acme_deal)
    response = _accept(
        alice_client, acme_deal, review, **{"step-security_review-duration": "nine hundred"}
    )
    assert response.status_code == 422
    assert "A number of business days from 1 to 260." in response.content.decode()
    assert list(plan.milestones.values_list("pk", "title", "due_date", "duration_days")) == steps
    assert not Stakeholder.objects.filter(name="Marcus Lee").exists()


def test_the_text_is_kept_only_when_asked_and_never_shown_to_buyers(
    alice_client, acme_deal, dana, client
):
    review = _read(alice_client, acme_deal)
    assert _accept(alice_client, acme_deal, review, keep="on").status_code == 302
    kept = Conversation.objects.get()
    assert "four weeks for security review" in kept.text
    page = alice_client.get(url("plans:conversation", conversation_id=kept.public_id))
    assert "four weeks for security review" in page.content.decode()
    # The buyer's room says nothing of it.
    from django.test import Client

    buyer = Client()
    open_room(buyer, dana)
    room = buyer.get(reverse("room", kwargs={"deal_id": acme_deal.public_id})).content.decode()
    assert "Complete security review" in room
    assert "swamped" not in room  # the risk is an internal note
    assert "four weeks for security review" not in room


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": ""}, "There is nothing to read"),
        ({"text": "   \n  "}, "There is nothing to read"),
        ({"text": "x" * (256 * 1024 + 1)}, "the limit is 256 KB"),
        (
            {"text": "WEBVTT\n\n" + "00:00:01.000 --> 00:00:02.000\nhi\n\n" * 7_000},
            "lines; the limit",
        ),
        ({"call_date": "next tuesday"}, "Give the day of the call"),
    ],
)
def test_bad_input_gets_a_message_next_to_the_field(alice_client, acme_deal, data, message):
    count = Milestone.objects.count()
    response = _read(alice_client, acme_deal, **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Milestone.objects.count() == count


def test_a_binary_upload_is_refused(alice_client, acme_deal):
    upload = SimpleUploadedFile("call.txt", b"%PDF-1.7\n\x00\x01", content_type="text/plain")
    response = alice_client.post(
        url("plans:plan-draft", deal_id=acme_deal.public_id),
        {"call_date": "2026-10-14", "file": upload},
    )
    assert response.status_code == 422
    assert "This is not a text file" in response.content.decode()


def test_an_uploaded_vtt_is_read(alice_client, acme_deal):
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Dana Buyer>We usually need four weeks\n\n"
        "00:00:04.000 --> 00:00:06.000\n<v Dana Buyer>for the security review.\n"
    )
    upload = SimpleUploadedFile("call.vtt", vtt.encode(), content_type="text/vtt")
    response = alice_client.post(
        url("plans:plan-draft", deal_id=acme_deal.public_id),
        {"call_date": "2026-10-14", "file": upload},
    )
    assert response.status_code == 200
    assert 'name="step-security_review-duration" value="20"' in response.content.decode()


def test_another_workspace_gets_404(client, charlie, acme_deal):
    client.force_login(charlie)
    response = client.post(
        url("plans:plan-draft", org_slug="globex", deal_id=acme_deal.public_id),
        {"call_date": "2026-10-14", "text": CALL},
    )
    assert response.status_code == 404


def test_a_buyers_comment_asking_for_time_offers_the_date_proposal(dana_client, acme_deal):
    step = Milestone.objects.filter(plan__deal=acme_deal, due_date__isnull=False).first()
    comment = reverse(
        "room-comment", kwargs={"deal_id": acme_deal.public_id, "milestone_id": step.public_id}
    )
    page = dana_client.post(comment, {"body": "We'll need another week for legal, sorry."})
    assert page.status_code == 200
    html = page.content.decode()
    from django.utils import timezone

    from plans.scheduling import add_business_days

    zone = ZoneInfo(acme_deal.organization.time_zone)
    expected = add_business_days(max(step.due_date, timezone.now().astimezone(zone).date()), 5)
    assert f'name="proposed_date" value="{expected:%Y-%m-%d}"' in html
    assert not step.proposals.exists()  # offered, not made
    # The buyer confirms it: a pending proposal, the seller decides.
    propose = reverse(
        "room-propose", kwargs={"deal_id": acme_deal.public_id, "milestone_id": step.public_id}
    )
    dana_client.post(
        propose,
        {
            "proposed_date": f"{expected:%Y-%m-%d}",
            "reason": "We'll need another week for legal, sorry.",
        },
    )
    assert step.proposals.get().proposed_date == expected
    # A comment that asks for nothing offers nothing.
    quiet = dana_client.post(comment, {"body": "Thanks, looks good!"}).content.decode()
    assert 'name="proposed_date"' not in quiet


def test_a_new_plan_can_start_from_a_conversation(alice_client, acme_deal):
    from plans.models import PlanTemplate

    Plan.objects.filter(deal=acme_deal).delete()
    core = PlanTemplate.objects.get(name="Core (8 steps)")
    response = alice_client.post(
        url("plans:plan-create", deal_id=acme_deal.public_id),
        {
            "template": core.pk,
            "target_date": "2027-03-31",
            "conversation": CALL,
            "call_date": "2026-10-14",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    # The template's steps are there, matched to what was said.
    assert "Update “Complete security review”" in page
    assert 'name="step-security_review-duration" value="20"' in page
    plan = Plan.objects.get(deal=acme_deal)
    assert plan.milestones.count() == 8  # nothing from the conversation before review


def test_a_new_plan_refuses_an_unreadable_conversation(alice_client, acme_deal):
    Plan.objects.filter(deal=acme_deal).delete()
    response = alice_client.post(
        url("plans:plan-create", deal_id=acme_deal.public_id),
        {"target_date": "2027-03-31", "conversation": "line\n" * 20_001},
    )
    assert response.status_code == 422
    assert "lines; the limit is 20,000" in response.content.decode()
    assert not Plan.objects.filter(deal=acme_deal).exists()


def test_the_review_costs_the_same_queries_whatever_the_plan_and_the_people(
    alice_client, acme_deal, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import add_buyer

    _read(alice_client, acme_deal)  # the session's first request caches what it reads
    with CaptureQueriesContext(connection) as small:
        assert _read(alice_client, acme_deal).status_code == 200
    plan = Plan.objects.get(deal=acme_deal)
    for index in range(12):
        add_buyer(acme_deal, name=f"Person {index}", email=f"p{index}@initech.test")
        Milestone.objects.create(
            organization=plan.organization,
            plan=plan,
            title=f"Extra step {index}",
            position=50 + index,
        )
    with django_assert_num_queries(len(small.captured_queries)):
        assert _read(alice_client, acme_deal).status_code == 200
