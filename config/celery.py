"""The Celery app and its beat schedule (exactly one beat process runs it)."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import after_setup_logger, after_setup_task_logger

from .logging import RedactTokens

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tandem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_worker_logs(sender=None, logger=None, **kwargs) -> None:
    """The worker and beat log with Celery's own handlers (it replaces the root logger's, so
    settings.LOGGING's do not apply there): those handlers redact URL secrets too, as every
    log of the web processes does (config/logging.py)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactTokens) for f in handler.filters):
            handler.addFilter(RedactTokens())


# The schedule lives here, in code. Sweeps are idempotent (a unique row per email in the
# sent-notification log), so a late, repeated or overlapping run sends nothing twice.
app.conf.beat_schedule = {
    # Daily digests (from 08:00 local), escalations, unopened invitations, retries of
    # pending emails, waiting event notices.
    "reminder-sweep": {
        "task": "notifications.sweep_reminders",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 14 * 60},
    },
    # The dashboard summaries' recount as each workspace's day begins (overdue steps are
    # kept as of a date), so that its first dashboard request does not pay for it.
    # Idempotent and safe beside requests (see plans.dashboard.summaries).
    "dashboard-summaries-refresh": {
        "task": "plans.refresh_dashboard_summaries",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 14 * 60},
    },
    # Weekly MAP reviews (on each plan's review weekday) and stale plans.
    "review-and-stale-sweep": {
        "task": "notifications.sweep_reviews",
        "schedule": crontab(minute=5),
        "options": {"expires": 55 * 60},
    },
}
# Tasks owed by changes saved while the broker was down (deals/outbox.py). Every 30 s;
# OUTBOX_RELAY_SECONDS changes it (the fault-tolerance tests use 5 s).
RELAY_SECONDS = float(os.environ.get("OUTBOX_RELAY_SECONDS") or 30)
app.conf.beat_schedule["relay-outbox"] = {
    "task": "deals.relay_outbox",
    "schedule": RELAY_SECONDS,
    "options": {"expires": RELAY_SECONDS * 5 / 6},
}
# Webhook deliveries whose retry is due (and ones whose worker died mid-attempt).
app.conf.beat_schedule["retry-webhooks"] = {
    "task": "notifications.retry_webhooks",
    "schedule": 60.0,
}
# PDFs still pending 5 minutes after they were asked for (their render task was lost).
app.conf.beat_schedule["requeue-stuck-documents"] = {
    "task": "plans.requeue_stuck_documents",
    "schedule": 300.0,
    "options": {"expires": 250},
}
# The security log's retention: entries older than SECURITY_LOG_RETENTION_DAYS, once a day
# at a quiet hour (idempotent: a late or repeated run deletes what is due, no more).
app.conf.beat_schedule["security-log-retention"] = {
    "task": "deals.purge_security_log",
    "schedule": crontab(hour=3, minute=17),
    "options": {"expires": 23 * 3600},
}
