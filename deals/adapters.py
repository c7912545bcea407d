"""allauth, adapted to Tandem: client addresses, and the security log of sign-ins.

What allauth does to an account is written to the security log of every workspace the
account belongs to (`security.record_for_user`): sign-ins, failed sign-ins, lockouts by the
sign-in limits (ACCOUNT_RATE_LIMITS["login_failed"] and ["login"]), password reset requests,
password resets and changes, and the account's email addresses added, made primary (the
sign-in address, where password resets go) or removed. An address that belongs to no
account is attributed to no workspace: it is only counted by the rate limits.
"""

from __future__ import annotations

import hashlib
import logging
import threading

from allauth.account import signals as allauth_signals
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.utils import filter_users_by_email
from allauth.core import context
from allauth.core.internal import ratelimit as allauth_ratelimit
from allauth.utils import build_absolute_uri
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils.crypto import get_random_string

from . import revisions
from .models import User
from .security import Kind, client_ip, record_for_user

logger = logging.getLogger(__name__)

# A lockout is logged once per account in this many seconds, the longest window of
# ACCOUNT_RATE_LIMITS["login_failed"] (5/5m/key), not once per refused attempt.
LOCKOUT_LOGGED_FOR = 5 * 60
LOCKOUT_SUMMARIES = {
    "login_failed": "Too many failed sign-ins: signing in to this account is refused for a while.",
    "login": "Too many sign-in attempts from this address: they are refused for a while.",
}


def _account(email: str | None) -> User | None:
    """The account an address typed at sign-in belongs to, as allauth finds it (its main
    address or another of its addresses), or None."""
    if not email or not email.strip():
        return None
    users = filter_users_by_email(email.strip(), prefer_verified=True)
    return users[0] if users else None


def _log_lockout(request, email: str, *, rule: str) -> None:
    """A sign-in refused by one of allauth's limits (`rule`): logged for the account typed,
    the first refusal of each window only."""
    user = _account(email)
    if user is None:
        logger.warning("sign-in locked out for an address of no account")
        return
    digest = hashlib.sha256(user.email.encode()).hexdigest()
    if not cache.add(f"seclog:sign-in-lockout:{digest}", 1, timeout=LOCKOUT_LOGGED_FOR):
        return  # already logged in this window (or the cache is down)
    record_for_user(
        user,
        Kind.LOCKOUT,
        request=request,
        target=user.email,
        summary=LOCKOUT_SUMMARIES[rule],
        limit="sign-in",
        rule=rule,
    )


