import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from deals.models import Invitation, Membership, Organization, User
from deals.services import invite_teammate


def test_signup_creates_workspace_with_admin_membership(client, db):
    response = client.post(
        reverse("account_signup"),
        {
            "full_name": "Nina New",
            "email": "nina@newco.test",
            "workspace_name": "NewCo Inc",
            "time_zone": "Asia/Tokyo",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="nina@newco.test")
    assert user.full_name == "Nina New"
    organization = Organization.objects.get(name="NewCo Inc")
    assert organization.slug == "newco-inc"
    assert organization.time_zone == "Asia/Tokyo"
    membership = Membership.objects.get(user=user)
    assert membership.organization == organization
    assert membership.role == Membership.Role.ADMIN
    # The account is usable once its address is verified (tests/deals/test_enumeration.py).
    assert response["Location"] == reverse("account_email_verification_sent")
    confirm = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body)
    client.post(confirm[1])
    assert client.get("/")["Location"] == "/o/newco-inc/deals/"


def test_signup_with_taken_slug_gets_a_unique_one(client, acme):
    client.post(
        reverse("account_signup"),
        {
            "full_name": "Other Acme",
            "email": "x@other.test",
            "workspace_name": "Acme",
            "time_zone": "UTC",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )

    assert Organization.objects.filter(name="Acme").get().slug == "acme-2"


def test_sign_in_and_out(client, alice, password):
    response = client.post(
        reverse("account_login"), {"login": "alice@acme.test", "password": password}
    )
    assert response.status_code == 302
    assert client.get(reverse("deals:deal-list", kwargs={"org_slug": "acme"})).status_code == 200

    client.post(reverse("account_logout"))

    assert client.get(reverse("deals:deal-list", kwargs={"org_slug": "acme"})).status_code == 302


def test_sign_in_failures_lock_the_account_for_a_while(client, alice, password):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": "alice@acme.test", "password": "wrong"})

    # allauth allows 5 failed attempts per account in 5 minutes; then even the right
    # password is refused with a clear message.
    response = client.post(
        reverse("account_login"), {"login": "alice@acme.test", "password": password}
    )

    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_in_is_rate_limited_per_ip_with_429(client, db):
    statuses = [
        client.post(
            reverse("account_login"), {"login": f"nobody{i}@x.test", "password": "wrong"}
        ).status_code
        for i in range(31)
    ]

    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_password_reset_sends_email_with_working_link(client, alice):
    client.post(reverse("account_reset_password"), {"email": "alice@acme.test"})

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@acme.test"]
    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link
    response = client.get(link.group(1), follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    response = client.post(
        form_url, {"password1": "brand-new-passphrase-9", "password2": "brand-new-passphrase-9"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("brand-new-passphrase-9")


def _invite(acme, acme_admin, email="newbie@acme.test", role="manager"):
    _, token = invite_teammate(acme, email=email, role=role, invited_by=acme_admin)
    return token


def test_admin_invites_teammate_by_email(
    client, acme, acme_admin, django_capture_on_commit_callbacks
):
    client.force_login(acme_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}),
            {"invite-email": "Newbie@Acme.test", "invite-role": "manager"},
        )

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "newbie@acme.test"
    assert invitation.role == "manager"
    assert len(mail.outbox) == 1
    url = re.search(r"http://testserver(/invite/\S+/)", mail.outbox[0].body).group(1)
    token = url.split("/")[2]
    assert token not in invitation.token_hash
    assert mail.outbox[0].alternatives[0][1] == "text/html"


def test_seller_cannot_invite(client, alice, acme):
    client.force_login(alice)

    response = client.post(
        reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}),
        {"invite-email": "x@acme.test", "invite-role": "admin"},
    )

    assert response.status_code == 404
    assert not Invitation.objects.exists()


def test_invite_acceptance_by_new_person_adds_membership_with_role(client, acme, acme_admin):
    token = _invite(acme, acme_admin)
    url = reverse("invitation-accept", kwargs={"token": token})
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        {
            "full_name": "New Bie",
            "password1": "another-long-pass-7",
            "password2": "another-long-pass-7",
        },
    )

    assert response.status_code == 302
    membership = Membership.objects.get(user__email="newbie@acme.test")
    assert membership.organization == acme
    assert membership.role == "manager"
    assert client.get(response["Location"]).status_code == 200


def test_invite_acceptance_by_signed_in_existing_user(client, acme, acme_admin, charlie):
    token = _invite(acme, acme_admin, email="charlie@globex.test", role="seller")
    client.force_login(charlie)

    response = client.post(reverse("invitation-accept", kwargs={"token": token}))

    assert response.status_code == 302
    assert set(
        Membership.objects.filter(user=charlie).values_list("organization__slug", flat=True)
    ) == {
        "acme",
        "globex",
    }


