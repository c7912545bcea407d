from celery import shared_task


@shared_task(name="plans.render_document", acks_late=True, max_retries=3, default_retry_delay=10)
def render_document(*, document_id: int) -> None:
    """Render (and seal) a plan's PDF. Idempotent: a ready document is left alone."""
    from .documents import render

    render(document_id)
