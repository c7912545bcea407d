"""Every per-client limit counts by deals.security.client_ip, so that it holds behind the
reverse proxy: behind a trusted proxy two clients (different X-Forwarded-For) have their own
buckets — one is refused, the other still gets in — and a client that writes X-Forwarded-For
itself (an untrusted peer) stays in its own address's bucket, whatever it claims.

Before, the room links counted REMOTE_ADDR — behind nginx one visitor locked every buyer out
of every link — and allauth believed X-Forwarded-For from anyone (or nobody)."""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from notifications.services import unsubscribe_token
from plans.signing import views as signing_views
from stakeholders.services import issue_room_link
from tests.conftest import open_room

PROXY = "127.0.0.1"
ANN, BEN = "198.51.100.1", "198.51.100.2"  # two clients behind the proxy
PEER = "203.0.113.9"  # a client that reaches the app directly


def via_proxy(client_address: str) -> dict:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": client_address}


def spoofing(claimed: str) -> dict:
    return {"REMOTE_ADDR": PEER, "HTTP_X_FORWARDED_FOR": claimed}


@pytest.fixture(autouse=True)
def _behind_proxy(settings):
    settings.TRUSTED_PROXIES = [PROXY]


@dataclass
class Door:
    """One page with a per-client limit: `knock(meta)` makes one request as the client
    that `meta` describes and returns its status; `limit` requests pass in a window."""

    knock: object
    limit: int


def _room_link(db_fixtures, settings):
    _, token = issue_room_link(db_fixtures["dana"])
    client = Client()
    return Door(lambda meta: client.get(f"/r/{token}/", **meta).status_code, 20)


def _link_request(db_fixtures, settings):
    client = Client()
    return Door(
        lambda meta: client.post("/r/unknown-token-abcdefghijklmnop/request/", **meta).status_code,
        20,
    )


def _act(db_fixtures, settings):
    _, token = issue_room_link(db_fixtures["dana"])
    step = db_fixtures["dana"].deal.plan.milestones.filter(visibility="shared").first()
    url = reverse(
        "room-act", kwargs={"token": token, "milestone_id": step.public_id, "action": "done"}
    )
    client = Client()
    return Door(lambda meta: client.get(url, **meta).status_code, 20)


def _unsubscribe(db_fixtures, settings):
    token = unsubscribe_token(
        organization_id=db_fixtures["acme"].pk, email="dana@initech.test", kind="digest"
    )
    url = reverse("notification-unsubscribe", kwargs={"token": token})
    client = Client()
    return Door(lambda meta: client.get(url, **meta).status_code, 20)


def _preferences(db_fixtures, settings):
    token = unsubscribe_token(
        organization_id=db_fixtures["acme"].pk, email="dana@initech.test", kind="digest"
    )
    url = reverse("notification-preferences-token", kwargs={"token": token})
    client = Client()
    return Door(lambda meta: client.get(url, **meta).status_code, 20)


def _signing_code(db_fixtures, settings):
    # Each signer may get one code a minute (plans.signing.signatures): a new signer per request,
    # so that only the per-client limit (set to 2 here) can refuse.
    from tests.factories import add_buyer

    deal = db_fixtures["dana"].deal
    signers = iter(
        add_buyer(
            deal, name=f"Signer {n}", email=f"signer{n}@initech.test", is_required_signer=True
        )
        for n in range(10)
    )
    url = reverse("room-sign-code", kwargs={"deal_id": deal.public_id})

    def knock(meta):
        client = Client()
        open_room(client, next(signers))
        return client.post(url, **meta).status_code

    return Door(knock, signing_views.SIGNING_CODES_PER_CLIENT_PER_HOUR)


def _sign_in(db_fixtures, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    client = Client()
    url = reverse("account_login")
    return Door(
        lambda meta: (
            client.post(url, {"login": "nobody@x.test", "password": "wrong"}, **meta).status_code
        ),
        2,
    )


def _sign_up(db_fixtures, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/m/ip"}
    client = Client()
    url = reverse("account_signup")
    return Door(lambda meta: client.post(url, {"email": "bad"}, **meta).status_code, 2)


def _password_reset(db_fixtures, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "2/m/ip"}
    client = Client()
    url = reverse("account_reset_password")
    return Door(lambda meta: client.post(url, {"email": "nobody@x.test"}, **meta).status_code, 2)


DOORS = {
    "room link": _room_link,
    "ask for a new link": _link_request,
    "act from email": _act,
    "unsubscribe": _unsubscribe,
    "preferences by token": _preferences,
    "signing code": _signing_code,
    "sign in": _sign_in,
    "sign up": _sign_up,
    "password reset": _password_reset,
}


@pytest.fixture(params=list(DOORS))
def door(request, acme, dana, settings, monkeypatch):
    monkeypatch.setattr(signing_views, "SIGNING_CODES_PER_CLIENT_PER_HOUR", 2)
    return DOORS[request.param]({"acme": acme, "dana": dana}, settings)


def test_behind_the_proxy_each_client_has_its_own_bucket(door):
    passed = [door.knock(via_proxy(ANN)) for _ in range(door.limit)]
    assert 429 not in passed

    assert door.knock(via_proxy(ANN)) == 429
    assert door.knock(via_proxy(BEN)) != 429


def test_a_spoofed_forwarded_header_from_an_untrusted_peer_changes_nothing(door):
    passed = [door.knock(spoofing(f"192.0.2.{n}")) for n in range(door.limit)]
    assert 429 not in passed

    # Another claimed client, same peer: the same bucket, refused.
    assert door.knock(spoofing(BEN)) == 429
    assert door.knock({"REMOTE_ADDR": PEER}) == 429
    # The real other client behind the proxy is not affected.
    assert door.knock(via_proxy(BEN)) != 429
