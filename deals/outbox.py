"""Queue Celery tasks after commit without ever failing a saved change, and without losing
one when the broker is down: the transactional outbox.

`enqueue(task, **kwargs)` writes an OutboxTask row in the current transaction and, after the
commit, publishes the task and deletes the row. If the broker cannot be reached (Redis
down, kombu's OperationalError), the request carries on — the change is saved — and the row
waits: `relay()` (the beat task `deals.relay_outbox`, every 30 s) sends what is waiting once
the broker answers again. After a failure a process stops trying the broker for a few
seconds (as config/cache.py does), so an outage costs each request nothing after the first.

Without a broker (`make run`, tests), tasks run in-process after the commit, as before.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from .models import OutboxTask

logger = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, RedisError, OSError)
RETRY_SECONDS = 5.0
# The relay leaves rows this young to the request that wrote them (it sends them itself).
RELAY_AFTER = timedelta(seconds=10)
RELAY_BATCH = 500
_down_until = 0.0


def enqueue(task: str, *, countdown: float | None = None, **kwargs) -> None:
    """Run the task named `task` with `kwargs` after the current transaction commits (at
    once outside one), no sooner than `countdown` seconds from now. Never raises for the
    broker. By name: the domain code that owes a task does not import the tasks module
    (tasks are leaves that call the domain code), so no import cycle forms; an unknown name
    raises celery's NotRegistered here, not in the worker."""
    registered = _registered(task)
    if current_app.conf.task_always_eager:
        transaction.on_commit(partial(registered.apply_async, kwargs=kwargs, countdown=countdown))
        return
    row = OutboxTask.objects.create(
        task=task,
        kwargs=kwargs,
        not_before=timezone.now() + timedelta(seconds=countdown) if countdown else None,
    )
    transaction.on_commit(partial(_send_after_commit, row.pk))


def _registered(name: str):
    """The task named `name`. The apps' tasks modules are imported on first need (Celery's
    autodiscovery runs at a worker's start, not in a web process); NotRegistered if none
    of them defines it."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def _broker_down() -> bool:
    return time.monotonic() < _down_until


def _mark_down(exc: Exception) -> None:
    global _down_until
    _down_until = time.monotonic() + RETRY_SECONDS
    logger.warning("outbox: broker unreachable (%s); tasks wait in the outbox for the relay", exc)


def _publish(row: OutboxTask) -> None:
    countdown = None
    if row.not_before is not None:
        countdown = max(0.0, (row.not_before - timezone.now()).total_seconds())
    # No publish retries: a broker that does not answer at once is left to the relay.
    current_app.send_task(row.task, kwargs=row.kwargs, countdown=countdown, retry=False)


def _send_after_commit(row_id: int) -> None:
    if _broker_down():
        return
    row = OutboxTask.objects.filter(pk=row_id).first()
    if row is None:
        return  # the relay sent it already
    try:
        _publish(row)
    except BROKER_ERRORS as exc:
        _mark_down(exc)
        return
    OutboxTask.objects.filter(pk=row_id).delete()


def relay(*, now=None, limit: int = RELAY_BATCH) -> int:
    """Send the tasks waiting in the outbox (oldest first); returns how many were sent.
    Rows are claimed with SKIP LOCKED, so two relays never send the same row; a broker
    failure stops the relay (the rows wait for the next one)."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxTask.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=now - RELAY_AFTER)
            .order_by("id")[:limit]
        )
        done = []
        for row in rows:
            try:
                _publish(row)
            except BROKER_ERRORS as exc:
                _mark_down(exc)
                OutboxTask.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
                break
            done.append(row.pk)
        OutboxTask.objects.filter(pk__in=done).delete()
        sent = len(done)
    if sent:
        logger.info("outbox: relayed %d waiting task(s)", sent)
    return sent
