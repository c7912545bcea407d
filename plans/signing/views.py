"""Signing (both sides), the audit log, PDF downloads and the public "Verify a PDF" page."""

from __future__ import annotations

import math
from datetime import timedelta

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from deals import emails
from deals.models import SecurityEvent
from deals.security import client_ip, rate_limit, record
from deals.tenancy import org_view
from plans import evidence
from plans.forms import DeclineForm, SignForm, SigningCodeForm, VerifyForm
from plans.models import Plan, PlanDocument, SignatureEvent
from stakeholders.access import buyer_view, session_started_at
from stakeholders.actors import Actor
from stakeholders.models import Side, Stakeholder

from . import documents, signatures
from .pdf import verify_pdf

SESSION_CODE_VERIFIED = "tandem.signing_verified"


def _seller_plan(request, deal_id) -> Plan:
    return get_object_or_404(
        Plan.objects.for_org(request.organization).select_related("deal", "deal__owner"),
        deal__public_id=deal_id,
    )


def _seller_signer(request, plan: Plan) -> Stakeholder | None:
    """The seller-side required signer this user is (linked user, else same email)."""
    signers = Stakeholder.objects.filter(
        deal_id=plan.deal_id, side=Side.SELLER, is_required_signer=True
    )
    return (
        signers.filter(user=request.user).first()
        or signers.filter(email__iexact=request.user.email).first()
    )


def sign_context(plan: Plan, *, signer, form, decline_form=None, needs_password=False, **extra):
    content = evidence.canonical_content(plan)
    digest = evidence.digest_of(content)
    block = signatures.signature_block(plan, current_hash=digest)
    mine = next((s for s in block if signer and s.stakeholder.pk == signer.pk), None)
    return {
        "plan": plan,
        "deal": plan.deal,
        "content": content,
        "content_hash": digest,
        "signer": signer,
        "mine": mine,
        "signature_statuses": block,
        "form": form,
        "decline_form": decline_form or DeclineForm(),
        "needs_password": needs_password,
        **extra,
    }


def _seller_fresh(request) -> bool:
    last = request.user.last_login
    reauth = request.session.get("tandem.reauth_at")
    now = timezone.now()
    recent = [t for t in (last, timezone.datetime.fromisoformat(reauth) if reauth else None) if t]
    return any(now - t <= signatures.FRESH_IDENTITY for t in recent)


@require_POST
@org_view
def plan_request_signatures(request, deal_id):
    plan = _seller_plan(request, deal_id)
    if plan.is_archived:
        messages.error(request, "Restore the plan before sending it for signature.")
        return redirect(plan.get_absolute_url())
    try:
        asked = signatures.request_signatures(plan, actor=Actor.seller(request.user))
    except signatures.SigningRefused as exc:
        messages.error(request, str(exc))
    else:
        names = ", ".join(s.name for s in asked)
        if unsent := emails.unsent(request):
            messages.warning(
                request,
                f"Sent for signature to {names}, but the email to {', '.join(unsent)} could "
                "not be sent (the mail server did not answer): send it again in a moment.",
            )
        elif asked:
            messages.success(request, f"Sent for signature to {names}.")
        else:
            messages.info(request, "Every required signer has already signed this version.")
    return redirect(plan.get_absolute_url())


