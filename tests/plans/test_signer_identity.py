"""Signer identity: the address a person's links go to is who they are. Buyers change only
their own name, title and phone; the seller changes an address, and that change voids the
old address's links, signing requests and codes, and is recorded everywhere."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from deals.models import SecurityEvent
from plans import evidence
from plans.models import Activity, Plan, SignatureEvent, SigningCode
from plans.signing import signatures
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import RoomLink, Stakeholder
from tests.conftest import open_room


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.select_related("deal", "deal__owner").get(deal=acme_deal)


@pytest.fixture
def eve(acme_deal):
    """The economic buyer: a required signer by role."""
    return acme_deal.stakeholders.get(email="eve@initech.test")


@pytest.fixture
def ae(acme_deal):
    return acme_deal.stakeholders.get(role="ae")


def person_url(deal, stakeholder):
    return reverse(
        "room-person-edit",
        kwargs={"deal_id": deal.public_id, "stakeholder_id": stakeholder.public_id},
    )


def edit_form(stakeholder, **values):
    prefix = f"sh-{stakeholder.public_id}"
    data = {
        "name": stakeholder.name,
        "title": stakeholder.title,
        "phone": stakeholder.phone,
        "email": stakeholder.email,
        "role": stakeholder.role,
        **values,
    }
    return {f"{prefix}-{key}": value for key, value in data.items()}


def request_signatures(plan, alice):
    mail.outbox.clear()
    return signatures.request_signatures(plan, actor=Actor.seller(alice))


# The reproduction: a champion rewrites the economic buyer's address ---------------------


def test_champion_cannot_edit_the_economic_buyers_record(dana_client, acme_deal, eve):
    before = Stakeholder.objects.values().get(pk=eve.pk)

    get = dana_client.get(person_url(acme_deal, eve))
    post = dana_client.post(
        person_url(acme_deal, eve), edit_form(eve, email="attacker@evil.example", name="Bill")
    )

    assert (get.status_code, post.status_code) == (404, 404)
    assert Stakeholder.objects.values().get(pk=eve.pk) == before


def test_forged_signature_attack_fails_end_to_end(
    dana_client, acme_deal, eve, plan, alice, django_capture_on_commit_callbacks
):
    """The issue's reproduction: champion edits the EB's email, the seller sends for
    signature, the attacker signs from the link. The edit is refused, so the signing link
    goes to the economic buyer only."""
    dana_client.post(person_url(acme_deal, eve), edit_form(eve, email="attacker@evil.example"))

    with django_capture_on_commit_callbacks(execute=True):
        request_signatures(plan, alice)

    recipients = {address for message in mail.outbox for address in message.to}
    assert "attacker@evil.example" not in recipients
    assert "eve@initech.test" in recipients


def test_buyer_changes_own_name_title_and_phone_but_not_email_or_role(dana_client, acme_deal):
    dana = acme_deal.stakeholders.get(email="dana@initech.test")

    response = dana_client.post(
        person_url(acme_deal, dana),
        edit_form(
            dana,
            name="Dana B. Buyer",
            title="Director of Ops",
            phone="+44 20 7946 0000",
            email="dana@evil.example",
            role="economic_buyer",
        ),
    )

    assert response.status_code == 302
    dana.refresh_from_db()
    assert (dana.name, dana.title, dana.phone) == (
        "Dana B. Buyer",
        "Director of Ops",
        "+44 20 7946 0000",
    )
    assert (dana.email, dana.role, dana.is_required_signer) == (
        "dana@initech.test",
        "champion",
        False,
    )


def test_room_offers_edit_only_on_the_buyers_own_record(dana_client, acme_deal, eve):
    dana = acme_deal.stakeholders.get(email="dana@initech.test")

    html = dana_client.get(reverse("room", kwargs={"deal_id": acme_deal.public_id})).content

    assert person_url(acme_deal, dana).encode() in html
    assert person_url(acme_deal, eve).encode() not in html


@pytest.mark.parametrize(
    "fields",
    [{"email": "x@evil.example"}, {"role": "economic_buyer"}, {"is_required_signer": True}],
)
def test_update_stakeholder_refuses_buyer_changes_beyond_own_details(acme_deal, fields):
    dana = acme_deal.stakeholders.get(email="dana@initech.test")
    eve = acme_deal.stakeholders.get(email="eve@initech.test")

    with pytest.raises(stakeholder_services.ChangeRefused):
        stakeholder_services.update_stakeholder(dana, actor=Actor.buyer(dana), **fields)
    with pytest.raises(stakeholder_services.ChangeRefused):
        stakeholder_services.update_stakeholder(eve, actor=Actor.buyer(dana), title="CFO")


def test_colleague_invited_by_champion_is_never_a_required_signer(acme_deal):
    dana = acme_deal.stakeholders.get(email="dana@initech.test")

    colleague = stakeholder_services.invite_colleague(
        dana, name="Bob CEO", email="ceo@initech.test", title="CEO", role="economic_buyer"
    )

    assert colleague.is_required_signer is False
    assert colleague not in signatures.required_signers(Plan.objects.get(deal=acme_deal))


def test_champion_cannot_invite_outside_the_buyer_domains(dana_client, acme_deal):
    response = dana_client.post(
        reverse("room-person-add", kwargs={"deal_id": acme_deal.public_id}),
        {"sh-name": "Mallory", "sh-email": "m@evil.example", "sh-role": "legal_reviewer"},
    )

    assert response.status_code == 422
    assert b"initech.test" in response.content
    assert not Stakeholder.objects.filter(email="m@evil.example").exists()


def test_buyer_domains_ignore_addresses_buyers_added(acme_deal):
    """A colleague a champion added does not widen the domains the champion may invite."""
    Stakeholder.objects.filter(deal=acme_deal, email="dana@initech.test").update(
        added_by_buyer=True
    )

    assert stakeholder_services.buyer_domains(acme_deal) == {"initech.test"}


# The seller changes an address ----------------------------------------------------------


def seller_edit(client, alice, eve, **values):
    client.force_login(alice)
    url = reverse(
        "plans:stakeholder-edit", kwargs={"org_slug": "acme", "stakeholder_id": eve.public_id}
    )
    data = edit_form(eve, **values)
    data[f"sh-{eve.public_id}-is_required_signer"] = "on" if eve.is_required_signer else ""
    return client.post(url, data)


def test_seller_email_change_voids_links_requests_and_codes(client, alice, acme_deal, eve, plan):
    request_signatures(plan, alice)
    eve_room = Client()
    open_room(eve_room, eve)
    signatures.send_signing_code(eve)

    response = seller_edit(client, alice, eve, email="eve.new@initech.test")

    assert response.status_code == 302
    assert not RoomLink.objects.usable().filter(stakeholder=eve).exists()
    assert RoomLink.objects.filter(stakeholder=eve, revoked_at=None).count() == 0
    assert not SigningCode.objects.filter(stakeholder=eve, burned_at=None, used_at=None).exists()
    # The open room session of the old address ends at its next request.
    assert eve_room.get(reverse("room", kwargs={"deal_id": acme_deal.public_id})).status_code in {
        404,
        410,
    }
    status = next(
        s for s in signatures.signature_block(plan) if s.stakeholder.pk == eve.pk
    )  # the outstanding request is void
    assert status.asked_at is None


def test_seller_email_change_is_recorded_in_feed_signature_log_and_security_log(
    client, alice, acme_deal, eve, plan
):
    request_signatures(plan, alice)

    seller_edit(client, alice, eve, email="eve.new@initech.test")

    event = SignatureEvent.objects.filter(plan=plan).order_by("-sequence").first()
    assert (event.kind, event.previous_email, event.signer_email, event.actor_name) == (
        SignatureEvent.Kind.IDENTITY_CHANGED,
        "eve@initech.test",
        "eve.new@initech.test",
        "Alice Seller",
    )
    assert evidence.verify_chain(plan).valid
    activity = Activity.objects.filter(plan=plan, verb=Activity.Verb.EMAIL_CHANGED).get()
    assert "eve@initech.test" in activity.summary and "eve.new@initech.test" in activity.summary
    assert activity.actor_name == "Alice Seller"
    logged = SecurityEvent.objects.get(kind=SecurityEvent.Kind.IDENTITY_CHANGED)
    assert (logged.user, logged.details["old_email"], logged.details["new_email"]) == (
        alice,
        "eve@initech.test",
        "eve.new@initech.test",
    )
    assert logged.ip_address == "127.0.0.1"


def test_old_address_signing_code_no_longer_works(
    client, alice, acme_deal, eve, plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signatures.send_signing_code(eve)
    code = next(word for word in mail.outbox[-1].body.split() if word.isdigit() and len(word) == 6)

    seller_edit(client, alice, eve, email="eve.new@initech.test")

    with pytest.raises(signatures.SigningRefused):
        signatures.check_signing_code(Stakeholder.objects.get(pk=eve.pk), code)


def test_link_sent_to_old_address_cannot_sign_even_if_not_revoked(acme_deal, eve, plan, alice):
    """Defence in depth: a link whose address is not the stakeholder's current one is
    unusable even if a code path forgot to revoke it."""
    room = Client()
    open_room(room, eve)
    Stakeholder.objects.filter(pk=eve.pk).update(email="eve.new@initech.test")

    response = room.post(
        reverse("room-sign", kwargs={"deal_id": acme_deal.public_id}),
        {"typed_name": eve.name, "consent": "on", "content_hash": evidence.content_hash(plan)},
    )

    assert response.status_code in {404, 410}
    assert not SignatureEvent.objects.filter(kind="signed").exists()


def test_sign_plan_refuses_a_buyer_signing_from_another_address(plan, eve):
    with pytest.raises(signatures.SigningRefused):
        signatures.sign_plan(
            plan,
            signer=eve,
            typed_name=eve.name,
            consent=True,
            seen_hash=evidence.content_hash(plan),
            ip_address="127.0.0.1",
            user_agent="pytest",
            auth_method="fresh room link",
            signed_from="attacker@evil.example",
        )
    assert not SignatureEvent.objects.filter(kind="signed").exists()


def test_signature_given_stays_and_plan_shows_identity_changed_since(
    client, alice, acme_deal, eve, ae, plan
):
    request_signatures(plan, alice)
    for signer in (eve, ae):
        signatures.sign_plan(
            plan,
            signer=signer,
            typed_name=signer.name,
            consent=True,
            seen_hash=evidence.content_hash(plan),
            ip_address="127.0.0.1",
            user_agent="pytest",
            auth_method="test",
        )
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.SIGNED

    seller_edit(client, alice, eve, email="eve.new@initech.test")

    plan.refresh_from_db()
    assert plan.status == Plan.Status.AMENDED
    status = next(s for s in signatures.signature_block(plan) if s.stakeholder.pk == eve.pk)
    assert status.signed is None
    assert status.earlier.signer_email == "eve@initech.test"
    assert status.identity_changed.signer_email == "eve.new@initech.test"
    page = client.get(plan.get_absolute_url()).content.decode()
    assert "Email changed since signing" in page


def test_removing_a_signer_voids_links_and_codes_and_is_logged(client, alice, eve, plan):
    request_signatures(plan, alice)
    signatures.send_signing_code(eve)
    link_ids = list(RoomLink.objects.filter(stakeholder=eve).values_list("pk", flat=True))

    stakeholder_services.remove_stakeholder(eve, actor=Actor.seller(alice))

    assert link_ids and not RoomLink.objects.filter(pk__in=link_ids).exists()  # deleted with eve
    removed = SignatureEvent.objects.filter(plan=plan, kind=SignatureEvent.Kind.REMOVED).get()
    assert (removed.previous_email, removed.signer_name) == ("eve@initech.test", "Eve Economic")
    assert evidence.verify_chain(plan).valid
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.STAKEHOLDER_REMOVED).exists()


def test_case_only_change_is_not_a_new_identity(client, alice, eve, plan):
    open_room(Client(), eve)

    seller_edit(client, alice, eve, email="Eve@Initech.test")

    assert RoomLink.objects.usable().filter(stakeholder=eve).exists()
    assert not SignatureEvent.objects.filter(kind=SignatureEvent.Kind.IDENTITY_CHANGED).exists()


# Audit: requested at, signed from -------------------------------------------------------


def test_signature_records_address_requested_at_and_signed_from(alice, acme_deal, eve, plan):
    request_signatures(plan, alice)
    room = Client()
    open_room(room, eve)

    response = room.post(
        reverse("room-sign", kwargs={"deal_id": acme_deal.public_id}),
        {"typed_name": eve.name, "consent": "on", "content_hash": evidence.content_hash(plan)},
    )

    assert response.status_code == 302
    signed = SignatureEvent.objects.get(kind="signed")
    assert (signed.requested_email, signed.signer_email) == (
        "eve@initech.test",
        "eve@initech.test",
    )
    assert evidence.verify_chain(plan).valid
    # Blanking the requested address afterwards breaks the chain.
    SignatureEvent.objects.filter(pk=signed.pk).update(requested_email="")
    assert not evidence.verify_chain(plan).valid


def test_audit_page_shows_requested_at_and_signed_from(client, alice, acme_deal, eve, plan):
    request_signatures(plan, alice)
    signatures.sign_plan(
        plan,
        signer=eve,
        typed_name=eve.name,
        consent=True,
        seen_hash=evidence.content_hash(plan),
        ip_address="127.0.0.1",
        user_agent="pytest",
        auth_method="fresh room link",
    )
    client.force_login(alice)

    page = client.get(
        reverse("plans:plan-audit", kwargs={"org_slug": "acme", "deal_id": acme_deal.public_id})
    ).content.decode()

    assert "requested at eve@initech.test" in page
    assert "signed from eve@initech.test" in page


# The API ---------------------------------------------------------------------------------


def test_api_email_change_voids_links_and_is_recorded(acme, acme_deal, eve, plan, alice):
    from deals.services import create_api_key

    _, key = create_api_key(acme, name="CRM sync", created_by=alice)
    open_room(Client(), eve)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/stakeholders/{eve.public_id}/"
    etag = api.get(url)["ETag"]

    response = api.patch(
        url, {"email": "eve.api@initech.test"}, content_type="application/json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert not RoomLink.objects.usable().filter(stakeholder=eve).exists()
    logged = SecurityEvent.objects.get(kind=SecurityEvent.Kind.IDENTITY_CHANGED)
    assert logged.details["new_email"] == "eve.api@initech.test"
    assert "CRM sync" in logged.actor
