"""Notification workflows: event notices (in-app now, email in batches), preferences,
unsubscribe tokens, and reading notifications."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from deals import outbox
from deals.models import Membership, Organization
from plans.models import Activity, Milestone, Plan

from .models import EmailThrottle, Kind, Notification, NotificationPreference, SentNotification

# Event notices are emailed at most this often per recipient.
EVENT_EMAIL_EVERY = timedelta(minutes=10)

# The buyer actions that notify the AE. HOOK(signatures): the signing issue records the
# buyer's signature with record_activity(verb="plan_signed") — or calls notify_buyer_event
# directly — and the AE is notified like for the others, in-app and by email.
PLAN_SIGNED_VERB = "plan_signed"
BUYER_EVENT_VERBS = {
    Activity.Verb.MILESTONE_COMPLETED,
    Activity.Verb.DATE_PROPOSED,
    Activity.Verb.COMMENTED,
    PLAN_SIGNED_VERB,
}


# --- Event notices ------------------------------------------------------------------------


def notify_buyer_event(
    *, plan: Plan, actor_name: str, verb: str, text: str, milestone: Milestone | None = None
) -> Notification:
    """A buyer did something the AE (the deal owner) must know: an in-app notification now
    (in the caller's transaction) and, after commit, the batched email task and a nudge of
    the bell. Not idempotent by itself: call it once per event (the activity's signal)."""
    deal = plan.deal
    url = deal.get_absolute_url() + (f"#milestone-{milestone.public_id}" if milestone else "")
    notification = Notification.objects.create(
        organization_id=plan.organization_id,
        user_id=deal.owner_id,
        kind=Kind.EVENTS,
        verb=verb,
        plan=plan,
        milestone=milestone,
        actor_name=actor_name,
        text=f"{actor_name} {text}"[:400],
        url=url,
        email_state=Notification.EmailState.PENDING,
    )
    outbox.enqueue(
        "notifications.send_event_emails",
        user_id=deal.owner_id,
        organization_id=plan.organization_id,
    )
    return notification


def batch_event_emails(*, user_id: int, organization_id: int, now: datetime | None = None):
    """Gather the user's event notices still waiting for an email into one batch, if the
    throttle allows (one email per EVENT_EMAIL_EVERY per recipient).

    Returns ("sent", row id) when a batch row was recorded (the caller delivers it),
    ("wait", seconds) when throttled, or ("none", 0) when there is nothing to send.
    The throttle is claimed with a conditional UPDATE, so concurrent calls cannot both
    pass; the batch row and the notices' state change commit together."""
    now = now or timezone.now()
    waiting = Notification.objects.filter(
        user_id=user_id,
        organization_id=organization_id,
        email_state=Notification.EmailState.PENDING,
    )
    ids = list(waiting.order_by("id").values_list("id", flat=True))
    if not ids:
        return "none", 0
    membership = (
        Membership.objects.select_related("user")
        .filter(user_id=user_id, organization_id=organization_id)
        .first()
    )
    recipient = membership.user.email.lower() if membership else ""
    if not recipient or not email_enabled(
        organization_id=organization_id, email=recipient, kind=Kind.EVENTS
    ):
        waiting.filter(id__in=ids).update(email_state=Notification.EmailState.SKIPPED)
        return "none", 0
    throttle_key = {"organization_id": organization_id, "recipient": recipient, "kind": Kind.EVENTS}
    with contextlib.suppress(IntegrityError):  # created concurrently: it exists now
        EmailThrottle.objects.get_or_create(
            **throttle_key, defaults={"next_allowed_at": now - timedelta(seconds=1)}
        )
    claimed = EmailThrottle.objects.filter(**throttle_key, next_allowed_at__lte=now).update(
        next_allowed_at=now + EVENT_EMAIL_EVERY
    )
    if not claimed:
        next_at = EmailThrottle.objects.get(**throttle_key).next_allowed_at
        return "wait", max(1, int((next_at - now).total_seconds()) + 1)
    with transaction.atomic():
        row = SentNotification.objects.create(
            organization_id=organization_id,
            kind=Kind.EVENTS,
            recipient=recipient,
            scope_id=0,
            period=now.isoformat(),
            payload={"notifications": ids, "user": user_id},
            queued_at=now,
        )
        Notification.objects.filter(id__in=ids, email_state=Notification.EmailState.PENDING).update(
            email_state=Notification.EmailState.BATCHED, email_batch=row
        )
    return "sent", row.id


# --- Preferences and unsubscribe ----------------------------------------------------------

UNSUBSCRIBE_SALT = "tandem.notifications.unsubscribe"


def unsubscribe_token(*, organization_id: int, email: str, kind: str) -> str:
    """A signed, non-expiring token naming a workspace, an address and a kind: it lets its
    holder turn that kind (or, from the page, any kind) off or on for that address only."""
    return signing.dumps(
        [organization_id, email.lower(), kind], salt=UNSUBSCRIBE_SALT, compress=True
    )


def read_unsubscribe_token(token: str) -> tuple[Organization, str, str] | None:
    """(workspace, email, kind) of a valid token, else None."""
    try:
        organization_id, email, kind = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None or kind not in Kind.values:
        return None
    return organization, email, kind


def unsubscribe_url(*, organization_id: int, email: str, kind: str) -> str:
    token = unsubscribe_token(organization_id=organization_id, email=email, kind=kind)
    return settings.SITE_URL + reverse("notification-unsubscribe", kwargs={"token": token})


def email_enabled(*, organization_id: int, email: str, kind: str) -> bool:
    return not NotificationPreference.objects.filter(
        organization_id=organization_id, email=email.lower(), kind=kind, enabled=False
    ).exists()


def set_preferences(organization: Organization, *, email: str, enabled: dict[str, bool]) -> None:
    """Turn kinds of email on or off for an address in a workspace (idempotent)."""
    email = email.lower()
    for kind, on in enabled.items():
        NotificationPreference.objects.update_or_create(
            organization=organization, email=email, kind=kind, defaults={"enabled": on}
        )


def preferences_of(organization: Organization, *, email: str) -> dict[str, bool]:
    """Every kind → on/off for an address (on unless turned off)."""
    off = set(
        NotificationPreference.objects.filter(
            organization=organization, email=email.lower(), enabled=False
        ).values_list("kind", flat=True)
    )
    return {kind: kind not in off for kind in Kind.values}


def is_member(organization: Organization, email: str) -> bool:
    return Membership.objects.filter(organization=organization, user__email__iexact=email).exists()


# --- Reading ------------------------------------------------------------------------------


def mark_read(notifications, *, now: datetime | None = None) -> int:
    """Mark the unread ones of a (user-scoped) queryset read; idempotent."""
    return notifications.filter(read_at=None).update(read_at=now or timezone.now())
