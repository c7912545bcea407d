"""Celery tasks of notifications/."""

from celery import current_app, shared_task

from . import webhooks


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
