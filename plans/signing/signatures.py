"""The signature ritual: requests, signing, declining, signing codes and signer identity.

What is signed, and the hash-chained log of who signed it, are plans.evidence; the signed →
amended transition happens where content changes (plans.services.bump_version).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from deals.emails import SEND_ERRORS, send_after_commit, send_email
from deals.models import SecurityEvent
from plans import signals
from plans.evidence import append_event, content_hash
from plans.models import Activity, Plan, SignatureEvent, SigningCode
from plans.services import record_activity, share_plan
from stakeholders import access
from stakeholders.actors import Actor
from stakeholders.models import Side, Stakeholder
from stakeholders.services import issue_room_link, log_security_event

from . import documents

FRESH_IDENTITY = timedelta(minutes=10)
CODE_LIFETIME = timedelta(minutes=10)
CODE_TRIES = 5


ARCHIVED = "This plan is archived: it can no longer be signed or declined."


class SigningRefused(Exception):  # noqa: N818 - reads as the outcome
    """Signing is not possible; the message says why. Nothing was recorded."""


class ContentChanged(SigningRefused):
    """The plan changed while the signer was reading it."""


# Who signs what -------------------------------------------------------------------------


def required_signers(plan: Plan) -> list[Stakeholder]:
    return list(
        Stakeholder.objects.filter(deal_id=plan.deal_id, is_required_signer=True).order_by(
            "side", "name"
        )
    )


@dataclass
class SignerStatus:
    stakeholder: Stakeholder
    asked_at: object = None
    requested_email: str = ""  # where the outstanding request was sent
    signed: SignatureEvent | None = None  # for the current content
    declined: SignatureEvent | None = None
    earlier: SignatureEvent | None = None  # a signature of an older version
    # The signer's email changed (or was changed back) after they signed: the signature
    # stays on the record of the version it signed, under the address it was given from.
    identity_changed: SignatureEvent | None = None


def signature_block(
    plan: Plan, *, current_hash: str | None = None, stakeholders=None
) -> list[SignerStatus]:
    """Each required signer: when asked, whether they signed the current content (or an
    older version), or declined. One query when the hash and stakeholders are given."""
    current_hash = current_hash or content_hash(plan)
    if stakeholders is None:
        signers = required_signers(plan)
    else:
        signers = sorted(
            (s for s in stakeholders if s.is_required_signer), key=lambda s: (s.side, s.name)
        )
    statuses = {s.pk: SignerStatus(s) for s in signers}
    for event in SignatureEvent.objects.filter(plan=plan).order_by("sequence"):
        status = statuses.get(event.signer_id)
        if status is None:
            continue
        if event.kind == SignatureEvent.Kind.REQUESTED:
            status.asked_at, status.requested_email = event.created_at, event.signer_email
            status.declined = None
        elif event.kind == SignatureEvent.Kind.SIGNED:
            status.identity_changed = None
            if event.content_hash == current_hash:
                status.signed, status.declined = event, None
            else:
                status.earlier = event
        elif event.kind == SignatureEvent.Kind.DECLINED and event.content_hash == current_hash:
            status.declined = event
        elif event.kind == SignatureEvent.Kind.IDENTITY_CHANGED:
            # Whatever was asked of the old address is void.
            status.asked_at, status.requested_email, status.declined = None, "", None
            if status.signed or status.earlier:
                status.identity_changed = event
    return list(statuses.values())


def normalize_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s.\-']+", " ", letters).strip().casefold()


def names_match(typed: str, expected: str) -> bool:
    return bool(typed.strip()) and normalize_name(typed) == normalize_name(expected)


# Workflows ------------------------------------------------------------------------------


@transaction.atomic
def request_signatures(plan: Plan, *, actor: Actor) -> list[Stakeholder]:
    """Ask every required signer to sign the current content: one "requested" event each,
    and an email after commit (buyers with a fresh room link, sellers with the plan's sign
    page). Refused without a buyer and a seller signer."""
    signers = required_signers(plan)
    if not any(s.side == Side.BUYER for s in signers) or not any(
        s.side == Side.SELLER for s in signers
    ):
        raise SigningRefused(
            "A plan needs at least one required signer on each side (by default the economic "
            "buyer and the AE): mark them in the stakeholder panel."
        )
    missing = [s.name for s in signers if not s.email]
    if missing:
        raise SigningRefused(f"Add an email address for {', '.join(missing)} first.")
    digest = content_hash(plan)
    statuses = {s.stakeholder.pk: s for s in signature_block(plan, current_hash=digest)}
    asked = []
    for signer in signers:
        if statuses[signer.pk].signed:
            continue  # already signed this content
        append_event(
            plan,
            kind=SignatureEvent.Kind.REQUESTED,
            signer=signer,
            signer_name=signer.name,
            signer_email=signer.email,
            signer_role=signer.role_label,
            signer_side=signer.side,
            plan_version=plan.version,
            content_hash=digest,
            actor_name=actor.name,
        )
        _email_request(plan, signer, actor)
        log_security_event(
            signer,
            SecurityEvent.Kind.SIGNATURES_REQUESTED,
            actor=actor,
            summary=f"asked {signer.name} <{signer.email}> to sign version {plan.version}",
            email=signer.email,
            plan_version=plan.version,
        )
        asked.append(signer)

    # Asking the buyer to sign shares a draft plan with them (recorded as such).
    share_plan(plan, actor=actor)
    if asked:
        record_activity(
            plan,
            actor=actor,
            verb=Activity.Verb.SIGNATURES_REQUESTED,
            summary=f"sent the plan (version {plan.version}) for signature to "
            + ", ".join(s.name for s in asked),
        )
    return asked


def _email_request(plan: Plan, signer: Stakeholder, actor: Actor) -> None:
    deal = plan.deal
    if signer.side == Side.BUYER:
        _, token = issue_room_link(signer, purpose="signature request")
        url = access.room_url(token)
    else:
        url = settings.SITE_URL + reverse(
            "plans:plan-sign",
            kwargs={"org_slug": deal.organization.slug, "deal_id": deal.public_id},
        )
    context = {
        "plan": plan,
        "deal": deal,
        "signer": signer,
        "actor": actor.name,
        "url": url,
        "organization": deal.organization,
        "accent": deal.organization.accent_color,
    }
    send_after_commit("signature-request", context, to=[signer.email])


def fresh_identity_method(*, session_started_at, verified_at, now=None) -> str | None:
    """How a buyer proved who they are within the last 10 minutes, or None."""
    now = now or timezone.now()
    if verified_at and now - verified_at <= FRESH_IDENTITY:
        return "email code"
    if session_started_at and now - session_started_at <= FRESH_IDENTITY:
        return "fresh room link"
    return None


@transaction.atomic
def sign_plan(
    plan: Plan,
    *,
    signer: Stakeholder,
    typed_name: str,
    consent: bool,
    seen_hash: str,
    ip_address: str | None,
    user_agent: str,
    auth_method: str,
    signed_from: str | None = None,
) -> SignatureEvent:
    """Record a signature of the current content. Refused (SigningRefused, nothing recorded)
    for a non-signer, a mismatched name, missing consent, a second signature of the same
    content, or content that changed since the signer read it (ContentChanged).

    `signed_from` is the address the signer proved to hold (the room link's or the code's
    address; a seller's account): a buyer's must be their current address. The event keeps
    it with the address the outstanding request was sent to. None: the signer's current
    address (demo data, tests).

    When every required signer has signed the current content, the plan becomes signed
    (both sides are told; the sealed PDF is prepared after commit)."""
    plan = (
        Plan.objects.select_for_update(no_key=True, of=("self",))
        .select_related("deal", "deal__owner")
        .get(pk=plan.pk)
    )
    signer = (
        Stakeholder.objects.select_for_update(no_key=True).filter(pk=signer.pk).first() or signer
    )
    if plan.is_archived:
        raise SigningRefused(ARCHIVED)
    if not signer.is_required_signer or signer.deal_id != plan.deal_id:
        raise SigningRefused(f"{signer.name} is not a signer of this plan.")
    signed_from = signer.email if signed_from is None else signed_from
    if signer.side == Side.BUYER and signed_from.casefold() != signer.email.casefold():
        raise SigningRefused(
            "This link was sent to an address that is no longer yours on this plan: ask the "
            "seller for a new link."
        )
    if not consent:
        raise SigningRefused("Tick the box to agree to sign this plan electronically.")
    if not names_match(typed_name, signer.name):
        raise SigningRefused(f"Type your full name exactly as “{signer.name}” to sign.")
    digest = content_hash(plan)
    if seen_hash != digest:
        raise ContentChanged(
            "The plan changed while you were reading it. Read the current version below, then "
            "sign it."
        )
    statuses = {s.stakeholder.pk: s for s in signature_block(plan, current_hash=digest)}
    if statuses[signer.pk].signed:
        raise SigningRefused("You have already signed this version of the plan.")
    event = append_event(
        plan,
        kind=SignatureEvent.Kind.SIGNED,
        signer=signer,
        signer_name=signer.name,
        typed_name=typed_name.strip(),
        signer_email=signed_from,
        requested_email=statuses[signer.pk].requested_email,
        signer_role=signer.role_label,
        signer_side=signer.side,
        plan_version=plan.version,
        content_hash=digest,
        ip_address=ip_address,
        user_agent=user_agent[:400],
        auth_method=auth_method,
    )
    actor = Actor.buyer(signer) if signer.side == Side.BUYER else Actor(signer.name, Side.SELLER)
    log_security_event(
        signer,
        SecurityEvent.Kind.SIGNED,
        actor=actor,
        summary=f"{signer.name} signed version {plan.version} from {signed_from} ({auth_method})",
        email=signed_from,
        requested_email=statuses[signer.pk].requested_email,
        plan_version=plan.version,
        content_hash=digest,
    )

    record_activity(
        plan,
        actor=actor,
        verb=Activity.Verb.SIGNED,
        summary=f"signed version {plan.version} of the plan",
    )
    statuses[signer.pk].signed = event
    if all(status.signed for status in statuses.values()):
        _complete(plan, digest, actor)
    return event


def _complete(plan: Plan, digest: str, actor: Actor) -> None:
    plan.status = Plan.Status.SIGNED
    plan.signed_version = plan.version
    plan.signed_content_hash = digest
    plan.signed_at = timezone.now()
    plan.save(
        update_fields=["status", "signed_version", "signed_content_hash", "signed_at", "updated_at"]
    )

    record_activity(
        plan,
        actor=Actor.system(),
        verb=Activity.Verb.PLAN_SIGNED,
        summary=f"Every required signer signed version {plan.version}: the plan is signed",
    )
    signals.plan_signed.send(sender=Plan, plan=plan)
    people = [s for s in required_signers(plan) if s.email]
    emails = sorted({s.email for s in people} | {plan.deal.owner.email})
    context = {
        "plan": plan,
        "deal": plan.deal,
        "organization": plan.deal.organization,
        "accent": plan.deal.organization.accent_color,
        "signers": people,
    }
    send_after_commit("plan-signed", context, to=emails)
    transaction.on_commit(partial(documents.prepare_document, plan_id=plan.pk))


@transaction.atomic
def decline(
    plan: Plan, *, signer: Stakeholder, reason: str, ip_address, user_agent
) -> SignatureEvent:
    """A signer declines to sign, with a reason the seller sees."""
    if plan.is_archived:
        raise SigningRefused(ARCHIVED)
    if not signer.is_required_signer or signer.deal_id != plan.deal_id:
        raise SigningRefused(f"{signer.name} is not a signer of this plan.")
    if not reason.strip():
        raise SigningRefused("Say why you decline, so the seller can act on it.")
    event = append_event(
        plan,
        kind=SignatureEvent.Kind.DECLINED,
        signer=signer,
        signer_name=signer.name,
        signer_email=signer.email,
        signer_role=signer.role_label,
        signer_side=signer.side,
        plan_version=plan.version,
        content_hash=content_hash(plan),
        ip_address=ip_address,
        user_agent=user_agent[:400],
        reason=reason.strip(),
    )

    actor = Actor.buyer(signer) if signer.side == Side.BUYER else Actor(signer.name, Side.SELLER)
    log_security_event(
        signer,
        SecurityEvent.Kind.SIGNATURE_DECLINED,
        actor=actor,
        summary=f"{signer.name} declined to sign version {plan.version}",
        plan_version=plan.version,
    )
    record_activity(
        plan,
        actor=actor,
        verb=Activity.Verb.DECLINED,
        summary=f"declined to sign: {reason.strip()}",
    )
    return event


# Signing codes for buyers ---------------------------------------------------------------


def _code_hash(code: str, stakeholder: Stakeholder) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{stakeholder.pk}:{code}".encode(), hashlib.sha256).hexdigest()


# Issuing codes: at most one a minute and five an hour per signer, counted from the codes
# themselves (rows survive a Redis outage); the view adds a limit per client address.
CODE_EVERY = timedelta(minutes=1)
CODES_PER_HOUR = 5
CODE_RULE = "one code a minute, five an hour"


class CodeNotSent(SigningRefused):
    """The code's email could not be sent; nothing was recorded."""


class CodeTooSoon(SigningRefused):
    """No new code yet (nothing was sent); `retry_at` is when one can be asked for."""

    def __init__(self, *, retry_at):
        super().__init__(f"We send {CODE_RULE}: it is too soon for a new code.")
        self.retry_at = retry_at


def next_code_at(stakeholder: Stakeholder, *, now=None):
    """When a new code may be sent to this signer: None for now, else the moment."""
    now = now or timezone.now()
    recent = list(
        SigningCode.objects.filter(stakeholder=stakeholder, created_at__gt=now - timedelta(hours=1))
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:CODES_PER_HOUR]
    )
    waits = []
    if recent and recent[0] + CODE_EVERY > now:
        waits.append(recent[0] + CODE_EVERY)
    if len(recent) >= CODES_PER_HOUR:
        waits.append(recent[-1] + timedelta(hours=1))
    return max(waits, default=None)


