from datetime import UTC, datetime

from celery import shared_task
from django.utils import timezone

from .dashboard import summaries as dashboard_summaries
from .signing.documents import render, requeue_stuck


@shared_task(name="plans.render_document")
def render_document(*, document_id: int) -> None:
    """Render (and seal) a plan's PDF. Idempotent: a ready document is left alone. A render
    that fails marks the document failed (it would fail the same way again: the person asks
    for it again); a task lost with a worker is queued again by requeue_stuck_documents
    (the retry policy: deals/retries.py)."""

    render(document_id)


@shared_task(name="plans.requeue_stuck_documents", ignore_result=True)
def requeue_stuck_documents() -> int:
    """Beat, every 5 minutes: PDFs whose render task was lost are queued again."""

    return requeue_stuck()


@shared_task(name="plans.refresh_dashboard_summaries", ignore_result=True)
def refresh_dashboard_summaries(*, now: str | None = None) -> dict:
    """Beat, every 15 minutes: bring every workspace's dashboard summaries up to date, so
    that the day's recount of overdue steps is done here rather than by the first dashboard
    request of the workspace's day (plans.dashboard.summaries.refresh_every_workspace).
    `now` (ISO; UTC when it names no offset) acts as if it were then. Idempotent; a failing
    workspace is logged and skipped."""

    moment = datetime.fromisoformat(now) if now else timezone.now()
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    workspaces, failures = dashboard_summaries.refresh_every_workspace(now=moment)
    return {"workspaces": workspaces, "failed": failures}
