"""Celery tasks of deals/: the security log's retention and the outbox relay."""

from __future__ import annotations

from datetime import UTC, datetime

from celery import shared_task

from . import outbox, services


@shared_task(name="deals.purge_security_log", ignore_result=True)
def purge_security_log(*, now: str | None = None) -> int:
    """Beat, daily: delete security-log entries past SECURITY_LOG_RETENTION_DAYS
    (services.purge_security_log). `now` (ISO; UTC when it names no offset) acts as if it
    were then. Idempotent. Returns how many entries were deleted."""
    moment = datetime.fromisoformat(now) if now else None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return services.purge_security_log(now=moment)


@shared_task(name="deals.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    """Beat, every OUTBOX_RELAY_SECONDS: send the tasks that could not be queued when their
    change was saved (the broker was down). Idempotent: a row is sent once and deleted."""
    return outbox.relay()
