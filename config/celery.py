"""The Celery app and its beat schedule (exactly one beat process runs it)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tandem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The schedule lives here, in code. Later issues add the reminder sweep and reviews.
app.conf.beat_schedule = {}
# Webhook deliveries whose retry is due (and ones whose worker died mid-attempt).
app.conf.beat_schedule["retry-webhooks"] = {
    "task": "notifications.retry_webhooks",
    "schedule": 60.0,
}
