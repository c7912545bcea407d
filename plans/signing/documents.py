"""PDF documents of plans: asked for by a download, prepared by a task (in the worker when
Redis is configured, in-process otherwise), stored so the same file is served again."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from deals import outbox
from plans.evidence import canonical_content, digest_of
from plans.models import Plan, PlanDocument

from . import pdf, seal

log = logging.getLogger(__name__)

# A render takes about a second: a document still pending this long after it was asked for
# lost its task (a broker that restarted empty, a worker killed mid-render).
STUCK_AFTER = timedelta(minutes=5)
REQUEUE_BATCH = 200


def document_for(plan: Plan) -> PlanDocument:
    """The document of the plan's current content: sealed when that content is signed.
    Asking again returns the same document; a new one is queued after commit."""

    content = canonical_content(plan)
    digest = digest_of(content)
    sealed = plan.status == Plan.Status.SIGNED and plan.signed_content_hash == digest
    document, created = PlanDocument.objects.get_or_create(
        plan=plan,
        content_hash=digest,
        sealed=sealed,
        defaults={
            "organization_id": plan.organization_id,
            "plan_version": plan.signed_version if sealed else plan.version,
            "content": content,
        },
    )
    if created:
        # Drafts of older content are not kept; sealed documents always are.
        for old in PlanDocument.objects.filter(plan=plan, sealed=False).exclude(pk=document.pk):
            old.file.delete(save=False)
            old.delete()
    if created or document.status == PlanDocument.Status.FAILED:
        PlanDocument.objects.filter(pk=document.pk).update(status=PlanDocument.Status.PENDING)
        document.status = PlanDocument.Status.PENDING
        outbox.enqueue("plans.render_document", document_id=document.pk)
    return document


def requeue_stuck(now=None) -> int:
    """Queue again the render of documents pending for longer than STUCK_AFTER (the beat
    task plans.requeue_stuck_documents); the render is idempotent. Returns how many."""
    now = now or timezone.now()
    stuck = list(
        PlanDocument.objects.filter(
            status=PlanDocument.Status.PENDING, created_at__lt=now - STUCK_AFTER
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    for document_id in stuck:
        with transaction.atomic():
            outbox.enqueue("plans.render_document", document_id=document_id)
    if stuck:
        log.warning("documents: %d pending PDF(s) queued again (their task was lost)", len(stuck))
    return len(stuck)


def prepare_document(*, plan_id: int) -> None:
    """Queue the document of a plan's current content (used when a plan becomes signed)."""
    plan = Plan.objects.select_related("deal", "deal__organization").get(pk=plan_id)
    with transaction.atomic():
        document_for(plan)


def render(document_id: int) -> None:
    """Render (and seal, for a signed version) one document. Idempotent: a ready document
    is left alone. No transaction is held while rendering."""
    document = (
        PlanDocument.objects.select_related("plan", "plan__deal", "plan__deal__organization")
        .filter(pk=document_id)
        .first()
    )
    if document is None or document.status == PlanDocument.Status.READY:
        return

    plan = document.plan
    try:
        data = pdf.render_plan_pdf(
            plan,
            version=document.plan_version,
            content=document.content,
            content_hash=document.content_hash,
            reference=document.reference,
            signed=document.sealed,
        )
        if document.sealed:
            data = pdf.seal_pdf(
                data,
                seal.seal_for(plan.deal.organization),
                reason=f"Signed mutual action plan, version {document.plan_version}",
            )
    except Exception as exc:
        log.exception("PDF of plan %s failed", plan.pk)
        PlanDocument.objects.filter(pk=document.pk).update(
            status=PlanDocument.Status.FAILED, error=str(exc)[:300]
        )
        raise
    document.file.save(f"{document.reference}.pdf", ContentFile(data), save=False)
    PlanDocument.objects.filter(pk=document.pk).update(
        file=document.file.name,
        sha256=hashlib.sha256(data).hexdigest(),
        status=PlanDocument.Status.READY,
        ready_at=timezone.now(),
        error="",
    )