@org_view
def plan_sign(request, deal_id):
    """The seller's signing page: the exact content, typed name, consent, and (when the
    sign-in is older than 10 minutes) the password again."""
    plan = _seller_plan(request, deal_id)
    signer = _seller_signer(request, plan)
    fresh = _seller_fresh(request)
    form = SignForm(request.POST or None, require_password=not fresh)
    status = 200
    if request.method == "POST":
        status = 422
        if signer is None:
            form.add_error(None, "You are not a required signer of this plan.")
            status = 403
        elif form.is_valid():
            password = form.cleaned_data.get("password")
            if not fresh and not request.user.check_password(password or ""):
                form.add_error("password", "That password is not right.")
            else:
                if not fresh:
                    request.session["tandem.reauth_at"] = timezone.now().isoformat()
                method = "password re-entered" if not fresh else "recent sign-in"
                try:
                    signatures.sign_plan(
                        plan,
                        signer=signer,
                        typed_name=form.cleaned_data["typed_name"],
                        consent=form.cleaned_data["consent"],
                        seen_hash=form.cleaned_data["content_hash"],
                        ip_address=client_ip(request),
                        user_agent=request.META.get("HTTP_USER_AGENT", ""),
                        auth_method=method,
                        signed_from=request.user.email,
                    )
                except signatures.SigningRefused as exc:
                    form.add_error(None, str(exc))
                    if isinstance(exc, signatures.ContentChanged):
                        status = 409
                else:
                    messages.success(request, "You signed the plan.")
                    return redirect(plan.get_absolute_url())
    context = sign_context(
        plan,
        signer=signer,
        form=form,
        needs_password=not fresh,
        base_template="base.html",
        side="seller",
        nav="deals",
    )
    return render(request, "plans/sign.html", context, status=status)


@require_POST
@org_view
def plan_decline(request, deal_id):
    plan = _seller_plan(request, deal_id)
    signer = _seller_signer(request, plan)
    form = DeclineForm(request.POST)
    if signer is None or not form.is_valid():
        messages.error(request, "Say why you decline (only required signers can decline).")
        return redirect("plans:plan-sign", org_slug=request.organization.slug, deal_id=deal_id)
    try:
        signatures.decline(
            plan,
            signer=signer,
            reason=form.cleaned_data["reason"],
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except signatures.SigningRefused as exc:
        messages.error(request, str(exc))
        return redirect(plan.get_absolute_url())
    messages.success(request, "You declined to sign; the team sees your reason.")
    return redirect(plan.get_absolute_url())


@org_view
def plan_audit(request, deal_id):
    plan = _seller_plan(request, deal_id)
    events = SignatureEvent.objects.filter(plan=plan).order_by("sequence")
    context = {
        "plan": plan,
        "deal": plan.deal,
        "events": events,
        "chain": evidence.verify_chain(plan),
        "documents": PlanDocument.objects.filter(plan=plan, sealed=True, status="ready"),
        "nav": "deals",
    }
    return render(request, "plans/audit.html", context)


def _document_response(request, document: PlanDocument, *, poll_url: str, back_url: str, base: str):
    document.refresh_from_db()
    ready = document.status == PlanDocument.Status.READY and bool(document.file)
    if request.htmx:
        # The waiting page polls: 204 while pending, then the "ready" fragment (which starts
        # the download once, see static/js/app.js).
        if not ready and document.status != PlanDocument.Status.FAILED:
            return HttpResponse(status=204)
        context = {"document": document, "poll_url": poll_url, "back_url": back_url}
        return render(request, "plans/pdf_pending.html#pdf-status", context)
    if ready:
        name = f"{document.reference}{'' if document.sealed else '-draft'}.pdf"
        return FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=name,
            content_type="application/pdf",
        )
    context = {
        "document": document,
        "poll_url": poll_url,
        "back_url": back_url,
        "base_template": base,
    }
    # 202: accepted, still being prepared; the page polls until the file is ready.
    status = 500 if document.status == PlanDocument.Status.FAILED else 202
    return render(request, "plans/pdf_pending.html", context, status=status)


@org_view
def plan_pdf(request, deal_id):
    plan = _seller_plan(request, deal_id)
    document = documents.document_for(plan)
    return _document_response(
        request, document, poll_url=request.path, back_url=plan.get_absolute_url(), base="base.html"
    )


# Buyers ---------------------------------------------------------------------------------


def _room_plan(request) -> Plan:
    # A draft is not the buyers' yet (plans/room.py).
    plan = get_object_or_404(
        Plan.objects.select_related("deal", "deal__owner").exclude(status=Plan.Status.DRAFT),
        deal=request.deal,
    )
    return plan


