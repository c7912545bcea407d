"""One retry policy for the background work of every app.

Work that must happen is a row first (a webhook delivery, a notification's email, a PDF
document, an outbox message): the row says what is still owed, and a task is only one
attempt at it. So:

- an attempt claims its row, and records its outcome on it (a claim that a dead worker
  left expires);
- an attempt that fails for a reason that may pass (a network error, an SMTP refusal, an
  endpoint's 5xx) leaves the row owed and queues the next attempt after `delay_after`
  (15 s × 4ⁿ: 15 s, 1 min, 4 min, 16 min, 64 min, ~4.3 h, ~17 h), as a new message
  (`again`); after MAX_ATTEMPTS the row is marked failed and kept for the log;
- a beat sweep queues whatever is owed and due (`notifications.retry_webhooks`,
  `notifications.sweep_reminders`, `plans.requeue_stuck_documents`, `deals.relay_outbox`),
  so a retry lost with a worker or the broker is not lost work;
- in-process (eager mode: `make run`, no broker) nothing is retried inside the request that
  queued the work: the sweep does it.

Celery's own Task.retry() is not used: in eager mode it would run the retries at once,
inside the web request, and its count lives in the message, not on the row.
"""

from __future__ import annotations

from celery import current_app

# Seconds to wait after failed attempt n (1-based) before attempt n + 1.
DELAYS = [15 * 4**n for n in range(7)]
MAX_ATTEMPTS = len(DELAYS) + 1


def delay_after(attempts: int) -> int | None:
    """Seconds until the next attempt after `attempts` failed ones; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return DELAYS[max(attempts, 1) - 1]


def again(task, *, countdown: float, **kwargs) -> None:
    """Queue the next attempt of `task` in `countdown` seconds (not in eager mode: there the
    sweep sends what is due)."""
    if not current_app.conf.task_always_eager:
        task.apply_async(kwargs=kwargs, countdown=countdown)
