"""Links that do not open a room: expired, revoked, no longer addressed to the stakeholder,
malformed and unknown ones get one page with one status (404), byte for byte the same apart
from the CSRF token and the CSP nonce — no seller, no workspace, nothing that tells a real
link from a made-up one. Its "Ask for a new link" answers the same for every token and emails
the seller at most once an hour per stakeholder.

Before, revoked and expired links answered 410 naming the seller, unknown ones a plain 404."""

import re
import threading
from datetime import timedelta
from urllib.parse import urljoin

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deals.models import SecurityEvent
from stakeholders import services
from stakeholders.models import RoomLink, Stakeholder
from stakeholders.services import issue_room_link, revoke_room_link
from tests.conftest import needs_postgres

UNKNOWN = "an-unknown-token-of-the-right-shape-0123456789abcdefghij"
MALFORMED = "b@d!chars%%%%%%%%%%%%%%%%%%"
SHORT = "short"


def _kill(link, how):
    if how == "expired":
        RoomLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif how == "revoked":
        revoke_room_link(link)
    elif how == "readdressed":  # the seller changed the stakeholder's email since
        Stakeholder.objects.filter(pk=link.stakeholder_id).update(email="new@initech.test")


@pytest.fixture
def tokens(dana):
    """Every kind of token that does not open a room, by name."""
    found = {"unknown": UNKNOWN, "malformed": MALFORMED, "short": SHORT}
    for how in ("expired", "revoked"):
        link, token = issue_room_link(dana)
        _kill(link, how)
        found[how] = token
    eve = dana.deal.stakeholders.get(email="eve@initech.test")
    link, token = issue_room_link(eve)
    _kill(link, "readdressed")
    found["readdressed"] = token
    return found


def _normalized(response) -> bytes:
    """The body without what differs on every response anyway."""
    body = response.content
    body = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"CSRF", body)
    body = re.sub(rb'"X-CSRFToken": "[^"]+"', b"CSRF", body)
    return re.sub(rb'nonce="[^"]+"', b"NONCE", body)


def _answers(tokens, make_request):
    answers = {}
    for name, token in tokens.items():
        response = make_request(Client(), token)
        answers[name] = (response.status_code, response["Content-Type"], _normalized(response))
    return answers


def _all_the_same(answers):
    distinct = set(answers.values())
    assert len(distinct) == 1, {name: answer[:2] for name, answer in answers.items()}
    return distinct.pop()


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_invalid_link_gets_the_same_bytes_and_status(tokens, method):
    answers = _answers(tokens, lambda client, token: getattr(client, method)(f"/r/{token}/"))

    status, _, body = _all_the_same(answers)
    assert status == 404
    assert b"This link is no longer valid" in body
    assert b"Ask for a new link" in body
    for name in (b"Alice", b"Acme", b"Initech", b"Dana", b"Platform"):
        assert name not in body


def test_act_links_with_invalid_tokens_get_the_same_bytes(tokens, acme_deal):
    step = acme_deal.plan.milestones.filter(visibility="shared").first()

    def act(client, token):
        kwargs = {"token": token, "milestone_id": step.public_id, "action": "done"}
        return client.get(reverse("room-act", kwargs=kwargs))

    tokens.pop("malformed")  # its characters cannot be part of a URL path as they are
    status, _, body = _all_the_same(_answers(tokens, act))
    assert status == 404
    assert b"Alice" not in body and b"Initech" not in body


@pytest.mark.parametrize("kind", ["page", "act"])
def test_ask_for_a_new_link_button_reaches_the_request_url(dana, acme_deal, kind):
    link, token = issue_room_link(dana)
    revoke_room_link(link)
    page_url = f"http://testserver/r/{token}/"
    if kind == "act":
        step = acme_deal.plan.milestones.filter(visibility="shared").first()
        page_url += f"act/{step.public_id}/done/"
    page = Client().get(page_url)

    action = re.search(rb'<form method="post" action="([^"]+)"', page.content).group(1).decode()
    assert urljoin(page_url, action) == f"http://testserver/r/{token}/request/"


