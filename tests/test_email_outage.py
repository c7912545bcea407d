"""A mail server that does not answer never turns a saved change into an error page.

The emails a change owes are sent when its transaction commits (deals.emails): a refused or
unreachable SMTP server is logged, and the person is told in place (the invitation's link
to copy) or on the next page. A signing code is the exception: its email is sent before the
commit, so a code that could not be sent is not recorded and can be asked for again at once.
The SMTP server here is a real port on 127.0.0.1 with nothing listening, as a mail server
that is down looks to the app."""

import logging

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from deals.models import Invitation, SecurityEvent
from deals.services import create_api_key
from plans.models import Comment, SignatureEvent, SigningCode
from stakeholders.models import RoomLink
from tests.conftest import open_room

pytestmark = pytest.mark.django_db(transaction=True)


def _invite_url(stakeholder):
    return reverse(
        "plans:stakeholder-invite",
        kwargs={"org_slug": "acme", "stakeholder_id": stakeholder.public_id},
    )


def test_an_invitation_the_mail_server_refuses_keeps_its_link_and_says_so(
    alice_client, dana, smtp_down, caplog
):
    with caplog.at_level(logging.ERROR, logger="deals.emails"):
        response = alice_client.post(
            _invite_url(dana), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stakeholder-panel"
        )

    assert response.status_code == 200
    text = response.content.decode()
    assert "could not be emailed to dana@initech.test" in text
    assert "Invitation sent" not in text
    # The link was made and works: the seller copies it from the panel.
    assert RoomLink.objects.filter(stakeholder=dana, revoked_at=None).count() == 1
    assert "/r/" in text and "Copy link" in text
    assert "'room-invitation' to dana@initech.test not sent" in caplog.text
    # Said in place: no second warning waits for the next page.
    assert not list(get_messages(response.wsgi_request))


def test_an_invitation_without_htmx_says_so_on_the_next_page(alice_client, dana, smtp_down):
    response = alice_client.post(_invite_url(dana), follow=True)

    assert response.status_code == 200
    assert "could not be emailed to dana@initech.test" in response.content.decode()


def test_with_the_mail_server_back_the_invitation_is_sent(alice_client, dana, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = alice_client.post(
        _invite_url(dana), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stakeholder-panel"
    )

    assert "Invitation sent to dana@initech.test" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["dana@initech.test"]]


def test_a_workspace_invitation_the_mail_server_refuses_is_saved_and_said(
    client, acme_admin, smtp_down
):
    client.force_login(acme_admin)
    url = reverse("deals:workspace-settings", kwargs={"org_slug": "acme"})
    response = client.post(url, {"invite-email": "new.seller@acme.test", "invite-role": "seller"})

    assert response.status_code == 302
    text = client.get(url).content.decode()
    assert "The invitation could not be emailed to new.seller@acme.test" in text
    assert "Invitation sent" not in text
    assert Invitation.objects.filter(email="new.seller@acme.test").exists()


def test_a_request_for_signatures_the_mail_server_refuses_is_saved_and_said(
    alice_client, acme_deal, smtp_down
):
    response = alice_client.post(
        reverse(
            "plans:plan-request-signatures",
            kwargs={"org_slug": "acme", "deal_id": acme_deal.public_id},
        ),
        follow=True,
    )

    assert response.status_code == 200
    assert "could not be sent (the mail server did not answer)" in response.content.decode()
    assert SignatureEvent.objects.filter(kind="requested").count() == 2


def test_any_other_email_of_a_sellers_change_ends_in_a_warning_on_the_next_page(
    alice_client, acme_deal, smtp_down
):
    """A mention: the comment is saved; the seller reads why the buyer was not emailed."""
    step = acme_deal.plan.milestones.filter(visibility="shared").first()
    response = alice_client.post(
        reverse(
            "plans:milestone-comment", kwargs={"org_slug": "acme", "milestone_id": step.public_id}
        ),
        {"body": "@Dana please review"},
    )
    assert response.status_code in (200, 302)
    assert Comment.objects.filter(body="@Dana please review").exists()

    page = alice_client.get(acme_deal.plan.get_absolute_url())
    assert "Saved, but the email to dana@initech.test could not be sent" in page.content.decode()


def test_a_buyer_never_hears_which_address_was_not_emailed(dana_client, acme_deal, smtp_down):
    """A buyer's mention of the seller: saved, logged, and nothing said to the buyer."""
    step = acme_deal.plan.milestones.filter(visibility="shared").first()
    response = dana_client.post(
        reverse(
            "room-comment", kwargs={"deal_id": acme_deal.public_id, "milestone_id": step.public_id}
        ),
        {"body": "Can @Alice Seller send the DPA?"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert not list(get_messages(response.wsgi_request))
    assert (
        "alice@acme.test"
        not in dana_client.get(
            reverse("room", kwargs={"deal_id": acme_deal.public_id})
        ).content.decode()
    )


@pytest.fixture
def eve(acme_deal):
    return acme_deal.stakeholders.get(email="eve@initech.test")


def test_a_signing_code_that_cannot_be_sent_is_not_recorded(client, eve, smtp_down, settings):
    open_room(client, eve)
    url = reverse("room-sign-code", kwargs={"deal_id": eve.deal.public_id})

    response = client.post(url)

    assert response.status_code == 503
    assert "could not email your code" in response.content.decode()
    assert not SigningCode.objects.filter(stakeholder=eve).exists()
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SIGNING_CODE_SENT).exists()
    # The mail server is back: a code at once (the failed one did not count).
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert client.post(url).status_code == 302
    assert SigningCode.objects.filter(stakeholder=eve).count() == 1
    assert [m.to for m in mail.outbox] == [["eve@initech.test"]]


def test_the_api_says_whether_the_invitation_was_emailed(acme_deal, dana, smtp_down):
    _, key = create_api_key(acme_deal.organization, name="CRM sync")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    response = api.post(f"/api/v1/stakeholders/{dana.public_id}/invite/")

    assert response.status_code == 201
    body = response.json()
    assert body["emailed"] is False
    assert RoomLink.objects.filter(stakeholder=dana).count() == 1
    # The link works: the caller sends it another way.
    assert body["room_url"].startswith("http://testserver/r/")


def test_a_signed_in_person_acting_as_a_buyer_hears_no_address_either(
    client, charlie, acme_deal, dana, smtp_down
):
    """Signed in to another workspace, in a room as its buyer: still a buyer there."""
    client.force_login(charlie)
    open_room(client, dana)
    step = acme_deal.plan.milestones.filter(visibility="shared").first()
    response = client.post(
        reverse(
            "room-comment", kwargs={"deal_id": acme_deal.public_id, "milestone_id": step.public_id}
        ),
        {"body": "Can @Alice Seller send the DPA?"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert not list(get_messages(response.wsgi_request))


def test_a_request_with_nothing_unsent_passes_through_untouched(rf):
    """The middleware runs on every response, a 503 of a database outage too: with no email
    to report it does not read request.user (a database query) or anything else."""
    from django.http import HttpResponse
    from django.utils.functional import SimpleLazyObject

    from deals.emails import UnsentEmailsMiddleware

    def database_down():
        raise AssertionError("request.user was read")

    request = rf.get("/o/acme/deals/")
    request.user = SimpleLazyObject(database_down)
    answer = HttpResponse("The database is not answering.", status=503)

    assert UnsentEmailsMiddleware(lambda request: answer)(request) is answer
