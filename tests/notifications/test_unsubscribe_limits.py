"""/u/ pages are rate-limited per client like room links; a genuine unsubscribe POST is
never refused (mail providers send one-click unsubscribes of many users from a few
addresses, and it only turns email off for its own address)."""

from django.test import Client
from django.urls import reverse

from deals.models import SecurityEvent
from notifications.models import NotificationPreference
from notifications.services import unsubscribe_token
from notifications.views import UNSUBSCRIBE_ATTEMPTS_PER_MINUTE


def _url(acme, name="notification-unsubscribe", email="dana@initech.test", kind="digest"):
    token = unsubscribe_token(organization_id=acme.pk, email=email, kind=kind)
    return reverse(name, kwargs={"token": token})


def test_unsubscribe_pages_are_rate_limited_per_client(client, acme):
    url = _url(acme)

    statuses = [client.get(url).status_code for _ in range(UNSUBSCRIBE_ATTEMPTS_PER_MINUTE + 1)]

    assert statuses == [200] * UNSUBSCRIBE_ATTEMPTS_PER_MINUTE + [429]
    assert client.get(_url(acme, "notification-preferences-token")).status_code == 429
    assert Client(REMOTE_ADDR="192.0.2.50").get(url).status_code == 200


def test_tampered_tokens_count_too(client, acme):
    url = _url(acme)[:-2] + "x/"

    statuses = [client.post(url).status_code for _ in range(UNSUBSCRIBE_ATTEMPTS_PER_MINUTE + 1)]

    assert statuses == [404] * UNSUBSCRIBE_ATTEMPTS_PER_MINUTE + [429]


def test_a_genuine_one_click_unsubscribe_is_honoured_past_the_limit(acme):
    provider = Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.25")
    for _ in range(UNSUBSCRIBE_ATTEMPTS_PER_MINUTE + 1):
        provider.get(_url(acme))
    assert provider.get(_url(acme)).status_code == 429

    response = provider.post(
        _url(acme, email="someone.else@initech.test"), {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    assert NotificationPreference.objects.filter(
        email="someone.else@initech.test", kind="digest", enabled=False
    ).exists()


def test_the_first_refusal_is_logged_in_the_tokens_workspace(client, acme):
    url = _url(acme)

    for _ in range(UNSUBSCRIBE_ATTEMPTS_PER_MINUTE + 3):
        client.get(url)

    lockout = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LOCKOUT)
    assert lockout.organization_id == acme.pk
    assert lockout.target == "dana@initech.test"
    assert lockout.details == {"limit": "unsubscribe"}
