"""The signature ritual: canonical hash, the chain, every bad input, status transitions."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from plans import evidence
from plans.models import Milestone, Plan, SignatureEvent
from plans.services import update_milestone, update_plan_overview
from plans.signing import signatures
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from tests.conftest import open_room


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.select_related("deal", "deal__owner").get(deal=acme_deal)


@pytest.fixture
def eve(acme_deal):
    return acme_deal.stakeholders.get(email="eve@initech.test")


@pytest.fixture
def ae(acme_deal):
    return acme_deal.stakeholders.get(role="ae")


def sign(plan, signer, **overrides):
    kwargs = {
        "typed_name": signer.name,
        "consent": True,
        "seen_hash": evidence.content_hash(plan),
        "ip_address": "127.0.0.1",
        "user_agent": "pytest",
        "auth_method": "test",
    }
    return signatures.sign_plan(plan, signer=signer, **{**kwargs, **overrides})


# Canonical content ----------------------------------------------------------------------


def test_content_hash_is_stable(plan):
    first = evidence.content_hash(plan)

    assert evidence.content_hash(Plan.objects.get(pk=plan.pk)) == first
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    # The hash is over canonical JSON: sorted keys, no whitespace, so any database gives it.
    data = evidence.canonical_bytes(evidence.canonical_content(plan))
    assert hashlib.sha256(data).hexdigest() == first
    assert b", " not in data and data.startswith(b'{"business_outcome"')


@pytest.mark.parametrize(
    "change",
    [
        lambda plan, actor: update_plan_overview(plan, actor=actor, business_outcome="New outcome"),
        lambda plan, actor: update_plan_overview(plan, actor=actor, success_criteria=["A", "B"]),
        lambda plan, actor: update_milestone(
            plan.milestones.first(), actor=actor, expected_version=None, title="Renamed"
        ),
        lambda plan, actor: update_milestone(
            plan.milestones.first(),
            actor=actor,
            expected_version=None,
            reason="slip",
            due_date=plan.milestones.first().due_date + timedelta(days=2),
        ),
        lambda plan, actor: Stakeholder.objects.filter(deal=plan.deal, role="champion").update(
            name="Dana X"
        ),
    ],
)
def test_content_hash_changes_when_a_signed_field_changes(plan, alice, change):
    before = evidence.content_hash(plan)

    change(plan, Actor.seller(alice))

    assert evidence.content_hash(Plan.objects.get(pk=plan.pk)) != before


def test_content_hash_ignores_unsigned_fields(plan, alice):
    before = evidence.content_hash(plan)
    step = plan.milestones.first()

    Milestone.objects.filter(pk=step.pk).update(
        internal_note="secret", status="done", shared_notes="n"
    )
    Milestone.objects.create(
        organization=plan.organization,
        plan=plan,
        title="Internal only",
        visibility="internal",
        position=50,
    )
    plan.activities.create(
        organization=plan.organization, verb="plan_edited", actor_name="x", summary="x"
    )

    assert evidence.content_hash(plan) == before
    assert "Internal only" not in str(evidence.canonical_content(plan))


# Flow and bad input --------------------------------------------------------------------


def test_full_flow_draft_shared_signed_amended_signed_again(
    plan, alice, eve, ae, django_capture_on_commit_callbacks
):
    actor = Actor.seller(alice)
    assert plan.status == "draft"

    with django_capture_on_commit_callbacks(execute=True):
        asked = signatures.request_signatures(plan, actor=actor)
    assert {s.pk for s in asked} == {eve.pk, ae.pk}
    plan.refresh_from_db()
    assert plan.status == "shared"
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@acme.test", "eve@initech.test"]
    assert re.search(
        r"/r/[\w-]+/", next(m for m in mail.outbox if m.to == ["eve@initech.test"]).body
    )

    sign(plan, eve)
    plan.refresh_from_db()
    assert plan.status == "shared"
    with django_capture_on_commit_callbacks(execute=True):
        sign(plan, ae)
    plan.refresh_from_db()
    assert plan.status == "signed"
    assert plan.signed_version == plan.version
    assert any("is signed" in m.subject for m in mail.outbox)

    update_plan_overview(plan, actor=actor, business_outcome="A changed outcome")
    plan.refresh_from_db()
    assert plan.status == "amended"
    block = signatures.signature_block(plan)
    assert all(s.signed is None and s.earlier is not None for s in block)

    signatures.request_signatures(plan, actor=actor)
    sign(plan, eve)
    sign(plan, ae)
    plan.refresh_from_db()
    assert plan.status == "signed"
    assert evidence.verify_chain(plan).valid


def test_checking_off_a_step_does_not_amend_a_signed_plan(plan, alice, eve, ae):
    sign(plan, eve)
    sign(plan, ae)
    step = plan.milestones.first()

    from plans.services import set_milestone_status

    set_milestone_status(step, actor=Actor.seller(alice), status="done")

    plan.refresh_from_db()
    assert plan.status == "signed"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"typed_name": ""}, "Type your full name"),
        ({"typed_name": "Someone Else"}, "Type your full name"),
        ({"consent": False}, "Tick the box"),
        ({"seen_hash": "0" * 64}, "The plan changed while you were reading it"),
    ],
)
def test_bad_input_is_refused_and_nothing_recorded(plan, eve, overrides, message):
    with pytest.raises(signatures.SigningRefused, match=message):
        sign(plan, eve, **overrides)

    assert not SignatureEvent.objects.filter(kind="signed").exists()


def test_name_match_ignores_case_spacing_and_accents():
    assert signatures.names_match("  eve   ECONOMIC ", "Eve Economic")
    assert signatures.names_match("Zoe Lemaitre", "Zoé Lemaître")
    assert not signatures.names_match("Eve", "Eve Economic")


def test_signing_twice_is_refused(plan, eve):
    sign(plan, eve)

    with pytest.raises(signatures.SigningRefused, match="already signed"):
        sign(plan, eve)

    assert SignatureEvent.objects.filter(kind="signed").count() == 1


def test_non_signer_cannot_sign(plan, dana):
    with pytest.raises(signatures.SigningRefused, match="not a signer"):
        sign(plan, dana)

    assert not SignatureEvent.objects.exists()


def test_request_needs_a_signer_on_each_side(plan, alice, eve):
    Stakeholder.objects.filter(pk=eve.pk).update(is_required_signer=False)

    with pytest.raises(signatures.SigningRefused, match="each side"):
        signatures.request_signatures(plan, actor=Actor.seller(alice))


def test_decline_needs_a_reason_and_the_seller_sees_it(plan, eve, client, alice):
    with pytest.raises(signatures.SigningRefused):
        signatures.decline(plan, signer=eve, reason=" ", ip_address=None, user_agent="")

    signatures.decline(
        plan, signer=eve, reason="Budget frozen until Q3", ip_address=None, user_agent=""
    )

    client.force_login(alice)
    page = client.get(plan.get_absolute_url())
    assert b"Declined" in page.content and b"Budget frozen until Q3" in page.content


# The chain ----------------------------------------------------------------------------


def test_chain_detects_altered_removed_and_reordered_events(plan, alice, eve, ae):
    signatures.request_signatures(plan, actor=Actor.seller(alice))
    sign(plan, eve)
    sign(plan, ae)
    assert evidence.verify_chain(plan).valid

    event = SignatureEvent.objects.get(plan=plan, kind="signed", signer=eve)
    SignatureEvent.objects.filter(pk=event.pk).update(typed_name="Mallory")
    assert "altered" in evidence.verify_chain(plan).problem

    SignatureEvent.objects.filter(pk=event.pk).update(typed_name=event.typed_name)
    assert evidence.verify_chain(plan).valid
    SignatureEvent.objects.filter(pk=event.pk).delete()
    assert not evidence.verify_chain(plan).valid


# Identity freshness -------------------------------------------------------------------


def test_buyer_with_fresh_session_signs_in_the_room(client, plan, eve):
    open_room(client, eve)
    page = client.get(reverse("room-sign", kwargs={"deal_id": plan.deal.public_id}))
    digest = re.search(rb'name="content_hash" value="(\w+)"', page.content).group(1).decode()

    response = client.post(
        reverse("room-sign", kwargs={"deal_id": plan.deal.public_id}),
        {"typed_name": "eve economic", "consent": "on", "content_hash": digest},
        HTTP_USER_AGENT="Firefox/140",
    )

    assert response.status_code == 302
    event = SignatureEvent.objects.get(kind="signed")
    assert event.auth_method == "fresh room link"
    assert event.user_agent == "Firefox/140"
    assert event.ip_address == "127.0.0.1"
    assert event.content_hash == digest


def test_buyer_with_old_session_needs_an_emailed_code(
    client, plan, eve, django_capture_on_commit_callbacks
):
    open_room(client, eve)
    url = reverse("room-sign", kwargs={"deal_id": plan.deal.public_id})
    digest = evidence.content_hash(plan)
    data = {"typed_name": "Eve Economic", "consent": "on", "content_hash": digest}
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        refused = client.post(url, data)
        assert refused.status_code == 422
        assert b"Confirm it is you" in refused.content
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("room-sign-code", kwargs={"deal_id": plan.deal.public_id}))
        code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
        client.post(
            reverse("room-sign-verify", kwargs={"deal_id": plan.deal.public_id}), {"code": code}
        )
        response = client.post(url, data)

    assert response.status_code == 302
    assert SignatureEvent.objects.get(kind="signed").auth_method == "email code"


def test_signing_code_burns_after_five_wrong_tries(eve, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signatures.send_signing_code(eve)
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(signatures.SigningRefused):
            signatures.check_signing_code(eve, wrong)

    with pytest.raises(signatures.SigningRefused, match="expired or was already used"):
        signatures.check_signing_code(eve, code)


def test_signing_code_expires_after_ten_minutes(eve, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signatures.send_signing_code(eve)
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)

    with (
        time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)),
        pytest.raises(signatures.SigningRefused),
    ):
        signatures.check_signing_code(eve, code)


def test_seller_signs_with_recent_sign_in(client, plan, alice, ae):
    alice.last_login = timezone.now()
    alice.save()
    client.force_login(alice)
    url = reverse("plans:plan-sign", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    page = client.get(url)
    assert b"Your password" not in page.content

    response = client.post(
        url,
        {
            "typed_name": "Alice Seller",
            "consent": "on",
            "content_hash": evidence.content_hash(plan),
        },
    )

    assert response.status_code == 302
    assert SignatureEvent.objects.get(kind="signed").auth_method == "recent sign-in"


def test_seller_with_old_sign_in_reenters_password(client, plan, alice, ae, password):
    client.force_login(alice)
    type(alice).objects.filter(pk=alice.pk).update(last_login=timezone.now() - timedelta(hours=2))
    url = reverse("plans:plan-sign", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    data = {
        "typed_name": "Alice Seller",
        "consent": "on",
        "content_hash": evidence.content_hash(plan),
    }

    wrong = client.post(url, {**data, "password": "nope"})
    assert wrong.status_code == 422
    assert b"That password is not right." in wrong.content
    assert not SignatureEvent.objects.filter(kind="signed").exists()

    response = client.post(url, {**data, "password": password})
    assert response.status_code == 302
    assert SignatureEvent.objects.get(kind="signed").auth_method == "password re-entered"


def test_stale_content_in_sign_form_gets_409_and_current_content(client, plan, alice, ae):
    alice.last_login = timezone.now()
    alice.save()
    client.force_login(alice)
    url = reverse("plans:plan-sign", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    old = evidence.content_hash(plan)
    update_plan_overview(plan, actor=Actor.seller(alice), business_outcome="Moved on")

    response = client.post(
        url, {"typed_name": "Alice Seller", "consent": "on", "content_hash": old}
    )

    assert response.status_code == 409
    assert b"The plan changed while you were reading it" in response.content
    assert b"Moved on" in response.content
    assert not SignatureEvent.objects.filter(kind="signed").exists()


def test_buyer_of_another_deal_cannot_sign_or_download(client, plan, globex_room_deal):
    open_room(client, globex_room_deal.stakeholders.get(email="gus@initrode.test"))

    assert (
        client.get(reverse("room-sign", kwargs={"deal_id": plan.deal.public_id})).status_code == 404
    )
    assert (
        client.get(reverse("room-pdf", kwargs={"deal_id": plan.deal.public_id})).status_code == 404
    )
    response = client.post(
        reverse("room-sign", kwargs={"deal_id": plan.deal.public_id}),
        {"typed_name": "Gus", "consent": "on", "content_hash": "x"},
    )
    assert response.status_code == 404
    assert not SignatureEvent.objects.exists()


def test_non_signer_buyer_is_refused_with_clear_message(client, plan, dana):
    open_room(client, dana)

    response = client.post(
        reverse("room-sign", kwargs={"deal_id": plan.deal.public_id}),
        {
            "typed_name": "Dana Buyer",
            "consent": "on",
            "content_hash": evidence.content_hash(plan),
        },
    )

    assert response.status_code == 403
    assert b"not a required signer of this plan" in response.content
    assert not SignatureEvent.objects.exists()


def test_other_workspace_cannot_reach_signing_pages(client, charlie, plan):
    client.force_login(charlie)
    for name in ("plan-sign", "plan-audit", "plan-pdf"):
        url = reverse(
            f"plans:{name}", kwargs={"org_slug": "globex", "deal_id": plan.deal.public_id}
        )
        assert client.get(url).status_code == 404
    url = reverse(
        "plans:plan-request-signatures",
        kwargs={"org_slug": "globex", "deal_id": plan.deal.public_id},
    )
    assert client.post(url).status_code == 404
    assert not SignatureEvent.objects.exists()


def test_audit_page_shows_chain_verified(client, alice, plan, eve):
    sign(plan, eve)
    client.force_login(alice)

    response = client.get(
        reverse("plans:plan-audit", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    )

    assert b"Chain verified" in response.content
    assert b"Eve Economic" in response.content


def test_request_signatures_view(client, alice, plan, django_capture_on_commit_callbacks):
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(
                "plans:plan-request-signatures",
                kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id},
            )
        )

    assert response.status_code == 302
    assert SignatureEvent.objects.filter(kind="requested").count() == 2
    page = Client()
    page.force_login(alice)
    assert b"Pending" in page.get(plan.get_absolute_url()).content
