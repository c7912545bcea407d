"""Magic links: GET changes nothing, POST starts a one-room session, bad links look alike."""

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from stakeholders.models import RoomLink, RoomVisit, Stakeholder
from stakeholders.services import issue_room_link, revoke_room_link
from tests.conftest import open_room


def test_link_get_changes_nothing(client, dana):
    _, token = issue_room_link(dana)

    response = client.get(f"/r/{token}/")

    assert response.status_code == 200
    assert b"Open deal room" in response.content
    assert b"Alice Seller" in response.content
    link = RoomLink.objects.get()
    assert link.first_used_at is None
    assert not RoomVisit.objects.exists()
    dana.refresh_from_db()
    assert dana.visit_count == 0
    assert client.get(reverse("room", kwargs={"deal_id": dana.deal.public_id})).status_code == 404


def test_link_post_starts_session_for_that_room(client, dana):
    _, token = issue_room_link(dana)

    response = client.post(f"/r/{token}/")

    assert response["Location"] == reverse("room", kwargs={"deal_id": dana.deal.public_id})
    room = client.get(response["Location"])
    assert room.status_code == 200
    assert b"Initech" in room.content
    dana.refresh_from_db()
    assert dana.visit_count == 1
    assert dana.first_visit_at is not None
    assert RoomLink.objects.get().first_used_at is not None


def test_session_cookie_is_httponly_and_lax(client, dana):
    _, token = issue_room_link(dana)

    response = client.post(f"/r/{token}/")

    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


@pytest.mark.parametrize("kind", ["expired", "revoked"])
def test_expired_and_revoked_links_get_the_invalid_link_page_with_404(client, dana, kind):
    link, token = issue_room_link(dana)
    if kind == "expired":
        RoomLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        revoke_room_link(link)

    get_response = client.get(f"/r/{token}/")
    post_response = client.post(f"/r/{token}/")

    for response in (get_response, post_response):
        assert response.status_code == 404
        assert b"This link is no longer valid" in response.content
        assert b"Ask for a new link" in response.content
        assert b"Alice Seller" not in response.content
    assert not RoomVisit.objects.exists()


@pytest.mark.parametrize(
    "token", ["not-a-valid-token-at-all-xyz-123456", "short", "b@d!chars%%%%%%%%%%%%%%%%%%"]
)
def test_unknown_and_malformed_links_get_the_same_page_with_404(client, db, token):
    response = client.get(f"/r/{token}/")

    assert response.status_code == 404
    assert b"This link is no longer valid" in response.content


def test_request_new_link_notifies_the_seller(client, dana, django_capture_on_commit_callbacks):
    link, token = issue_room_link(dana)
    revoke_room_link(link)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/r/{token}/request/")

    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [["alice@acme.test"]]
    assert "Dana Buyer needs a new link" in mail.outbox[0].subject


def test_revoking_ends_sessions_at_their_next_request(client, dana):
    open_room(client, dana)
    room = reverse("room", kwargs={"deal_id": dana.deal.public_id})
    assert client.get(room).status_code == 200

    revoke_room_link(RoomLink.objects.get())

    response = client.get(room)
    # This browser was let in before: its page may name the seller (410, Gone).
    assert response.status_code == 410
    assert b"ask Alice Seller for a new link" in response.content
    assert client.get(room).status_code == 404


def test_link_attempts_are_rate_limited_per_ip(client, db):
    statuses = [
        client.get(f"/r/unknown-token-number-{i:04d}-abcdef/").status_code for i in range(21)
    ]

    assert statuses[:20] == [404] * 20
    assert statuses[20] == 429


def test_token_is_stored_only_as_hash(client, dana):
    link, token = issue_room_link(dana)
    client.post(f"/r/{token}/")

    assert link.token_hash != token
    assert len(link.token_hash) == 64
    assert len(token) >= 22  # 128 bits at least (256 here)
    for session in Session.objects.all():
        assert token not in session.session_data
        assert token not in str(session.get_decoded())


def test_token_never_appears_in_logs(client, dana, caplog):
    link, token = issue_room_link(dana)
    revoke_room_link(link)

    with caplog.at_level(logging.INFO):
        client.get(f"/r/{token}/")
        client.get("/r/an-unknown-token-that-is-long-enough/")

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in text
    assert "an-unknown-token" not in text
    assert "/r/[redacted]" in text


def test_seller_invites_buyer_by_email_with_link(
    client, alice, dana, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    url = reverse(
        "plans:stakeholder-invite", kwargs={"org_slug": "acme", "stakeholder_id": dana.public_id}
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stakeholder-panel")

    assert response.status_code == 200
    assert b"Copy link" in response.content
    message = mail.outbox[0]
    assert message.to == ["dana@initech.test"]
    assert message.alternatives[0][1] == "text/html"
    link = re.search(r"http://testserver(/r/[\w-]+/)", message.body).group(1)
    assert link.encode() in response.content
    dana.refresh_from_db()
    assert dana.invited_at is not None
    buyer = client.__class__()
    assert buyer.post(link).status_code == 302


def test_resend_creates_a_new_link_and_old_links_can_be_revoked(client, alice, dana):
    client.force_login(alice)
    url = reverse(
        "plans:stakeholder-invite", kwargs={"org_slug": "acme", "stakeholder_id": dana.public_id}
    )
    client.post(url)
    client.post(url)
    first = RoomLink.objects.order_by("created_at").first()

    client.post(
        reverse("plans:room-link-revoke", kwargs={"org_slug": "acme", "link_id": first.public_id})
    )

    assert RoomLink.objects.count() == 2
    assert RoomLink.objects.usable().count() == 1


def test_seller_cannot_invite_a_seller_side_stakeholder(client, alice, acme_deal):
    client.force_login(alice)
    ae = acme_deal.stakeholders.get(role="ae")

    client.post(
        reverse(
            "plans:stakeholder-invite", kwargs={"org_slug": "acme", "stakeholder_id": ae.public_id}
        )
    )

    assert not RoomLink.objects.exists()


def test_revoke_link_of_other_workspace_is_404(client, charlie, dana):
    link, _ = issue_room_link(dana)
    client.force_login(charlie)

    response = client.post(
        reverse("plans:room-link-revoke", kwargs={"org_slug": "globex", "link_id": link.public_id})
    )

    assert response.status_code == 404
    assert RoomLink.objects.usable().count() == 1


def test_room_link_lifetime_follows_workspace_setting(dana):
    organization = dana.deal.organization
    organization.room_link_days = 7
    organization.save()

    link, _ = issue_room_link(Stakeholder.objects.get(pk=dana.pk))

    assert timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= timedelta(days=7)