def _buyer_identity(request) -> str | None:
    verified = request.session.get(SESSION_CODE_VERIFIED, {}).get(str(request.deal.public_id))
    return signatures.fresh_identity_method(
        session_started_at=session_started_at(request, request.deal.public_id),
        verified_at=timezone.datetime.fromisoformat(verified) if verified else None,
    )


@buyer_view
def room_sign(request):
    """The buyer's signing page. A session older than 10 minutes needs an emailed code."""
    plan = _room_plan(request)
    signer = request.buyer if request.buyer.is_required_signer else None
    identity = _buyer_identity(request)
    form = SignForm(request.POST or None, require_password=False)
    status = 200
    if request.method == "POST":
        status = 422
        if signer is None:
            form.add_error(None, f"{request.buyer.name} is not a signer of this plan.")
            status = 403
        elif identity is None:
            form.add_error(None, "Confirm it is you with the code we email you first.")
        elif form.is_valid():
            try:
                signatures.sign_plan(
                    plan,
                    signer=signer,
                    typed_name=form.cleaned_data["typed_name"],
                    consent=form.cleaned_data["consent"],
                    seen_hash=form.cleaned_data["content_hash"],
                    ip_address=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                    auth_method=identity,
                    # The room link (and any code) proved this address; buyer_view lets in
                    # only links still addressed to the stakeholder's current email.
                    signed_from=request.room_link.email,
                )
            except signatures.SigningRefused as exc:
                form.add_error(None, str(exc))
                if isinstance(exc, signatures.ContentChanged):
                    status = 409
            else:
                messages.success(request, "You signed the plan. Thank you!")
                return redirect("room", deal_id=request.deal.public_id)
    return _room_sign_page(
        request, plan, signer=signer, identity=identity, form=form, status=status
    )


def _room_sign_page(request, plan, *, signer, identity, form, status, code_refused=""):
    # A refused code request shows the code section and why, even to a fresh session.
    needs_code = signer is not None and (identity is None or bool(code_refused))
    context = sign_context(
        plan,
        signer=signer,
        form=form,
        base_template="base_room.html",
        side="buyer",
        room_organization=request.organization,
        needs_code=needs_code,
        code_form=SigningCodeForm(),
        code_rule=signatures.CODE_RULE,
        next_code_at=signatures.next_code_at(signer) if needs_code else None,
        code_refused=code_refused,
    )
    return render(request, "plans/sign.html", context, status=status)


# Codes asked for from one client address (`client_ip`) per hour, whoever the signers are:
# each signer also gets at most one a minute and five an hour (plans.signing.signatures).
SIGNING_CODES_PER_CLIENT_PER_HOUR = 10


@require_POST
@buyer_view
def room_sign_code(request):
    """Email a signing code to the buyer (when their session is not fresh). Too soon for
    the signer, or too many from this client: nothing is sent, 429, and the page says when
    a new code can be asked for."""
    _room_plan(request)  # 404 for a draft: not the buyers' yet
    buyer = request.buyer
    if not buyer.is_required_signer:
        return HttpResponse("Only signers get a code.", status=403, content_type="text/plain")
    now = timezone.now()
    retry_at = signatures.next_code_at(buyer, now=now)
    reason = f"We send {signatures.CODE_RULE}."
    if retry_at is None:
        attempt = rate_limit(
            request, scope="signing-code", limit=SIGNING_CODES_PER_CLIENT_PER_HOUR, period=3600
        )
        if attempt.refused:
            if attempt.first_refusal:
                _record_code_lockout(request)
            retry_at = now + timedelta(seconds=attempt.retry_after)
            reason = "Too many codes were asked for from your network."
    if retry_at is None:
        try:
            signatures.send_signing_code(buyer)
        except signatures.CodeTooSoon as too_soon:  # another request of the signer just won
            retry_at = too_soon.retry_at
        except signatures.CodeNotSent as not_sent:
            return _code_refused(request, str(not_sent), status=503)
    if retry_at is not None:
        wait = max(1, math.ceil((retry_at - now).total_seconds()))
        in_words = f"{wait} seconds" if wait < 90 else f"{math.ceil(wait / 60)} minutes"
        local = timezone.localtime(retry_at)
        refused = f"{reason} You can ask for a new code at {local:%H:%M %Z} (in {in_words})."
        response = _code_refused(request, refused, status=429)
        response["Retry-After"] = str(wait)
        return response
    messages.info(request, f"We emailed a 6-digit code to {buyer.email}. It works for 10 minutes.")
    return redirect("room-sign", deal_id=request.deal.public_id)


