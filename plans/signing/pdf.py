"""The plan as a PDF (WeasyPrint) with an audit certificate page, sealed with a PAdES
signature (pyHanko) by the workspace's seal certificate.

WeasyPrint and pyHanko are imported inside the functions: importing WeasyPrint takes about
a second, and only the worker (or an explicit export) should pay for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from django.template.loader import render_to_string
from django.utils import timezone

from plans.evidence import verify_chain
from plans.models import Plan, PlanDocument, SealCertificate, SignatureEvent

from .seal import load_key_and_cert

KEYWORD_PREFIX = "tandem"
log = logging.getLogger(__name__)


def keywords(plan: Plan, *, version: int, content_hash: str) -> str:
    prefix = KEYWORD_PREFIX
    return (
        f"{prefix}-plan:{plan.public_id} {prefix}-version:{version} {prefix}-content:{content_hash}"
    )


def render_plan_pdf(
    plan: Plan, *, version: int, content: dict, content_hash: str, reference: str, signed: bool
) -> bytes:
    """Render the signed content of `plan` (never internal steps or notes) with the audit
    certificate page. Unsigned versions carry a DRAFT watermark."""

    events = list(
        SignatureEvent.objects.filter(plan=plan).order_by("sequence").select_related("signer")
    )
    html = render_to_string(
        "plans/pdf/plan.html",
        {
            "plan": plan,
            "deal": plan.deal,
            "organization": plan.deal.organization,
            "content": content,
            "content_hash": content_hash,
            "version": version,
            "reference": reference,
            "signed": signed,
            "events": events,
            "chain": verify_chain(plan),
            "generated_at": timezone.now(),
            "keywords": keywords(plan, version=version, content_hash=content_hash),
            "time_zone": plan.deal.organization.time_zone,
        },
    )
    return write_pdf(html)


def write_pdf(html: str) -> bytes:
    """`html` as a PDF, with no resource loaded: the template has no image, stylesheet or
    font to fetch, so WeasyPrint is given a fetcher that refuses every address (network,
    file: and data: alike). What the parties write is escaped by the template; this is the
    second lock, should markup ever slip in: the worker fetches nothing, embeds no file."""
    from weasyprint import HTML, URLFetcher  # noqa: PLC0415 - slow import (1-2 s): only PDF renders load it

    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf()


def _outside_event_loop(function, *args, **kwargs):
    """pyHanko's synchronous API runs its own event loop, which cannot start in a thread that
    already runs one (an async caller, or a test driving a browser): use another thread."""

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function, *args, **kwargs).result()


def seal_pdf(pdf: bytes, seal: SealCertificate, *, reason: str) -> bytes:
    """Add a PAdES (B-B) signature of the workspace's seal over the whole file."""
    return _outside_event_loop(_seal_pdf, pdf, seal, reason=reason)


def _seal_pdf(pdf: bytes, seal: SealCertificate, *, reason: str) -> bytes:
    from pyhanko.keys.internal import (  # noqa: PLC0415 - slow import: only sealing loads pyHanko
        translate_pyca_cryptography_cert_to_asn1,
        translate_pyca_cryptography_key_to_asn1,
    )
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: PLC0415 - slow import: only sealing loads pyHanko
    from pyhanko.sign import fields, signers  # noqa: PLC0415 - slow import: only sealing loads pyHanko
    from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: PLC0415 - slow import: only sealing loads pyHanko

    key, cert = load_key_and_cert(seal)
    asn1_cert = translate_pyca_cryptography_cert_to_asn1(cert)
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=translate_pyca_cryptography_key_to_asn1(key),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name="TandemSeal",
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        name=seal.organization.name,
    )
    output = signers.sign_pdf(writer, metadata, signer=signer)
    return output.getvalue()


@dataclass
class Verification:
    sealed: bool
    intact: bool = False
    covers_whole_file: bool = False
    trusted_seal: bool = False
    plan: Plan | None = None
    version: int | None = None
    content_hash: str = ""
    issued_file: PlanDocument | None = None
    problem: str = ""

    @property
    def valid(self) -> bool:
        return self.sealed and self.intact and self.covers_whole_file and self.trusted_seal


def verify_pdf(data: bytes) -> Verification:
    """Check a PDF's seal and tell which plan and version it belongs to."""
    return _outside_event_loop(_verify_pdf, data)


def _verify_pdf(data: bytes) -> Verification:
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415 - slow import: only verifying loads pyHanko
    from pyhanko.sign.validation import validate_pdf_signature  # noqa: PLC0415 - slow import: only verifying loads pyHanko
    from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415 - slow import: only verifying loads pyHanko

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - any unreadable upload is "not a Tandem PDF"
        return Verification(
            sealed=False, problem=f"This is not a readable PDF ({exc.__class__.__name__})."
        )
    if not signatures:
        return Verification(
            sealed=False, problem="This PDF carries no seal (a draft, or not from Tandem)."
        )
    signature = signatures[0]
    result = Verification(sealed=True)
    # Which plan: read from the signed revision's metadata.
    info = reader.trailer_view.get("/Info")
    if info is not None and hasattr(info, "get_object"):
        info = info.get_object()
    text = str(info.get("/Keywords", "")) if info else ""
    fields = dict(part.split(":", 1) for part in text.split() if ":" in part)
    plan_id = fields.get(f"{KEYWORD_PREFIX}-plan")
    if plan_id:
        result.plan = (
            Plan.objects.select_related("deal", "organization").filter(public_id=plan_id).first()
        )
    version = fields.get(f"{KEYWORD_PREFIX}-version")
    result.version = int(version) if version and version.isdigit() else None
    result.content_hash = fields.get(f"{KEYWORD_PREFIX}-content", "")
    seal = (
        SealCertificate.objects.filter(organization_id=result.plan.organization_id).first()
        if result.plan
        else None
    )
    roots = []
    if seal is not None:
        _, _, der = pem.unarmor(seal.certificate_pem.encode())
        roots.append(asn1_x509.Certificate.load(der))
    try:
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots))
    except Exception as exc:  # noqa: BLE001
        log.warning("PDF seal check failed", exc_info=True)
        result.problem = f"The seal could not be checked ({exc.__class__.__name__}: {exc})."
        return result
    from pyhanko.sign.validation.status import SignatureCoverageLevel as Coverage  # noqa: PLC0415 - slow import: only verifying loads pyHanko

    result.intact = bool(status.intact and status.valid)
    result.covers_whole_file = status.coverage == Coverage.ENTIRE_FILE
    result.trusted_seal = bool(status.trusted) and seal is not None
    digest = hashlib.sha256(data).hexdigest()
    result.issued_file = PlanDocument.objects.filter(sha256=digest, sealed=True).first()
    if not result.intact:
        result.problem = "The document was changed after it was sealed."
    elif not result.covers_whole_file:
        result.problem = "Something was added to the document after it was sealed."
    elif not result.trusted_seal:
        result.problem = "The seal is not one of this workspace's."
    return result