def test_ask_for_a_new_link_answers_the_same_for_every_token(
    tokens, dana, django_capture_on_commit_callbacks
):
    _, usable = issue_room_link(dana)
    tokens["usable"] = usable

    with django_capture_on_commit_callbacks(execute=True):
        answers = _answers(tokens, lambda client, token: client.post(f"/r/{token}/request/"))

    status, _, body = _all_the_same(answers)
    assert status == 200
    assert b"Request sent" in body
    assert b"Alice" not in body
    # The real links that no longer work told the seller; nothing else did.
    assert sorted(m.subject for m in mail.outbox) == [
        "Dana Buyer needs a new link to the Initech deal room",
        "Eve Economic needs a new link to the Initech deal room",
    ]


def test_the_seller_hears_at_most_once_an_hour_per_stakeholder(
    dana, django_capture_on_commit_callbacks
):
    first, first_token = issue_room_link(dana)
    second, second_token = issue_room_link(dana)
    revoke_room_link(first)
    revoke_room_link(second)
    start = timezone.now()

    def ask(token, at):
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert Client().post(f"/r/{token}/request/").status_code == 200

    for token in (first_token, second_token, first_token):
        ask(token, start)
    assert len(mail.outbox) == 1
    ask(second_token, start + timedelta(minutes=59))
    assert len(mail.outbox) == 1
    ask(second_token, start + timedelta(hours=1))

    assert len(mail.outbox) == 2
    assert mail.outbox[0].to == ["alice@acme.test"]


def test_another_stakeholders_request_is_not_held_back(dana, django_capture_on_commit_callbacks):
    eve = dana.deal.stakeholders.get(email="eve@initech.test")
    links = [issue_room_link(person) for person in (dana, eve)]
    for link, _ in links:
        revoke_room_link(link)

    with django_capture_on_commit_callbacks(execute=True):
        for _, token in links:
            Client().post(f"/r/{token}/request/")

    assert len(mail.outbox) == 2


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_send_one_email(acme_deal):
    dana = acme_deal.stakeholders.get(email="dana@initech.test")
    barrier = threading.Barrier(2)
    outcomes = []

    def ask():
        try:
            barrier.wait()
            outcomes.append(services.ask_for_new_link(dana))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [False, True]
    assert len(mail.outbox) == 1


def test_too_many_attempts_on_a_real_link_are_logged_once_in_its_workspace(dana):
    link, token = issue_room_link(dana)
    revoke_room_link(link)
    client = Client()

    statuses = [client.get(f"/r/{token}/").status_code for _ in range(25)]

    assert statuses == [404] * 20 + [429] * 5
    lockout = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LOCKOUT)
    assert lockout.organization_id == dana.organization_id
    assert lockout.ip_address == "127.0.0.1"
    assert lockout.details == {"limit": "room-link", "stakeholder": str(dana.public_id)}
    assert "Dana Buyer" in lockout.target


def test_too_many_attempts_on_made_up_links_log_nothing(db):
    client = Client()

    statuses = [client.get(f"/r/{UNKNOWN}{n:03d}/").status_code for n in range(22)]

    assert statuses[-1] == 429
    assert not SecurityEvent.objects.exists()


def test_a_buyer_whose_session_ended_may_see_the_sellers_name(dana_client, dana):
    room = reverse("room", kwargs={"deal_id": dana.deal.public_id})
    revoke_room_link(RoomLink.objects.get())

    response = dana_client.get(room)

    assert response.status_code == 410
    assert b"ask Alice Seller for a new link" in response.content


def test_the_request_page_is_rate_limited_per_client(db):
    client = Client()

    statuses = [client.post(f"/r/{UNKNOWN}/request/").status_code for _ in range(21)]

    assert statuses == [200] * 20 + [429]
