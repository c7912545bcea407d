"""The PDF: content, draft watermark, the seal, downloads and the Verify page."""

import hashlib
import io
import shutil
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from pypdf import PdfReader

from plans import evidence
from plans.models import Milestone, Plan, PlanDocument
from plans.services import update_plan_overview
from plans.signing import documents, pdf, seal, signatures
from stakeholders.actors import Actor
from tests.conftest import open_room


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.select_related("deal", "deal__owner", "deal__organization").get(
        deal=acme_deal
    )


def signed_plan(plan, django_capture_on_commit_callbacks):
    eve = plan.deal.stakeholders.get(email="eve@initech.test")
    ae = plan.deal.stakeholders.get(role="ae")
    with django_capture_on_commit_callbacks(execute=True):
        for signer in (eve, ae):
            signatures.sign_plan(
                plan,
                signer=signer,
                typed_name=signer.name,
                consent=True,
                seen_hash=evidence.content_hash(plan),
                ip_address="127.0.0.1",
                user_agent="PytestAgent",
                auth_method="test",
            )
    plan.refresh_from_db()
    return plan


def text_of(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.split())


def test_draft_pdf_has_every_step_owner_and_signer_and_a_watermark(plan):
    content = evidence.canonical_content(plan)
    Milestone.objects.create(
        organization=plan.organization,
        plan=plan,
        title="Secret discount approval",
        visibility="internal",
        position=99,
    )

    data = pdf.render_plan_pdf(
        plan,
        version=plan.version,
        content=content,
        content_hash="f" * 64,
        reference="TDM-X-V1",
        signed=False,
    )

    text = text_of(data)
    for step in content["milestones"]:
        assert step["title"] in text
        if step["buyer_owner"]:
            assert step["buyer_owner"]["name"] in text
    assert "Eve Economic" in text and "Alice Seller" in text
    assert "DRAFT" in text
    assert "Audit certificate" in text
    assert "Secret discount approval" not in text


