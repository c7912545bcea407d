"""Celery tasks of notifications/: webhook deliveries, and reminders and digests (business
rules live in digests.py: who gets what; delivery.py: exactly-once sending)."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from deals import retries

from . import delivery, digests, services, webhooks
from .models import SentNotification


@shared_task(name="notifications.deliver_webhook")
def deliver_webhook(*, delivery_id: int) -> None:
    """One attempt of a webhook delivery; on failure, the next one is queued after its
    delay (deals/retries.py). The `notifications.retry_webhooks` sweep sends what is due
    and was not queued (eager mode, a lost retry). Idempotent: an attempt that is not due,
    or already claimed, is a no-op."""
    delay = webhooks.attempt_delivery(delivery_id)
    if delay is not None:
        retries.again(deliver_webhook, countdown=delay, delivery_id=delivery_id)


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


@shared_task(bind=True, name="notifications.deliver", ignore_result=True)
def deliver_notification(self, *, sent_id: int) -> str:
    """Send the email of one log row (claim, build, send, mark). SMTP and network errors
    leave the row pending and queue the next attempt after its delay (deals/retries.py);
    the reminder sweep re-queues pending rows too, so a lost retry is not a lost email."""
    try:
        outcome = delivery.deliver(sent_id)
    except delivery.SEND_ERRORS as exc:
        log.warning("could not send notification %s: %s", sent_id, exc)
        attempts = SentNotification.objects.filter(pk=sent_id).values_list("attempts", flat=True)
        delay = retries.delay_after(attempts[0] if attempts else retries.MAX_ATTEMPTS)
        if delay is not None:
            retries.again(deliver_notification, countdown=delay, sent_id=sent_id)
        return "failed"
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