@transaction.atomic
def send_signing_code(stakeholder: Stakeholder) -> None:
    """Email a fresh 6-digit code (10 minutes, 5 tries); earlier codes stop working.
    CodeTooSoon, with nothing changed or sent, within a minute of the signer's last code or
    after five in the last hour (`next_code_at`); CodeNotSent, with nothing changed, when
    the mail server refuses it or does not answer."""
    # One request of a signer at a time: two at once must not both find the minute free.
    Stakeholder.objects.select_for_update(no_key=True).filter(pk=stakeholder.pk).first()
    now = timezone.now()
    if (retry_at := next_code_at(stakeholder, now=now)) is not None:
        raise CodeTooSoon(retry_at=retry_at)
    SigningCode.objects.filter(stakeholder=stakeholder, used_at=None, burned_at=None).update(
        burned_at=now
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    SigningCode.objects.create(
        organization_id=stakeholder.organization_id,
        stakeholder=stakeholder,
        code_hash=_code_hash(code, stakeholder),
        email=stakeholder.email,
        expires_at=now + CODE_LIFETIME,
    )
    log_security_event(
        stakeholder,
        SecurityEvent.Kind.SIGNING_CODE_SENT,
        actor=Actor.buyer(stakeholder),
        summary=f"signing code sent to {stakeholder.email}",
        email=stakeholder.email,
    )
    context = {
        "code": code,
        "stakeholder": stakeholder,
        "deal": stakeholder.deal,
        "organization": stakeholder.deal.organization,
    }
    # Sent before the commit: a mail server that does not answer rolls the code back, with
    # its log line, and the signer may ask again at once (an email whose code was then not
    # committed would only hold a code that does not work).
    try:
        send_email("signing-code", context, to=[stakeholder.email])
    except SEND_ERRORS as exc:
        raise CodeNotSent(
            "We could not email your code: the mail server did not answer. "
            "Ask for a new code in a moment."
        ) from exc


def check_signing_code(stakeholder: Stakeholder, code: str) -> None:
    """Accept the current code once; 5 wrong tries burn it. SigningRefused otherwise.
    Wrong tries are counted even though the call fails (the count is committed first)."""
    now = timezone.now()
    problem = None
    with transaction.atomic():
        current = (
            SigningCode.objects.select_for_update(no_key=True)
            .filter(stakeholder=stakeholder, used_at=None, burned_at=None)
            .order_by("-created_at")
            .first()
        )
        if current is not None and current.email.casefold() != stakeholder.email.casefold():
            current = None  # sent to an address that is no longer the signer's
        if current is None or current.expires_at <= now:
            problem = "This code has expired or was already used: ask for a new one."
        elif not hmac.compare_digest(current.code_hash, _code_hash(code.strip(), stakeholder)):
            current.attempts += 1
            if current.attempts >= CODE_TRIES:
                current.burned_at = now
                problem = "Too many wrong codes: this one no longer works. Ask for a new one."
            else:
                problem = f"That code is not right ({CODE_TRIES - current.attempts} tries left)."
            current.save(update_fields=["attempts", "burned_at"])
        else:
            current.used_at = now
            current.save(update_fields=["used_at"])
    if problem:
        # Recorded after the tries were counted, outside their transaction: a failed code
        # is logged even though the caller's request fails.
        log_security_event(
            stakeholder,
            SecurityEvent.Kind.SIGNING_CODE_FAILED,
            actor=Actor.buyer(stakeholder),
            summary=problem,
        )
        raise SigningRefused(problem)


# Identity --------------------------------------------------------------------------------


def void_signer_identity(
    sender,
    *,
    stakeholder: Stakeholder,
    actor: Actor,
    old_email: str,
    new_email: str,
    removed: bool,
    **kwargs,
):
    """A stakeholder's address changed, or they are being removed (receiver of
    `identity_changed`; their room links are revoked already). Their unused signing codes
    stop working; for a signer (or anyone in the signature log) the chain records the change
    (old and new address, who), which voids outstanding signing requests; the plan's feed
    records an address change. Signatures already given stay as they are."""
    SigningCode.objects.filter(stakeholder=stakeholder, used_at=None, burned_at=None).update(
        burned_at=timezone.now()
    )
    plan = Plan.objects.select_related("deal").filter(deal_id=stakeholder.deal_id).first()
    if plan is None:
        return
    if (
        stakeholder.is_required_signer
        or SignatureEvent.objects.filter(plan=plan, signer=stakeholder).exists()
    ):
        append_event(
            plan,
            kind=SignatureEvent.Kind.REMOVED if removed else SignatureEvent.Kind.IDENTITY_CHANGED,
            signer=stakeholder,
            signer_name=stakeholder.name,
            signer_email=new_email,
            previous_email=old_email,
            signer_role=stakeholder.role_label,
            signer_side=stakeholder.side,
            plan_version=plan.version,
            content_hash=content_hash(plan),
            actor_name=actor.name,
        )
    if not removed:
        record_activity(
            plan,
            actor=actor,
            verb=Activity.Verb.EMAIL_CHANGED,
            summary=f"changed the email address of {stakeholder.name} from "
            f"{old_email or '(none)'} to {new_email}",
            stakeholder=stakeholder,
        )