@pytest.mark.django_db(transaction=True)
def test_signed_pdf_is_sealed_and_any_change_breaks_the_seal(
    acme_deal, django_capture_on_commit_callbacks
):
    plan = signed_plan(
        Plan.objects.select_related("deal").get(deal=acme_deal), django_capture_on_commit_callbacks
    )
    document = PlanDocument.objects.get(plan=plan, sealed=True)
    assert document.status == "ready"
    data = document.file.read()
    assert hashlib.sha256(data).hexdigest() == document.sha256

    text = text_of(data)
    assert "PytestAgent" in text and "127.0.0.1" in text and document.reference in text
    assert "DRAFT" not in text
    # The certificate shows the address each signature came from (and where it was asked).
    assert "signed from eve@initech.test" in text
    assert "requested at" in text
    result = pdf.verify_pdf(data)
    assert result.valid, result.problem
    assert result.plan == plan and result.version == plan.signed_version

    tampered = bytearray(data)
    position = tampered.find(b"/Producer")
    tampered[position + 2] ^= 0x01
    broken = pdf.verify_pdf(bytes(tampered))
    assert not broken.valid


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="poppler-utils (pdfsig) not installed")
@pytest.mark.django_db(transaction=True)
def test_pdfsig_reports_valid_then_digest_mismatch(
    acme_deal, tmp_path, django_capture_on_commit_callbacks
):
    plan = signed_plan(
        Plan.objects.select_related("deal").get(deal=acme_deal), django_capture_on_commit_callbacks
    )
    data = PlanDocument.objects.get(plan=plan, sealed=True).file.read()
    good = tmp_path / "good.pdf"
    good.write_bytes(data)
    bad = tmp_path / "bad.pdf"
    changed = bytearray(data)
    changed[len(changed) // 4] ^= 0x01
    bad.write_bytes(bytes(changed))

    ok = subprocess.run(["pdfsig", str(good)], capture_output=True, text=True, check=False)
    ko = subprocess.run(["pdfsig", str(bad)], capture_output=True, text=True, check=False)

    assert "Signature is Valid" in ok.stdout
    assert "Digest Mismatch" in ko.stdout or "Signature is Invalid" in ko.stdout


def test_seller_and_buyer_download_the_same_pdf_again(
    client, alice, plan, dana, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    url = reverse("plans:plan-pdf", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    # In a request the task runs right after commit; a test transaction runs it here.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url)

    first = client.get(url)
    second = client.get(url)

    assert first.status_code == 200
    assert first["Content-Disposition"].startswith("attachment;")
    body = b"".join(first.streaming_content)
    assert body.startswith(b"%PDF-")
    assert (
        hashlib.sha256(body).hexdigest()
        == hashlib.sha256(b"".join(second.streaming_content)).hexdigest()
    )
    assert PlanDocument.objects.count() == 1

    buyer = client.__class__()
    open_room(buyer, dana)
    response = buyer.get(reverse("room-pdf", kwargs={"deal_id": plan.deal.public_id}))
    assert (
        hashlib.sha256(b"".join(response.streaming_content)).hexdigest()
        == hashlib.sha256(body).hexdigest()
    )


def test_pending_document_shows_progress_page_and_polls(client, alice, plan, settings):
    from plans import tasks

    client.force_login(alice)
    url = reverse("plans:plan-pdf", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    original = tasks.render_document.delay
    tasks.render_document.delay = lambda **kwargs: None  # as if a worker had not run it yet
    try:
        waiting = client.get(url)
        poll = client.get(url, HTTP_HX_REQUEST="true")
    finally:
        tasks.render_document.delay = original
    assert waiting.status_code == 202
    assert b"Preparing the PDF" in waiting.content
    assert poll.status_code == 204

    documents.render(PlanDocument.objects.get().pk)
    ready = client.get(url, HTTP_HX_REQUEST="true")
    assert ready.status_code == 200
    assert b"data-auto-download" in ready.content


def test_verify_page_reports_seal_plan_and_changes_since(
    client, alice, acme_deal, django_capture_on_commit_callbacks
):
    plan = signed_plan(
        Plan.objects.select_related("deal").get(deal=acme_deal), django_capture_on_commit_callbacks
    )
    data = PlanDocument.objects.get(plan=plan, sealed=True).file.read()

    response = client.post("/verify/", {"file": SimpleUploadedFile("plan.pdf", data)})
    assert response.status_code == 200
    assert b"The seal is valid" in response.content
    assert b"Initech" in response.content
    assert b"has not changed since" in response.content
    assert b"exactly the file Tandem issued" in response.content

    update_plan_overview(plan, actor=Actor.seller(alice), business_outcome="Different now")
    response = client.post("/verify/", {"file": SimpleUploadedFile("plan.pdf", data)})
    assert b"The plan has changed since this version." in response.content

    tampered = bytearray(data)
    tampered[len(tampered) // 3] ^= 0x01
    response = client.post("/verify/", {"file": SimpleUploadedFile("plan.pdf", bytes(tampered))})
    assert b"The seal is not valid" in response.content
    # A file whose seal does not hold tells nothing of the plan it names (its id is printed
    # in every copy): not its names, not whether it changed since.
    assert b"Initech" not in response.content
    assert b"changed since" not in response.content


def test_verify_page_refuses_non_pdf(client, db):
    response = client.post("/verify/", {"file": SimpleUploadedFile("x.pdf", b"hello")})

    assert response.status_code == 422
    assert b"That is not a PDF." in response.content


def test_seal_key_is_stored_encrypted_and_never_served(plan):
    stored = seal.seal_for(plan.deal.organization)

    assert "ENCRYPTED PRIVATE KEY" in stored.encrypted_key_pem
    key, cert = seal.load_key_and_cert(stored)
    assert key.key_size == 2048
    assert seal.seal_for(plan.deal.organization).pk == stored.pk


def test_install_seal_certificate_command(plan, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from django.core.management import call_command

    from deals.models import Organization

    other = seal.generate_seal(Organization.objects.create(name="Issuer", slug="issuer"))
    key, cert = seal.load_key_and_cert(other)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    call_command(
        "install_seal_certificate",
        org="acme",
        cert=str(tmp_path / "cert.pem"),
        key=str(tmp_path / "key.pem"),
    )

    installed = plan.deal.organization.seal_certificate
    installed.refresh_from_db()
    assert installed.source == "installed"
    assert installed.fingerprint == other.fingerprint


def test_pdf_renderer_fetches_nothing(tmp_path):
    """The plan PDF is drawn from our template alone: should markup ever slip into it, it
    still could not make the worker fetch an address (network or file) or embed a file."""
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red; }")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE-CONTENT")
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        data = pdf.write_pdf(
            f'<link rel="stylesheet" href="{base}/link.css">'
            f'<style>@import url("{base}/import.css"); p {{ background: url("{base}/bg.png") }}'
            f"</style><p>Hello</p>"
            f'<img src="{base}/img.png"><img src="{secret.as_uri()}">'
            f'<object data="{secret.as_uri()}"></object><a href="{secret.as_uri()}" '
            f'rel="attachment">file</a>'
        )
    finally:
        server.shutdown()

    assert hits == []
    assert data.startswith(b"%PDF-")
    assert b"TOP-SECRET" not in data
    assert "Hello" in PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_verify_page_and_pdf_show_names_as_text(
    client, acme_deal, django_capture_on_commit_callbacks
):
    """The public Verify page reads names from the database (the plan an uploaded PDF names):
    what the parties wrote there is shown as text, as in the PDF itself."""
    account = '<img src=x onerror=alert(1)><meta http-equiv="refresh" content="0;url=/x">'
    workspace = "</style><script>alert(2)</script>"
    type(acme_deal).objects.filter(pk=acme_deal.pk).update(account_name=account)
    type(acme_deal.organization).objects.filter(pk=acme_deal.organization_id).update(name=workspace)
    plan = signed_plan(
        Plan.objects.select_related("deal").get(deal=acme_deal), django_capture_on_commit_callbacks
    )
    data = PlanDocument.objects.get(plan=plan, sealed=True).file.read()

    html = client.post("/verify/", {"file": SimpleUploadedFile("plan.pdf", data)}).content.decode()

    assert "The seal is valid" in html
    assert escape(account) in html and escape(workspace) in html
    assert "<img src=x" not in html and "<meta http-equiv" not in html
    assert "<script>alert" not in html
    text = text_of(data)
    assert account in text and workspace in text


def test_a_document_whose_render_task_was_lost_is_queued_again(
    client, alice, plan, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from plans import tasks

    client.force_login(alice)
    url = reverse("plans:plan-pdf", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id})
    original = tasks.render_document.apply_async
    tasks.render_document.apply_async = lambda **kwargs: None  # the broker lost the task
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(url).status_code == 202
    finally:
        tasks.render_document.apply_async = original
    document = PlanDocument.objects.get()
    assert document.status == PlanDocument.Status.PENDING

    # Not yet: a render may still be under way.
    assert documents.requeue_stuck() == 0
    later = timezone.now() + documents.STUCK_AFTER + timedelta(seconds=1)
    assert tasks.requeue_stuck_documents.run() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert documents.requeue_stuck(now=later) == 1

    document.refresh_from_db()
    assert document.status == PlanDocument.Status.READY
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
