"""What is written to the security log, by whom and from where: sign-ins and passwords
(allauth), invitations, roles and removals, API keys. Every request comes through a trusted
proxy, so the address logged is the one `client_ip` reads from X-Forwarded-For."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from deals import security, services
from deals.models import ApiKey, Invitation, Membership, SecurityEvent
from tests.factories import MembershipFactory

Kind = SecurityEvent.Kind
CLIENT = "198.51.100.7"
FROM_CLIENT = {"HTTP_X_FORWARDED_FOR": CLIENT, "HTTP_USER_AGENT": "TestBrowser/1.0"}


@pytest.fixture(autouse=True)
def _behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


def _entries(kind, **filters):
    return list(SecurityEvent.objects.filter(kind=kind, **filters).order_by("id"))


def _one(kind, **filters):
    entries = _entries(kind, **filters)
    assert len(entries) == 1, entries
    return entries[0]


def _assert_from_client(entry):
    assert (entry.ip_address, entry.user_agent) == (CLIENT, "TestBrowser/1.0")


def _sign_in(client, email, password):
    return client.post(
        reverse("account_login"), {"login": email, "password": password}, **FROM_CLIENT
    )


# Sign-ins and passwords ---------------------------------------------------------------------


def test_sign_in_is_logged_in_each_workspace_of_the_user(client, acme, globex, alice, password):
    MembershipFactory(organization=globex, user=alice)

    response = _sign_in(client, "alice@acme.test", password)

    assert response.status_code == 302
    entries = _entries(Kind.SIGN_IN)
    assert {e.organization_id for e in entries} == {acme.pk, globex.pk}
    for entry in entries:
        assert (entry.user, entry.actor_email, entry.target) == (
            alice,
            "alice@acme.test",
            "alice@acme.test",
        )
        _assert_from_client(entry)


def test_confirmed_sign_up_signs_in_and_is_logged_in_the_new_workspace(client, db):
    client.post(
        reverse("account_signup"),
        {
            "full_name": "Nina New",
            "email": "nina@newco.test",
            "workspace_name": "NewCo",
            "time_zone": "UTC",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
        **FROM_CLIENT,
    )
    # A sign-up is usable once its address is verified (tests/deals/test_enumeration.py).
    assert not SecurityEvent.objects.filter(kind=Kind.SIGN_IN).exists()
    confirm = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body)
    client.post(confirm[1], **FROM_CLIENT)

    entry = _one(Kind.SIGN_IN)
    assert (entry.organization.name, entry.actor, entry.actor_email) == (
        "NewCo",
        "Nina New",
        "nina@newco.test",
    )
    _assert_from_client(entry)


def test_failed_sign_in_is_logged_without_the_password(client, acme, alice):
    response = _sign_in(client, "Alice@Acme.test", "not-my-password-42")

    assert response.status_code == 200
    entry = _one(Kind.SIGN_IN_FAILED)
    assert (entry.organization, entry.user, entry.target) == (acme, alice, "alice@acme.test")
    _assert_from_client(entry)
    assert "not-my-password-42" not in str(entry.details) + entry.summary
    assert not _entries(Kind.SIGN_IN)


def test_failed_sign_in_with_another_address_of_the_account_is_attributed_to_it(
    client, acme, alice
):
    EmailAddress.objects.create(user=alice, email="alice@home.test", verified=True)

    _sign_in(client, "alice@home.test", "not-my-password-42")

    entry = _one(Kind.SIGN_IN_FAILED)
    assert (entry.organization, entry.user, entry.target) == (acme, alice, "alice@acme.test")


def test_sign_in_to_a_deactivated_account_is_logged_as_such(client, acme, alice, password):
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    _sign_in(client, "alice@acme.test", password)

    assert _one(Kind.SIGN_IN_FAILED).summary == "The account is deactivated."
    assert not _entries(Kind.SIGN_IN)


def test_failed_sign_in_of_an_unknown_address_is_in_no_workspace(client, acme, alice):
    _sign_in(client, "nobody@acme.test", "whatever-password")

    assert not SecurityEvent.objects.exists()


def test_sign_in_lockout_is_logged_once_per_window(client, acme, alice, password):
    for _ in range(5):
        _sign_in(client, "alice@acme.test", "wrong")
    assert not _entries(Kind.LOCKOUT)

    for _ in range(3):  # refused, even with the right password
        response = _sign_in(client, "alice@acme.test", password)
        assert b"Too many failed login attempts" in response.content

    entry = _one(Kind.LOCKOUT)
    assert (entry.user, entry.target, entry.details) == (
        alice,
        "alice@acme.test",
        {"limit": "sign-in", "rule": "login_failed"},
    )
    _assert_from_client(entry)
    assert len(_entries(Kind.SIGN_IN_FAILED)) == 5


def test_sign_in_refused_by_the_per_address_limit_is_logged_once_per_window(
    client, acme, alice, password, settings
):
    # allauth's "login" limit counts every sign-in attempt of an address (here 3 a minute),
    # and answers 429 before reading the form: the account typed is the one locked out.
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    for _ in range(3):
        _sign_in(client, "nobody@acme.test", "wrong")
    assert not _entries(Kind.LOCKOUT)

    responses = [_sign_in(client, "alice@acme.test", password) for _ in range(3)]

    assert [r.status_code for r in responses] == [429, 429, 429]
    assert b"Too Many Requests" in responses[0].content  # allauth's own answer, unchanged
    entry = _one(Kind.LOCKOUT)
    assert (entry.organization, entry.user, entry.target) == (acme, alice, "alice@acme.test")
    assert entry.details == {"limit": "sign-in", "rule": "login"}
    _assert_from_client(entry)
    assert not _entries(Kind.SIGN_IN)


def test_other_refusals_of_allauth_limits_are_not_lockouts(client, acme, alice, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "1/m/ip"}
    for _ in range(2):
        response = client.post(
            reverse("account_reset_password"), {"email": "alice@acme.test"}, **FROM_CLIENT
        )

    assert response.status_code == 429
    assert not _entries(Kind.LOCKOUT)


def test_password_reset_requested_and_done_are_logged(client, acme, alice):
    client.post(reverse("account_reset_password"), {"email": "alice@acme.test"}, **FROM_CLIENT)

    requested = _one(Kind.PASSWORD_RESET_REQUESTED)
    assert (requested.organization, requested.user, requested.target) == (
        acme,
        alice,
        "alice@acme.test",
    )
    _assert_from_client(requested)

    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    response = client.get(link.group(1), follow=True, **FROM_CLIENT)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    new = "brand-new-passphrase-9"
    response = client.post(form_url, {"password1": new, "password2": new}, **FROM_CLIENT)

    assert response.status_code == 302
    done = _one(Kind.PASSWORD_RESET)
    assert (done.user, done.target) == (alice, "alice@acme.test")
    _assert_from_client(done)


def test_password_reset_for_an_unknown_address_is_in_no_workspace(client, acme, alice):
    client.post(reverse("account_reset_password"), {"email": "nobody@acme.test"})

    assert not SecurityEvent.objects.exists()


def test_password_change_is_logged(client, acme, alice, password):
    client.force_login(alice)
    new = "another-long-passphrase-7"

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": new, "password2": new},
        **FROM_CLIENT,
    )

    assert response.status_code == 302
    entry = _one(Kind.PASSWORD_CHANGED)
    assert (entry.organization, entry.user, entry.target) == (acme, alice, "alice@acme.test")
    _assert_from_client(entry)


def _reauthenticate(client, password):
    # Managing addresses asks for the password again (ACCOUNT_REAUTHENTICATION_REQUIRED).
    client.post(reverse("account_reauthenticate"), {"password": password}, **FROM_CLIENT)


def _confirm_last_email(client):
    confirm = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    client.post(confirm[1], **FROM_CLIENT)


def test_account_email_added_made_primary_and_removed_are_logged(client, acme, alice, password):
    # The sign-in address is where password resets go: changing it is a security event. It
    # changes only once the new address is confirmed (ACCOUNT_CHANGE_EMAIL).
    client.force_login(alice)
    _reauthenticate(client, password)

    client.post(
        reverse("account_email"), {"action_add": "", "email": "alice@elsewhere.test"}, **FROM_CLIENT
    )
    added = _one(Kind.ACCOUNT_EMAIL_ADDED)
    assert not SecurityEvent.objects.filter(kind=Kind.ACCOUNT_EMAIL_CHANGED).exists()
    _confirm_last_email(client)

    assert (added.organization, added.user, added.target) == (acme, alice, "alice@elsewhere.test")
    _assert_from_client(added)
    changed = _one(Kind.ACCOUNT_EMAIL_CHANGED)
    assert (changed.user, changed.target) == (alice, "alice@elsewhere.test")
    assert changed.details == {"old": "alice@acme.test", "new": "alice@elsewhere.test"}
    assert "alice@acme.test" in changed.summary
    alice.refresh_from_db()
    assert alice.email == "alice@elsewhere.test"


def test_sign_in_email_change_of_a_signed_up_account_names_the_old_address(
    client, acme, alice, password
):
    # An account made by signing up has a verified primary EmailAddress: allauth names it.
    EmailAddress.objects.create(user=alice, email=alice.email, primary=True, verified=True)
    client.force_login(alice)
    _reauthenticate(client, password)

    client.post(
        reverse("account_email"), {"action_add": "", "email": "alice@new.test"}, **FROM_CLIENT
    )
    _confirm_last_email(client)

    entry = _one(Kind.ACCOUNT_EMAIL_CHANGED)
    assert entry.details == {"old": "alice@acme.test", "new": "alice@new.test"}
    assert entry.organization == acme


# Invitations, roles, removals -----------------------------------------------------------------


def _settings_url():
    return reverse("deals:workspace-settings", kwargs={"org_slug": "acme"})


def test_invitation_sent_revoked_and_accepted_are_logged(client, acme, acme_admin):
    client.force_login(acme_admin)
    client.post(
        _settings_url(),
        {"invite-email": "newbie@acme.test", "invite-role": "manager"},
        **FROM_CLIENT,
    )
    sent = _one(Kind.INVITATION_SENT)
    assert (sent.organization, sent.user, sent.target, sent.details["role"]) == (
        acme,
        acme_admin,
        "newbie@acme.test",
        "manager",
    )
    _assert_from_client(sent)

    invitation = Invitation.objects.get()
    client.post(
        reverse(
            "deals:invitation-revoke",
            kwargs={"org_slug": "acme", "invitation_id": invitation.public_id},
        ),
        **FROM_CLIENT,
    )
    revoked = _one(Kind.INVITATION_REVOKED)
    assert (revoked.user, revoked.target) == (acme_admin, "newbie@acme.test")
    _assert_from_client(revoked)

    _, token = services.invite_teammate(
        acme, email="newbie@acme.test", role="seller", invited_by=acme_admin
    )
    client.logout()
    client.post(
        reverse("invitation-accept", kwargs={"token": token}),
        {
            "full_name": "Nick Newbie",
            "password1": "a-fine-passphrase",
            "password2": "a-fine-passphrase",
        },
        **FROM_CLIENT,
    )
    accepted = _one(Kind.INVITATION_ACCEPTED)
    assert (accepted.actor, accepted.actor_email, accepted.target) == (
        "Nick Newbie",
        "newbie@acme.test",
        "newbie@acme.test",
    )
    assert accepted.details["role"] == "seller"
    _assert_from_client(accepted)
    # The new account is signed in by allauth's adapter, which logs it like any sign-in.
    _assert_from_client(_one(Kind.SIGN_IN, actor_email="newbie@acme.test"))


def test_revoking_an_invitation_twice_logs_it_once(acme, acme_admin):
    invitation, _ = services.invite_teammate(
        acme, email="x@acme.test", role="seller", invited_by=acme_admin
    )

    assert services.revoke_invitation(invitation, actor=acme_admin)
    assert not services.revoke_invitation(invitation, actor=acme_admin)

    assert len(_entries(Kind.INVITATION_REVOKED)) == 1


def _member_url(name, user):
    membership = Membership.objects.get(user=user)
    return reverse(f"deals:{name}", kwargs={"org_slug": "acme", "member_id": membership.public_id})


def test_role_change_is_logged_old_to_new(client, acme, acme_admin, alice):
    client.force_login(acme_admin)

    client.post(_member_url("member-role", alice), {"role": "manager"}, **FROM_CLIENT)

    entry = _one(Kind.ROLE_CHANGED)
    assert (entry.organization, entry.user, entry.target, entry.summary) == (
        acme,
        acme_admin,
        "Alice Seller <alice@acme.test>",
        "Seller → Manager",
    )
    assert (entry.details["old_role"], entry.details["new_role"]) == ("seller", "manager")
    _assert_from_client(entry)


def test_refused_demotion_of_the_last_admin_logs_nothing(client, acme, acme_admin):
    client.force_login(acme_admin)

    client.post(_member_url("member-role", acme_admin), {"role": "seller"})
    client.post(_member_url("member-remove", acme_admin))

    assert Membership.objects.get(user=acme_admin).role == "admin"
    assert not SecurityEvent.objects.exists()


def test_member_removal_is_logged(client, acme, acme_admin, bob):
    client.force_login(acme_admin)

    client.post(_member_url("member-remove", bob), **FROM_CLIENT)

    assert not Membership.objects.filter(user=bob).exists()
    entry = _one(Kind.MEMBER_REMOVED)
    assert (entry.user, entry.target, entry.details["role"]) == (
        acme_admin,
        "Bob Manager <bob@acme.test>",
        "manager",
    )
    _assert_from_client(entry)


def test_role_change_and_its_entry_are_one_transaction(acme, acme_admin, alice, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("log unavailable")

    monkeypatch.setattr(security, "record", broken)

    with pytest.raises(RuntimeError):
        services.change_member_role(
            Membership.objects.get(user=alice), role="admin", actor=acme_admin
        )

    assert Membership.objects.get(user=alice).role == "seller"


# API keys -----------------------------------------------------------------------------------


def test_api_key_creation_and_revocation_are_logged(client, acme, acme_admin):
    client.force_login(acme_admin)

    client.post(
        reverse("deals:api-key-create", kwargs={"org_slug": "acme"}),
        {"key-name": "CRM sync"},
        **FROM_CLIENT,
    )
    api_key = ApiKey.objects.get()
    created = _one(Kind.API_KEY_CREATED)
    assert (created.organization, created.user, created.target) == (
        acme,
        acme_admin,
        f"CRM sync ({api_key.prefix}…)",
    )
    _assert_from_client(created)

    revoke = reverse(
        "deals:api-key-revoke", kwargs={"org_slug": "acme", "key_id": api_key.public_id}
    )
    client.post(revoke, **FROM_CLIENT)
    client.post(revoke, **FROM_CLIENT)

    revoked = _one(Kind.API_KEY_REVOKED)
    assert (revoked.user, revoked.target) == (acme_admin, created.target)
    _assert_from_client(revoked)


def test_api_key_created_on_the_command_line_is_logged(acme, capsys):
    call_command("create_api_key", org="acme", name="Backup script")

    entry = _one(Kind.API_KEY_CREATED)
    assert (entry.user, entry.actor, entry.ip_address) == (None, "Command line (manage.py)", None)


@pytest.fixture
def api_key(acme, acme_admin):
    api_key, key = services.create_api_key(acme, name="CRM sync", created_by=acme_admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api_key, client


def _call(client, ip):
    response = client.get("/api/v1/deals/", HTTP_X_FORWARDED_FOR=ip, HTTP_USER_AGENT="crm/2.0")
    assert response.status_code == 200
    return response


def test_api_key_use_from_a_new_address_is_logged_once_per_address(api_key):
    api_key, client = api_key

    _call(client, "203.0.113.1")
    _call(client, "203.0.113.1")
    _call(client, "203.0.113.2")
    _call(client, "203.0.113.1")

    entries = _entries(Kind.API_KEY_NEW_IP)
    assert [e.ip_address for e in entries] == ["203.0.113.1", "203.0.113.2"]
    assert (entries[0].actor, entries[0].target, entries[0].user_agent) == (
        "API key “CRM sync”",
        f"CRM sync ({api_key.prefix}…)",
        "crm/2.0",
    )
    assert "first use" in entries[0].summary and "first use" not in entries[1].summary
    api_key.refresh_from_db()
    assert api_key.known_addresses == ["203.0.113.1", "203.0.113.2"]


def test_api_key_known_address_costs_no_write(api_key):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api_key, client = api_key
    _call(client, "203.0.113.1")
    ApiKey.objects.update(last_used_at=None)
    _call(client, "203.0.113.1")  # the once-a-minute "last used" write, out of the way

    with CaptureQueriesContext(connection) as captured:
        _call(client, "203.0.113.1")

    writes = [q["sql"] for q in captured if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []


def test_api_key_forgets_its_oldest_address_beyond_the_bound(api_key, monkeypatch):
    monkeypatch.setattr(ApiKey, "KNOWN_ADDRESSES", 2)
    api_key, client = api_key

    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1"]:
        _call(client, ip)

    api_key.refresh_from_db()
    assert api_key.known_addresses == ["203.0.113.3", "203.0.113.1"]
    assert len(_entries(Kind.API_KEY_NEW_IP)) == 4


def test_api_key_ipv6_client_is_known_by_its_64_block(api_key):
    _, client = api_key

    _call(client, "2001:db8:1:2::10")
    _call(client, "2001:db8:1:2::99")
    _call(client, "2001:db8:1:3::10")

    assert [e.ip_address for e in _entries(Kind.API_KEY_NEW_IP)] == [
        "2001:db8:1:2::10",
        "2001:db8:1:3::10",
    ]