def test_invite_for_another_address_is_refused(client, acme, acme_admin, charlie):
    token = _invite(acme, acme_admin, email="someone@else.test")
    client.force_login(charlie)

    response = client.post(reverse("invitation-accept", kwargs={"token": token}))

    assert response.status_code == 410
    assert b"someone@else.test" in response.content
    assert not Membership.objects.filter(user=charlie, organization=acme).exists()


def test_reused_invite_shows_clear_error_and_changes_nothing(client, acme, acme_admin):
    token = _invite(acme, acme_admin)
    url = reverse("invitation-accept", kwargs={"token": token})
    data = {
        "full_name": "New Bie",
        "password1": "another-long-pass-7",
        "password2": "another-long-pass-7",
    }
    client.post(url, data)
    client.logout()

    response = client.post(url, {**data, "full_name": "Impostor"})

    assert response.status_code == 410
    assert b"already been used" in response.content
    assert Membership.objects.filter(user__email="newbie@acme.test").count() == 1
    assert User.objects.get(email="newbie@acme.test").full_name == "New Bie"


def test_expired_invite_shows_clear_error_and_changes_nothing(client, acme, acme_admin):
    token = _invite(acme, acme_admin)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    url = reverse("invitation-accept", kwargs={"token": token})

    get_response = client.get(url)
    post_response = client.post(
        url,
        {
            "full_name": "Late",
            "password1": "another-long-pass-7",
            "password2": "another-long-pass-7",
        },
    )

    assert get_response.status_code == 410
    assert post_response.status_code == 410
    assert b"expired" in post_response.content
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_unknown_invite_token_is_refused(client, db):
    response = client.get(reverse("invitation-accept", kwargs={"token": "not-a-real-token"}))

    assert response.status_code == 410


def test_reinviting_revokes_the_older_link(client, acme, acme_admin):
    first = _invite(acme, acme_admin)
    _invite(acme, acme_admin)

    response = client.get(reverse("invitation-accept", kwargs={"token": first}))

    assert response.status_code == 410


def test_admin_changes_role_but_not_of_the_last_admin(client, acme, acme_admin, alice):
    client.force_login(acme_admin)
    alice_membership = Membership.objects.get(user=alice)
    admin_membership = Membership.objects.get(user=acme_admin)

    client.post(
        reverse(
            "deals:member-role",
            kwargs={"org_slug": "acme", "member_id": alice_membership.public_id},
        ),
        {"role": "manager"},
    )
    client.post(
        reverse(
            "deals:member-role",
            kwargs={"org_slug": "acme", "member_id": admin_membership.public_id},
        ),
        {"role": "seller"},
    )

    alice_membership.refresh_from_db()
    admin_membership.refresh_from_db()
    assert alice_membership.role == "manager"
    assert admin_membership.role == "admin"


def test_member_of_other_org_cannot_be_changed(client, acme_admin, charlie):
    client.force_login(acme_admin)
    charlie_membership = Membership.objects.get(user=charlie)

    response = client.post(
        reverse(
            "deals:member-remove",
            kwargs={"org_slug": "acme", "member_id": charlie_membership.public_id},
        )
    )

    assert response.status_code == 404
    assert Membership.objects.filter(pk=charlie_membership.pk).exists()


@pytest.mark.parametrize("org_slug", ["acme"])
def test_settings_page_query_count_is_constant(
    client, acme, acme_admin, org_slug, django_assert_max_num_queries
):
    from tests.factories import MembershipFactory

    client.force_login(acme_admin)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("deals:workspace-settings", kwargs={"org_slug": org_slug}))
    MembershipFactory.create_batch(30, organization=acme)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("deals:workspace-settings", kwargs={"org_slug": org_slug}))


def test_an_unverified_address_never_becomes_the_sign_in_address(client, alice, password):
    """A seller's account address is who signs for the seller's side (the signature log's
    "signed from"), and where password resets go: a signed-in session may not switch it to an
    address nobody proved to hold, and managing addresses asks for the password again."""
    client.force_login(alice)
    email_url = reverse("account_email")

    client.post(email_url, {"action_add": "", "email": "mallory@evil.test"})
    client.post(email_url, {"action_primary": "", "email": "mallory@evil.test"})

    alice.refresh_from_db()
    assert alice.email == "alice@acme.test"
    mail.outbox.clear()
    client.logout()
    client.post(reverse("account_reset_password"), {"email": "mallory@evil.test"})
    to_mallory = [m.body for m in mail.outbox if "mallory@evil.test" in m.to]
    assert not any("/accounts/password/reset/key/" in body for body in to_mallory)