def handler429(request):
    """allauth's answer to a request one of its rate limits refuses: allauth looks it up as
    `<ROOT_URLCONF>.handler429` (config/urls.py names this one). A sign-in refused by the
    per-address limit (ACCOUNT_RATE_LIMITS["login"]) is answered before its form is read,
    so no adapter method sees it: it is logged here, as a lockout of the account typed. The
    answer stays allauth's own."""
    match = request.resolver_match
    if request.method == "POST" and match is not None and match.url_name == "account_login":
        _log_lockout(request, request.POST.get("login", ""), rule="login")
    return allauth_ratelimit.handler429(request)


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        """The address allauth's rate limits (sign-in, sign-up, password reset) count by:
        ours, which believes X-Forwarded-For only from TRUSTED_PROXIES. allauth's own
        reading trusts a number of hops (ALLAUTH_TRUSTED_PROXY_COUNT), not addresses."""
        return client_ip(request) or super().get_client_ip(request)

    def get_login_stages(self) -> list[str]:
        return [
            "deals.stages.SignUpVerificationStage"
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

    def login(self, request, user) -> None:
        """Every sign-in through allauth (password, after sign-up, after a password reset,
        after accepting an invitation) comes here: log it."""
        super().login(request, user)
        record_for_user(user, Kind.SIGN_IN, request=request, target=user.email)

    def authentication_failed(self, request, **credentials) -> None:
        """A wrong password (allauth calls this for every failed sign-in and
        reauthentication). Never log the password: only the address typed."""
        super().authentication_failed(request, **credentials)
        email = credentials.get("email", "")
        user = _account(email)
        if user is None:
            logger.info("sign-in failed for an address of no account")
            return
        record_for_user(
            user,
            Kind.SIGN_IN_FAILED,
            request=request,
            target=user.email,
            summary="Wrong password.",
        )

    def respond_user_inactive(self, request, user):
        """The right password for a deactivated account: refused, and logged."""
        record_for_user(
            user,
            Kind.SIGN_IN_FAILED,
            request=request,
            target=user.email,
            summary="The account is deactivated.",
        )
        return super().respond_user_inactive(request, user)

    def pre_authenticate(self, request, **credentials) -> None:
        """allauth refuses a sign-in here when the failed sign-in limit is reached (per
        address and per account): log the first refusal of each window."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            _log_lockout(request, credentials.get("email", ""), rule="login_failed")
            raise

    def send_password_reset_mail(self, user, email: str, context: dict) -> None:
        """A password reset link is emailed to an account (never to an unknown address)."""
        super().send_password_reset_mail(user, email, context)
        record_for_user(user, Kind.PASSWORD_RESET_REQUESTED, target=email)


# allauth announces completed password resets and changes by signals (no adapter method).
# Connected when the app is ready (deals/apps.py).


@receiver(allauth_signals.password_reset, dispatch_uid="deals.security_log.password_reset")
def _log_password_reset(sender, request, user, **kwargs) -> None:
    record_for_user(user, Kind.PASSWORD_RESET, request=request, target=user.email)


@receiver(allauth_signals.password_changed, dispatch_uid="deals.security_log.password_changed")
def _log_password_changed(sender, request, user, **kwargs) -> None:
    record_for_user(user, Kind.PASSWORD_CHANGED, request=request, target=user.email)


@receiver(allauth_signals.password_set, dispatch_uid="deals.security_log.password_set")
def _log_password_set(sender, request, user, **kwargs) -> None:
    record_for_user(
        user,
        Kind.PASSWORD_CHANGED,
        request=request,
        target=user.email,
        summary="Password set (the account had none).",
    )


# The account's email addresses (allauth's /accounts/email/). The primary one is the sign-in
# address and where password reset links go: adding one, changing it or removing one is
# how an account is taken over, so each is logged.


@receiver(allauth_signals.email_added, dispatch_uid="deals.security_log.email_added")
def _log_email_added(sender, request, user, email_address, **kwargs) -> None:
    record_for_user(
        user,
        Kind.ACCOUNT_EMAIL_ADDED,
        request=request,
        target=email_address.email,
        summary="Address added to the account"
        + ("." if email_address.verified else " (unverified)."),
    )


_replaced_email = threading.local()


@receiver(pre_save, sender=User, dispatch_uid="deals.security_log.email_before_save")
def _remember_email_before_save(sender, instance, update_fields=None, **kwargs) -> None:
    """The address an account had before a save that may change it: allauth does not pass
    the old one on for an account without a primary EmailAddress row (invited teammates)."""
    if instance.pk is None or (update_fields is not None and "email" not in update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("email", flat=True).first()
    # allauth may save the account twice on the way (blank, then the new address): keep the
    # last real address, per thread, until the change is logged.
    if stored and stored != instance.email:
        _replaced_email.by_user = {**getattr(_replaced_email, "by_user", {}), instance.pk: stored}


@receiver(allauth_signals.email_changed, dispatch_uid="deals.security_log.email_changed")
def _log_email_changed(
    sender, request, user, from_email_address, to_email_address, **kwargs
) -> None:
    if from_email_address is not None:
        old = from_email_address.email
    else:  # an invited teammate's account has no primary EmailAddress row
        replaced = getattr(_replaced_email, "by_user", {})
        old = replaced.pop(user.pk, "") or getattr(user, "email_when_loaded", "")
    record_for_user(
        user,
        Kind.ACCOUNT_EMAIL_CHANGED,
        request=request,
        target=to_email_address.email,
        summary=f"Sign-in address changed from {old or 'none'} to {to_email_address.email}.",
        old=old,
        new=to_email_address.email,
    )
    revisions.bump_workspaces_of(user)  # pages name members by name or address


@receiver(allauth_signals.email_removed, dispatch_uid="deals.security_log.email_removed")
def _log_email_removed(sender, request, user, email_address, **kwargs) -> None:
    record_for_user(
        user,
        Kind.ACCOUNT_EMAIL_REMOVED,
        request=request,
        target=email_address.email,
        summary="Address removed from the account.",
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