def _code_refused(request, message: str, *, status: int):
    """The signing page again, saying why no code was sent."""
    return _room_sign_page(
        request,
        _room_plan(request),
        signer=request.buyer,
        identity=_buyer_identity(request),
        form=SignForm(require_password=False),
        status=status,
        code_refused=message,
    )


def _record_code_lockout(request) -> None:
    buyer = request.buyer
    record(
        request.organization,
        SecurityEvent.Kind.LOCKOUT,
        request=request,
        actor=buyer.name,
        actor_email=buyer.email,
        target=f"{request.deal.account_name} — {request.deal.name} / {buyer.name}",
        summary=(
            f"More than {SIGNING_CODES_PER_CLIENT_PER_HOUR} signing codes asked for in an hour "
            "from one address; refused for the rest of the hour."
        ),
        limit="signing-code",
        stakeholder=str(buyer.public_id),
    )


@require_POST
@buyer_view
def room_sign_verify(request):
    _room_plan(request)  # 404 for a draft: not the buyers' yet
    form = SigningCodeForm(request.POST)
    if form.is_valid():
        try:
            signatures.check_signing_code(request.buyer, form.cleaned_data["code"])
        except signatures.SigningRefused as exc:
            messages.error(request, str(exc))
        else:
            verified = dict(request.session.get(SESSION_CODE_VERIFIED, {}))
            verified[str(request.deal.public_id)] = timezone.now().isoformat()
            request.session[SESSION_CODE_VERIFIED] = verified
            messages.success(
                request, "Thank you, that is you. You can sign now (within 10 minutes)."
            )
    else:
        messages.error(request, "Enter the 6-digit code from the email.")
    return redirect("room-sign", deal_id=request.deal.public_id)


@require_POST
@buyer_view
def room_decline(request):
    plan = _room_plan(request)
    form = DeclineForm(request.POST)
    if not request.buyer.is_required_signer or not form.is_valid():
        messages.error(request, "Say why you decline (only signers can decline).")
        return redirect("room-sign", deal_id=request.deal.public_id)
    try:
        signatures.decline(
            plan,
            signer=request.buyer,
            reason=form.cleaned_data["reason"],
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except signatures.SigningRefused as exc:
        messages.error(request, str(exc))
        return redirect("room", deal_id=request.deal.public_id)
    messages.success(request, "You declined to sign; the seller sees your reason.")
    return redirect("room", deal_id=request.deal.public_id)


@buyer_view
def room_pdf(request):
    plan = _room_plan(request)
    document = documents.document_for(plan)
    return _document_response(
        request,
        document,
        poll_url=request.path,
        back_url=f"/room/{request.deal.public_id}/",
        base="base_room.html",
    )


# Anyone ---------------------------------------------------------------------------------


def verify(request):
    """Upload a Tandem PDF: is its seal valid, which plan and version, changed since?"""
    form = VerifyForm(request.POST or None, request.FILES or None)
    result = None
    changed_since = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            result = verify_pdf(upload.read())
            # Told only for a valid seal (see templates/plans/verify.html).
            if result.valid and result.plan is not None and result.content_hash:
                changed_since = evidence.content_hash(result.plan) != result.content_hash
        else:
            status = 422
    return render(
        request,
        "plans/verify.html",
        {"form": form, "result": result, "changed_since": changed_since},
        status=status,
    )
