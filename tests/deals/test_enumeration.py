"""No account enumeration: sign-up, sign-in and password reset answer a known address
exactly as they answer an unknown one; what differs goes by email to the address itself.

Before, sign-up answered "A user is already registered with this email address"."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from deals.models import Membership, Organization, User

PASSPHRASE = "a-long-unusual-passphrase"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """These tests sign in, sign up and reset passwords from 127.0.0.1: allauth counts that
    in the cache (Redis: shared by the whole run), and other tests count on full buckets."""
    cache.clear()
    yield
    cache.clear()


def signup(client, email, workspace="NewCo Inc"):
    return client.post(
        reverse("account_signup"),
        {
            "full_name": "Nina New",
            "email": email,
            "workspace_name": workspace,
            "time_zone": "UTC",
            "password1": PASSPHRASE,
            "password2": PASSPHRASE,
        },
    )


def page(response, *emails) -> str:
    """The page as any visitor would compare it: without the per-request CSRF token and
    CSP nonce, and with the address typed in replaced."""
    html = response.content.decode()
    html = re.sub(r'(name="csrfmiddlewaretoken" value=)"[^"]+"', r"\1", html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    html = re.sub(r'nonce="[^"]+"', "", html)
    for email in emails:
        html = html.replace(email, "EMAIL")
    return html


def test_sign_up_answers_the_same_for_a_new_and_a_taken_address(alice, password):
    organizations = Organization.objects.count()

    new_client = Client()
    new = signup(new_client, "nina@newco.test")
    taken_client = Client()
    taken = signup(taken_client, "alice@acme.test", workspace="Hijack Inc")

    assert (new.status_code, new["Location"]) == (taken.status_code, taken["Location"])
    assert new["Location"] == reverse("account_email_verification_sent")
    assert page(new_client.get(new["Location"]), "nina@newco.test") == page(
        taken_client.get(taken["Location"]), "alice@acme.test"
    )
    # Nothing was created or changed for the taken address.
    assert not Organization.objects.filter(name="Hijack Inc").exists()
    assert Organization.objects.count() == organizations + 1  # NewCo only
    assert Membership.objects.filter(user=alice).count() == 1
    alice.refresh_from_db()
    assert alice.check_password(password)
    assert SESSION_KEY not in taken_client.session
    # The difference goes to each address: a confirmation, or "you already have one".
    [confirmation] = [m for m in mail.outbox if m.to == ["nina@newco.test"]]
    assert "/accounts/confirm-email/" in confirmation.body
    [notice] = [m for m in mail.outbox if m.to == ["alice@acme.test"]]
    assert notice.subject.endswith("Someone tried to sign up with your address")
    assert "already has an account, so nothing was created" in notice.body
    assert "://testserver/accounts/login/" in notice.body
    assert "://testserver/accounts/password/reset/" in notice.body
    assert "/accounts/confirm-email/" not in notice.body


def test_a_new_account_is_usable_once_its_address_is_verified(db):
    signup(Client(), "nina@newco.test")
    other_browser = Client()

    response = other_browser.post(
        reverse("account_login"), {"login": "nina@newco.test", "password": PASSPHRASE}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert SESSION_KEY not in other_browser.session
    [confirmation] = [m for m in mail.outbox if "/accounts/confirm-email/" in m.body]
    link = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", confirmation.body)[1]
    other_browser.post(link)
    response = other_browser.post(
        reverse("account_login"), {"login": "nina@newco.test", "password": PASSPHRASE}
    )
    assert response.status_code == 302
    assert other_browser.get("/")["Location"] == "/o/newco-inc/deals/"


def test_accounts_not_made_by_a_sign_up_sign_in_as_before(alice, password):
    """The demo's and the personas' accounts (no address record), an invited teammate's,
    and an account that signed up before verification was required."""
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    legacy = User.objects.create_user(email="old@acme.test", password=password)
    EmailAddress.objects.create(user=legacy, email=legacy.email, primary=True, verified=False)
    User.objects.filter(pk=legacy.pk).update(last_login=timezone.now())

    for user in (alice, legacy):
        client = Client()
        response = client.post(
            reverse("account_login"), {"login": user.email, "password": password}
        )
        assert response.status_code == 302
        assert response["Location"] != reverse("account_email_verification_sent")
        assert client.session[SESSION_KEY] == str(user.pk)


def test_sign_in_answers_the_same_for_an_unknown_address_and_a_wrong_password(alice):
    url = reverse("account_login")

    unknown = Client().post(url, {"login": "nobody@acme.test", "password": "wrong-password-1"})
    wrong = Client().post(url, {"login": "alice@acme.test", "password": "wrong-password-1"})

    assert unknown.status_code == wrong.status_code == 200
    assert page(unknown, "nobody@acme.test") == page(wrong, "alice@acme.test")
    assert "not correct" in unknown.content.decode()


def test_password_reset_answers_the_same_for_a_known_and_an_unknown_address(alice):
    url = reverse("account_reset_password")
    known_client, unknown_client = Client(), Client()

    known = known_client.post(url, {"email": "alice@acme.test"})
    unknown = unknown_client.post(url, {"email": "nobody@acme.test"})

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert page(known_client.get(known["Location"])) == page(
        unknown_client.get(unknown["Location"])
    )
    [reset] = [m for m in mail.outbox if m.to == ["alice@acme.test"]]
    assert "/accounts/password/reset/key/" in reset.body
    [unknown_mail] = [m for m in mail.outbox if m.to == ["nobody@acme.test"]]
    assert "/accounts/password/reset/key/" not in unknown_mail.body
