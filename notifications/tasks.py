"""Celery tasks of notifications/: webhook deliveries, and reminders and digests (business
rules live in digests.py: who gets what; delivery.py: exactly-once sending)."""

from __future__ import annotations

import logging
import random
from datetime import datetime

from celery import current_app, shared_task
from django.utils import timezone

from . import delivery, digests, services, webhooks
from .models import SentNotification


@shared_task(name="notifications.deliver_webhook")
def deliver_webhook(*, delivery_id: int) -> None:
    """One attempt of a webhook delivery; on failure, the next one is queued with its
    backoff delay (15 s × 4ⁿ, 8 attempts over ~23 h).

    The retry is a new message with a countdown rather than Task.retry(): in eager mode
    (no Redis) Celery would run retries at once, inside the web request. There, and for
    retries lost with a worker, the `notifications.retry_webhooks` sweep sends what is due.
    Idempotent: an attempt that is not due, or already claimed, is a no-op.
    """
    delay = webhooks.attempt_delivery(delivery_id)
    if delay is not None and not current_app.conf.task_always_eager:
        deliver_webhook.apply_async(kwargs={"delivery_id": delivery_id}, countdown=delay)


@shared_task(name="notifications.retry_webhooks")
def retry_webhooks() -> int:
    """Beat, every minute: queue every webhook delivery whose attempt is due. Returns how
    many were queued."""
    ids = webhooks.due_delivery_ids()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id=delivery_id)
    return len(ids)


log = logging.getLogger(__name__)


def _parse_now(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="notifications.sweep_reminders", ignore_result=True)
def sweep_reminders(*, now: str | None = None) -> dict:
    """Every 15 minutes: daily digests, escalations, unopened invitations; re-queue pending
    emails; flush waiting event notices. `now` (ISO) acts as if it were then."""
    result = digests.sweep(_parse_now(now), deciders=digests.FREQUENT)
    return {"decided": result.decided, "queued": len(result.queued) + len(result.requeued)}


@shared_task(name="notifications.sweep_reviews", ignore_result=True)
def sweep_reviews(*, now: str | None = None) -> dict:
    """Hourly: weekly MAP reviews and stale plans."""
    result = digests.sweep(_parse_now(now), deciders=digests.HOURLY)
    return {"decided": result.decided, "queued": len(result.queued) + len(result.requeued)}


def _backoff(retries: int) -> int:
    """30 s, 1 min, 2 min … capped at 1 hour, with jitter (well under the broker's
    visibility timeout)."""
    return min(3600, 30 * 2**retries) + random.randint(0, 15)  # noqa: S311 - jitter only


@shared_task(
    bind=True,
    name="notifications.deliver",
    ignore_result=True,
    max_retries=delivery.MAX_ATTEMPTS,
)
def deliver_notification(self, *, sent_id: int) -> str:
    """Send the email of one log row (claim, build, send, mark). SMTP and network errors
    are retried with exponential backoff; the row stays pending meanwhile, so even a lost
    retry is picked up by the next sweep."""
    try:
        outcome = delivery.deliver(sent_id)
    except delivery.SEND_ERRORS as exc:
        if self.request.is_eager:
            # In-process (no broker): leave it pending for the next sweep, do not fail the
            # request that queued it.
            log.warning("could not send notification %s: %s", sent_id, exc)
            return "failed"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    if outcome == "batched":
        # Let the other notices of the same sweep arrive, then email them together.
        _queue_batch(sent_id, countdown=0 if self.request.is_eager else BATCH_GATHER_SECONDS)
    return outcome


# How long a batch of sweep-made notices waits for its siblings before it is emailed.
BATCH_GATHER_SECONDS = 60


def _queue_batch(sent_id: int, *, countdown: int) -> None:
    row = SentNotification.objects.filter(pk=sent_id).values("organization_id", "payload").first()
    if row and row["payload"].get("user"):
        send_event_emails.apply_async(
            kwargs={"user_id": row["payload"]["user"], "organization_id": row["organization_id"]},
            countdown=countdown,
        )


@shared_task(bind=True, name="notifications.send_event_emails", ignore_result=True)
def send_event_emails(self, *, user_id: int, organization_id: int) -> str:
    """Email a seller their waiting buyer event notices as one batch, at most once per 10
    minutes; when throttled, try again when the window opens (the sweep also flushes)."""
    state, value = services.batch_event_emails(
        user_id=user_id, organization_id=organization_id, now=timezone.now()
    )
    if state == "sent":
        deliver_notification.delay(sent_id=value)
    elif state == "wait" and not self.request.is_eager:
        self.apply_async(
            kwargs={"user_id": user_id, "organization_id": organization_id}, countdown=value
        )
    return state
