"""Signatures through the API: the plan's signed state, asking for signatures
(/plans/{id}/request-signatures/), the signature status with chain verification
(/plans/{id}/signatures/) and the event log (/signatures/); isolation; query counts."""

import re

from django.core import mail

from plans import evidence
from plans import services as plan_services
from plans.models import Activity, Plan, SignatureEvent
from plans.signing import signatures
from stakeholders import services as stakeholder_services
from stakeholders.models import RoomLink, Stakeholder

from .conftest import ACTOR, make_plan


def _signer(plan, side):
    roles = {"buyer": "economic_buyer", "seller": "ae"}
    return Stakeholder.objects.get(deal=plan.deal, role=roles[side], is_required_signer=True)


def sign(plan, side, *, typed_name=None):
    signer = _signer(plan, side)
    plan.refresh_from_db()
    return signatures.sign_plan(
        plan,
        signer=signer,
        typed_name=typed_name or signer.name,
        consent=True,
        seen_hash=evidence.content_hash(plan),
        ip_address="203.0.113.24",
        user_agent="Mozilla/5.0 test",
        auth_method="email code" if side == "buyer" else "recent sign-in",
    )


def signed_plan(plan):
    signatures.request_signatures(plan, actor=ACTOR)
    sign(plan, "buyer")
    sign(plan, "seller")
    plan.refresh_from_db()
    return plan


# The plan resource ----------------------------------------------------------------------


