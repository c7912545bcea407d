"""allauth, adapted to Tandem."""

from __future__ import annotations

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.stages import EmailVerificationStage
from allauth.core import context
from allauth.utils import build_absolute_uri
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from django.utils.crypto import get_random_string

from .security import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        """The address allauth's rate limits (sign-in, sign-up, password reset) count by:
        ours, which believes X-Forwarded-For only from TRUSTED_PROXIES. allauth's own
        reading trusts a number of hops (ALLAUTH_TRUSTED_PROXY_COUNT), not addresses."""
        return client_ip(request) or super().get_client_ip(request)

    def get_login_stages(self) -> list[str]:
        return [
            "deals.adapters.SignUpVerificationStage"
            if stage == "allauth.account.stages.EmailVerificationStage"
            else stage
            for stage in super().get_login_stages()
        ]

    def send_account_already_exists_mail(self, email: str) -> None:
        """A sign-up with an address that has an account answers like any sign-up ("check
        your email"); the address's owner gets this email instead of a confirmation: sign
        in, or reset the password. (allauth's, with the sign-in link added.)"""
        request = context.request
        # A new account's sign-up hashes its password: so does this answer, or the time
        # taken would tell a taken address from a new one.
        make_password(get_random_string(32))
        self.send_mail(
            "account/email/account_already_exists",
            email,
            {
                "email": email,
                "login_url": build_absolute_uri(request, reverse("account_login")),
                "password_reset_url": build_absolute_uri(
                    request, reverse("account_reset_password")
                ),
            },
        )


def awaits_verification(user) -> bool:
    """An account made by a sign-up whose address was never verified (and that so never
    signed in). Accounts made otherwise — by accepting an invitation (the link proved the
    address), by `seed_demo`, or by a sign-up before verification was required — have no
    unverified address alone, or have signed in already."""
    addresses = EmailAddress.objects.filter(user=user)
    return (
        user.last_login is None
        and addresses.exists()
        and not addresses.filter(verified=True).exists()
    )


class SignUpVerificationStage(EmailVerificationStage):
    """ACCOUNT_EMAIL_VERIFICATION is "mandatory" so that a sign-up answers the same for a
    new address and for one that has an account (allauth prevents enumeration at sign-up
    only then): a new account is usable once its address is verified. Signing in asks for
    verification only from such an account; other accounts sign in as they always did."""

    def handle(self):
        login = self.login
        if not login.signup and login.user is not None and not awaits_verification(login.user):
            login.email_verification = account_settings.EmailVerificationMethod.OPTIONAL
        return super().handle()