def test_plan_shows_signed_then_amended(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    assert api.get(url).json()["signed_version"] is None

    plan = signed_plan(acme_plan)
    signed = api.get(url).json()
    plan_services.update_plan_overview(plan, actor=ACTOR, business_outcome="Changed")
    amended = api.get(url).json()

    assert signed["status"] == "signed" and signed["signed_version"] == plan.signed_version
    assert signed["signed_at"] is not None
    assert amended["status"] == "amended"
    assert amended["signed_version"] == plan.signed_version
    assert amended["version"] > plan.signed_version
    listed = api.get("/api/v1/plans/", {"status": "amended"}).json()["results"]
    assert [p["id"] for p in listed] == [str(plan.public_id)]


# Request signatures ---------------------------------------------------------------------


def test_plan_request_signatures_asks_both_sides(
    api, acme_plan, django_capture_on_commit_callbacks
):
    url = f"/api/v1/plans/{acme_plan.public_id}/request-signatures/"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {a["name"] for a in body["asked"]} == {"Priya Raman", "Alice Seller"}
    assert {s["state"] for s in body["signers"]} == {"asked"}
    assert body["status"] == "shared" and body["chain"] == {
        "valid": True,
        "events": 2,
        "problem": "",
    }
    assert SignatureEvent.objects.filter(plan=acme_plan, kind="requested").count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@acme.test", "priya@x.test"]
    feed = Activity.objects.get(plan=acme_plan, verb="signatures_requested")
    assert feed.actor_name == "API key “Salesforce sync”"
    # The buyer's email carries a fresh room link; the API response never does.
    buyer_mail = next(m for m in mail.outbox if m.to == ["priya@x.test"])
    token = re.search(r"/r/([\w-]+)/", buyer_mail.body).group(1)
    assert token not in response.content.decode()
    assert RoomLink.objects.filter(stakeholder__email="priya@x.test").count() == 1


def test_plan_request_signatures_skips_who_signed_this_version(api, acme_plan):
    signatures.request_signatures(acme_plan, actor=ACTOR)
    sign(acme_plan, "buyer")

    response = api.post(f"/api/v1/plans/{acme_plan.public_id}/request-signatures/")

    assert response.status_code == 200
    assert [a["side"] for a in response.json()["asked"]] == ["seller"]
    states = {s["side"]: s["state"] for s in response.json()["signers"]}
    assert states == {"buyer": "signed", "seller": "asked"}


def test_plan_request_signatures_without_a_buyer_signer_is_409(api, acme_plan):
    Stakeholder.objects.filter(deal=acme_plan.deal, side="buyer").update(is_required_signer=False)

    response = api.post(f"/api/v1/plans/{acme_plan.public_id}/request-signatures/")

    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert "required signer on each side" in response.json()["detail"]
    assert not SignatureEvent.objects.exists() and mail.outbox == []
    acme_plan.refresh_from_db()
    assert acme_plan.status == "draft"


def test_plan_request_signatures_without_an_email_is_409(api, acme_plan):
    Stakeholder.objects.filter(deal=acme_plan.deal, side="buyer").update(email="")

    response = api.post(f"/api/v1/plans/{acme_plan.public_id}/request-signatures/")

    assert response.status_code == 409
    assert response.json() == {"detail": "Add an email address for Priya Raman first."}
    assert not SignatureEvent.objects.exists()


def test_plan_request_signatures_archived_or_stale_changes_nothing(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    etag = api.get(url)["ETag"]
    plan_services.update_plan_overview(acme_plan, actor=ACTOR, business_outcome="Moved on")

    stale = api.post(url + "request-signatures/", HTTP_IF_MATCH=etag)
    plan_services.archive_plan(acme_plan, actor=ACTOR, archived=True)
    archived = api.post(url + "request-signatures/")

    assert stale.status_code == 412 and stale["ETag"] != etag
    assert archived.status_code == 409 and "archived" in archived.json()["detail"]
    assert not SignatureEvent.objects.exists() and mail.outbox == []


def test_plan_request_signatures_with_current_if_match(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"

    response = api.post(url + "request-signatures/", HTTP_IF_MATCH=api.get(url)["ETag"])

    assert response.status_code == 200 and len(response.json()["asked"]) == 2


# Status and chain -----------------------------------------------------------------------


def test_plan_signatures_status_through_the_ritual(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/signatures/"
    before = api.get(url).json()
    plan = signed_plan(acme_plan)
    signed = api.get(url).json()
    plan_services.update_plan_overview(plan, actor=ACTOR, business_outcome="Changed")
    signatures.request_signatures(plan, actor=ACTOR)
    signatures.decline(
        plan,
        signer=_signer(plan, "buyer"),
        reason="Legal wants the DPA first",
        ip_address=None,
        user_agent="",
    )
    amended = api.get(url).json()

    assert {s["state"] for s in before["signers"]} == {"not_asked"}
    assert before["chain"] == {"valid": True, "events": 0, "problem": ""}
    assert signed["status"] == "signed" and signed["content_hash"] == plan.signed_content_hash
    buyer = next(s for s in signed["signers"] if s["side"] == "buyer")
    assert buyer["state"] == "signed" and buyer["typed_name"] == "Priya Raman"
    assert buyer["auth_method"] == "email code" and buyer["signed_version"] == plan.signed_version
    assert signed["chain"]["valid"] and signed["chain"]["events"] == 4
    assert amended["status"] == "amended" and amended["signed_version"] == plan.signed_version
    assert amended["content_hash"] != plan.signed_content_hash
    states = {s["side"]: s for s in amended["signers"]}
    assert states["buyer"]["state"] == "declined"
    assert states["buyer"]["decline_reason"] == "Legal wants the DPA first"
    assert states["buyer"]["earlier_signed_version"] == plan.signed_version
    assert states["seller"]["state"] == "asked"
    assert amended["events_url"].endswith(f"/api/v1/signatures/?plan={plan.public_id}")


def test_plan_signatures_reports_a_broken_chain(api, acme_plan):
    signed_plan(acme_plan)
    # Someone edits the database behind the application's back.
    SignatureEvent.objects.filter(plan=acme_plan, sequence=3).update(typed_name="Someone Else")

    chain = api.get(f"/api/v1/plans/{acme_plan.public_id}/signatures/").json()["chain"]

    assert chain == {"valid": False, "events": 4, "problem": "event 3 was altered"}


# The event log --------------------------------------------------------------------------


def test_signature_events_list_filters_and_order(api, acme, alice, acme_plan):
    signed_plan(acme_plan)
    other = make_plan(acme, alice, account_name="Hooli")
    signatures.request_signatures(other, actor=ACTOR)

    chain = api.get(
        "/api/v1/signatures/", {"plan": str(acme_plan.public_id), "ordering": "created_at"}
    ).json()["results"]
    signed = api.get("/api/v1/signatures/", {"kind": "signed", "side": "buyer"}).json()
    everything = api.get("/api/v1/signatures/").json()["results"]

    assert [e["sequence"] for e in chain] == [1, 2, 3, 4]
    assert [e["kind"] for e in chain] == ["requested", "requested", "signed", "signed"]
    assert chain[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["event_hash"] for a, b in zip(chain, chain[1:], strict=False))
    (event,) = signed["results"]
    assert event["signer_name"] == "Priya Raman" and event["typed_name"] == "Priya Raman"
    assert event["ip_address"] == "203.0.113.24" and event["user_agent"] == "Mozilla/5.0 test"
    assert event["signer_side"] == "buyer" and event["signer_role"] == "Economic buyer"
    assert event["content_hash"] == Plan.objects.get(pk=acme_plan.pk).signed_content_hash
    assert event["signer"] == str(_signer(acme_plan, "buyer").public_id)
    assert len(everything) == 6 and everything[0]["plan"] == str(other.public_id)


def test_signature_event_detail_has_an_etag(api, acme_plan):
    signatures.request_signatures(acme_plan, actor=ACTOR)
    event = SignatureEvent.objects.filter(plan=acme_plan).first()
    url = f"/api/v1/signatures/{event.public_id}/"

    response = api.get(url)
    again = api.get(url, HTTP_IF_NONE_MATCH=response["ETag"])

    assert response.status_code == 200 and response.json()["event_hash"] == event.event_hash
    assert response.json()["actor_name"] == "Test"
    assert again.status_code == 304


def test_signature_events_validation_and_read_only(api, acme_plan):
    signatures.request_signatures(acme_plan, actor=ACTOR)
    event = SignatureEvent.objects.filter(plan=acme_plan).first()

    bad = api.get("/api/v1/signatures/", {"kind": "forged", "plan": "nope"})
    post = api.post("/api/v1/signatures/", {"kind": "signed"}, format="json")
    delete = api.delete(f"/api/v1/signatures/{event.public_id}/")

    assert bad.status_code == 400 and set(bad.json()) == {"kind", "plan"}
    assert post.status_code == 405 and delete.status_code == 405
    assert SignatureEvent.objects.count() == 2


# Isolation ------------------------------------------------------------------------------


def test_signatures_of_another_workspace_are_404(api, globex_plan):
    signatures.request_signatures(globex_plan, actor=ACTOR)
    event = SignatureEvent.objects.filter(plan=globex_plan).first()
    plan_url = f"/api/v1/plans/{globex_plan.public_id}/"

    responses = [
        api.get(plan_url + "signatures/"),
        api.post(plan_url + "request-signatures/"),
        api.get(f"/api/v1/signatures/{event.public_id}/"),
    ]
    listed = api.get("/api/v1/signatures/", {"plan": str(globex_plan.public_id)})

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert listed.status_code == 200 and listed.json()["results"] == []
    assert SignatureEvent.objects.filter(plan=globex_plan).count() == 2
    assert mail.outbox == []


# Query counts ---------------------------------------------------------------------------


def _grow_signers(plan, count):
    for n in range(count):
        stakeholder_services.add_stakeholder(
            plan.deal,
            actor=ACTOR,
            name=f"Signer {n}",
            email=f"signer{n}@x.test",
            role="legal_reviewer",
            is_required_signer=True,
        )
    signatures.request_signatures(plan, actor=ACTOR)


def test_plan_signatures_query_count_is_constant(api, acme_plan, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/api/v1/plans/{acme_plan.public_id}/signatures/"
    _grow_signers(acme_plan, 1)
    with CaptureQueriesContext(connection) as small:
        assert api.get(url).status_code == 200
    _grow_signers(acme_plan, 8)
    sign(acme_plan, "buyer")

    with django_assert_max_num_queries(len(small)):
        response = api.get(url)

    assert len(response.json()["signers"]) == 11
    assert response.json()["chain"]["events"] > 10
