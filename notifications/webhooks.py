"""Outgoing webhooks: emitting events, signing (Standard Webhooks), delivering with
retries, and the SSRF guard.

Emit an event from anywhere above notifications/ … or from a receiver here:

    from notifications.webhooks import emit, plan_payload
    emit(plan.organization, "plan.signed", plan_payload(plan, actor=actor, summary="signed"))

`emit` writes one delivery row per subscribed, active endpoint inside the current
transaction and enqueues the Celery task after commit, so a rolled-back change sends
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from deals import outbox, retries
from deals.models import Organization, User
from deals.security import Kind as SecurityKind
from deals.security import record as record_security_event
from plans.models import Milestone
from stakeholders.actors import Actor

from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# A delivery left "sending" this long (its worker died) is tried again by the sweep.
STUCK_AFTER = timedelta(minutes=10)
USER_AGENT = "Tandem-Webhooks/1.0"


class UnsafeURL(ValueError):  # noqa: N818 - reads as what the URL is
    """The URL is refused: private, loopback or link-local address, or not https."""


# Secrets and signatures (https://www.standardwebhooks.com) ----------------------------


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes, as the Standard Webhooks libraries expect."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` + base64 HMAC-SHA256 of "id.timestamp.body"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# Emitting ---------------------------------------------------------------------------------


def subscribed_endpoints(organization_id: int, event_type: str) -> list[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.filter(organization_id=organization_id, is_active=True)
    return [endpoint for endpoint in endpoints if endpoint.wants(event_type)]


def emit(organization, event_type: str, data: dict, *, occurred_at: datetime | None = None):
    """Send `event_type` with `data` to the workspace's active endpoints that want it.

    Writes a WebhookDelivery per endpoint (in the caller's transaction) and enqueues the
    delivery task after commit. Returns the deliveries (none without subscribers). `data`
    should carry `summary` (a readable sentence, used for Slack) and `url` (a link to the
    page in Tandem) next to the resources (`deal`, `plan`, `milestone`, `actor`, …).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    organization_id = getattr(organization, "pk", organization)
    endpoints = subscribed_endpoints(organization_id, event_type)
    if not endpoints:
        return []
    occurred_at = occurred_at or timezone.now()
    payload = json.loads(
        json.dumps(
            {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data},
            cls=DjangoJSONEncoder,
        )
    )
    event_id = "msg_" + uuid.uuid4().hex
    deliveries = [
        WebhookDelivery.objects.create(
            organization_id=organization_id,
            endpoint=endpoint,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
        )
        for endpoint in endpoints
    ]
    for delivery in deliveries:
        enqueue(delivery.pk)
    return deliveries


def enqueue(delivery_id: int, *, countdown: float | None = None) -> None:
    outbox.enqueue("notifications.deliver_webhook", countdown=countdown, delivery_id=delivery_id)


@transaction.atomic
def resend(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with the same event id (receivers
    that processed it already can tell). Enqueued after commit."""
    copy = WebhookDelivery.objects.create(
        organization_id=delivery.organization_id,
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
    )
    enqueue(copy.pk)
    return copy


# Endpoints, as admins manage them (each change is written to the security log) ------------


def endpoint_label(endpoint: WebhookEndpoint) -> str:
    """How the security log names an endpoint: its host and description. Never its path or
    query: a Slack incoming-webhook URL is itself the credential."""
    host = urlsplit(endpoint.url).hostname or "?"
    return f"{host} ({endpoint.description})" if endpoint.description else host


def _log_endpoint(endpoint: WebhookEndpoint, kind: str, *, summary: str, **kwargs) -> None:
    record_security_event(
        endpoint.organization_id,
        kind,
        target=endpoint_label(endpoint),
        summary=summary,
        endpoint=str(endpoint.public_id),
        **kwargs,
    )


@transaction.atomic
def create_endpoint(
    organization: Organization,
    *,
    url: str,
    kind: str,
    description: str = "",
    event_types: list[str] | None = None,
    created_by: User,
) -> WebhookEndpoint:
    """Register an endpoint with a new signing secret. Logged (webhook endpoint added).
    Not idempotent."""
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        kind=kind,
        description=description,
        event_types=list(event_types or []),
        secret=new_secret(),
        created_by=created_by,
    )
    events = ", ".join(endpoint.event_types) or "every event"
    _log_endpoint(
        endpoint,
        SecurityKind.WEBHOOK_CREATED,
        user=created_by,
        summary=f"{endpoint.get_kind_display()}; receives {events}.",
    )
    return endpoint


@transaction.atomic
def set_endpoint_active(endpoint: WebhookEndpoint, *, active: bool, actor: User) -> bool:
    """Disable an endpoint (it receives no more events) or enable it again (clearing why it
    was disabled). Logged (webhook endpoint changed). Returns False, changing and logging
    nothing, when it already is so."""
    if endpoint.is_active == active:
        return False
    if active:
        endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = True, "", None
    else:
        endpoint.is_active = False
        endpoint.disabled_reason = f"Disabled by {actor.display_name}."
        endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["is_active", "disabled_reason", "disabled_at"])
    _log_endpoint(
        endpoint,
        SecurityKind.WEBHOOK_CHANGED,
        user=actor,
        summary="Enabled." if active else "Disabled.",
        active=active,
    )
    return True


@transaction.atomic
def delete_endpoint(endpoint: WebhookEndpoint, *, actor: User) -> None:
    """Delete an endpoint with its delivery log. Logged (webhook endpoint removed)."""
    _log_endpoint(
        endpoint,
        SecurityKind.WEBHOOK_DELETED,
        user=actor,
        summary="Removed with its delivery log.",
    )
    endpoint.delete()


# Payload helpers (the same shapes as the REST API's, smaller) -----------------------------


def _url(path: str) -> str:
    return settings.SITE_URL + path


def deal_payload(deal) -> dict:
    return {
        "id": str(deal.public_id),
        "account_name": deal.account_name,
        "name": deal.name,
        "stage": deal.stage,
        "amount": str(deal.amount),
        "currency": deal.currency,
        "owner": {"id": str(deal.owner.public_id), "name": deal.owner.display_name},
        "target_close_date": deal.target_close_date.isoformat(),
        "url": _url(deal.get_absolute_url()),
    }


def actor_payload(actor) -> dict | None:
    if actor is None:
        return None
    return {"name": actor.name, "side": actor.side}


def stakeholder_payload(stakeholder) -> dict:
    return {
        "id": str(stakeholder.public_id),
        "name": stakeholder.name,
        "title": stakeholder.title,
        "email": stakeholder.email,
        "role": stakeholder.role,
        "side": stakeholder.side,
    }


def milestone_payload(milestone) -> dict:
    return {
        "id": str(milestone.public_id),
        "title": milestone.title,
        "phase": milestone.phase,
        "status": milestone.status,
        "due_date": milestone.due_date.isoformat() if milestone.due_date else None,
        "baseline_date": milestone.baseline_date.isoformat() if milestone.baseline_date else None,
        "visibility": milestone.visibility,
        "version": milestone.version,
    }


def resource_payload(resource) -> dict:
    """A plan's resource (plans/materials.py): never a download address (files are served
    only through the app, to people with access)."""
    current = resource.current
    return {
        "id": str(resource.public_id),
        "title": resource.title,
        "kind": resource.kind,
        "section": resource.section.title,
        "visibility": resource.visibility,
        "url": resource.url or None,
        "file": (
            {
                "name": current.original_name,
                "content_type": current.content_type,
                "size": current.size,
                "version": current.number,
            }
            if current is not None
            else None
        ),
        "added_by": {"name": resource.added_by_name, "side": resource.side},
    }


def view_payload(view) -> dict:
    return {
        "id": str(view.public_id),
        "kind": view.kind,
        "started_at": view.started_at.isoformat(),
        "shared_by_link": view.share_link_id is not None,
    }


def plan_payload(plan, *, actor=None, summary: str = "", milestone=None, **extra) -> dict:
    """The `data` of a plan event: deal, plan, optional milestone, actor, summary, url."""
    deal = plan.deal
    data = {
        "summary": summary,
        "url": _url(plan.get_absolute_url()),
        "actor": actor_payload(actor),
        "deal": deal_payload(deal),
        "plan": {
            "id": str(plan.public_id),
            "status": plan.status,
            "target_signature_date": plan.target_signature_date.isoformat(),
            "version": plan.version,
            "signed_version": plan.signed_version,
            "signed_at": plan.signed_at.isoformat() if plan.signed_at else None,
        },
    }
    if milestone is not None:
        data["milestone"] = milestone_payload(milestone)
    data.update(extra)
    return data


def slack_message(delivery: WebhookDelivery) -> dict:
    """A readable Slack message: who did what on which deal, and a link to it."""
    data = delivery.payload.get("data", {})
    deal = data.get("deal") or {}
    title = " — ".join(part for part in (deal.get("account_name"), deal.get("name")) if part)
    summary = data.get("summary") or EVENT_TYPES.get(delivery.event_type, delivery.event_type)
    text = f"*{title}*: {summary}" if title else summary
    if url := data.get("url"):
        text += f"\n<{url}|Open in Tandem>"
    return {"text": text}


# SSRF guard -------------------------------------------------------------------------------


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> None:
    """Refuse, before any DNS lookup, what is never a valid endpoint: another scheme than
    https (http too when private addresses are allowed for local testing), credentials in
    the URL, and hosts that are private, loopback or link-local addresses by themselves."""
    parts = urlsplit(url)
    allowed = {"https", "http"} if settings.WEBHOOKS_ALLOW_PRIVATE else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeURL("Use an https:// address.")
    if not parts.hostname:
        raise UnsafeURL("The address has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no user name or password in the address.")
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise UnsafeURL("This address is on a private network.")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return
    if not _is_public(str(literal)):
        raise UnsafeURL("This address is private, loopback or link-local.")


def resolve(host: str, port: int) -> str:
    """The address to connect to. Every address the name resolves to must be public
    (unless WEBHOOKS_ALLOW_PRIVATE), and we then connect to the one we checked, so a
    second lookup (DNS rebinding) cannot send us elsewhere."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"Could not resolve {host}: {exc.strerror or exc}") from None
    addresses = [info[4][0] for info in infos]
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        for address in addresses:
            if not _is_public(address):
                raise UnsafeURL(f"{host} resolves to a private, loopback or link-local address.")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, address: str, **kwargs):
        self.tls_context = ssl.create_default_context()
        super().__init__(*args, context=self.tls_context, **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict, *, timeout: float) -> tuple[int, bytes]:
    """POST without following redirects; returns the status and the start of the body.
    Raises UnsafeURL (refused), OSError (network, timeout) or http.client.HTTPException."""
    check_url(url)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    address = resolve(parts.hostname, port)
    connection_class = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    connection = connection_class(parts.hostname, port, timeout=timeout, address=address)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(2048)
    finally:
        connection.close()


# Delivering -------------------------------------------------------------------------------


def request_of(delivery: WebhookDelivery, *, now: int | None = None) -> tuple[bytes, dict]:
    """The body and headers of an attempt (Standard Webhooks headers on every kind)."""
    endpoint = delivery.endpoint
    if endpoint.kind == WebhookEndpoint.Kind.SLACK:
        document = slack_message(delivery)
    else:
        document = delivery.payload
    body = json.dumps(document, separators=(",", ":")).encode()
    timestamp = int(now if now is not None else time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            endpoint.secret, msg_id=delivery.event_id, timestamp=timestamp, body=body
        ),
    }
    return body, headers


def _describe(exc: Exception, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"Timed out after {timeout:g} s."
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused."
    return (str(exc) or exc.__class__.__name__)[:500]


def attempt_delivery(delivery_id: int) -> float | None:
    """Make one attempt of a delivery that is due, and record its result.

    The attempt is claimed with a conditional UPDATE, so a retry task and the sweep cannot
    both send it. 2xx: delivered. 410 Gone: failed, and the endpoint is disabled. Anything
    else (other status, timeout, network error): retried with exponential backoff, up to
    retries.MAX_ATTEMPTS (deals/retries.py). Returns the seconds until the next attempt, or
    None when there is none.
    """
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
        )
        .filter(Q(next_retry_at=None) | Q(next_retry_at__lte=now))
        .update(
            status=WebhookDelivery.Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if claimed != 1:
        return None  # already sent, not due yet, or claimed by another worker
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _finish(delivery, status=WebhookDelivery.Status.FAILED, error="The endpoint is disabled.")
        return None
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    body, headers = request_of(delivery)
    started = time.monotonic()
    code, excerpt, error, permanent = None, b"", "", False
    try:
        code, excerpt = post(endpoint.url, body, headers, timeout=timeout)
    except UnsafeURL as exc:
        error, permanent = str(exc), True
    except (OSError, http.client.HTTPException) as exc:
        error = _describe(exc, timeout)
    duration_ms = int((time.monotonic() - started) * 1000)
    fields = {
        "response_code": code,
        "response_excerpt": excerpt.decode("utf-8", "replace")[:500],
        "duration_ms": duration_ms,
    }
    if code is not None and 200 <= code < 300:
        _finish(delivery, status=WebhookDelivery.Status.SUCCEEDED, delivered_at=now, **fields)
        return None
    if code == 410:
        reason = "The endpoint answered 410 Gone: it asked to receive no more events."
        with transaction.atomic():
            disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
                is_active=False, disabled_reason=reason, disabled_at=now
            )
            if disabled:
                _log_endpoint(
                    endpoint,
                    SecurityKind.WEBHOOK_CHANGED,
                    actor="Tandem",
                    summary=f"Disabled: {reason}",
                    active=False,
                )
        _finish(delivery, status=WebhookDelivery.Status.FAILED, error=reason, **fields)
        return None
    error = error or f"The endpoint answered HTTP {code}."
    delay = None if permanent else retries.delay_after(delivery.attempts)
    if delay is None:
        _finish(delivery, status=WebhookDelivery.Status.FAILED, error=error, **fields)
        return None
    _finish(
        delivery,
        status=WebhookDelivery.Status.RETRYING,
        error=error,
        next_retry_at=now + timedelta(seconds=delay),
        **fields,
    )
    logger.info("Webhook %s: attempt %s failed (%s)", delivery.pk, delivery.attempts, error)
    return delay


def _finish(delivery: WebhookDelivery, **fields) -> None:
    fields.setdefault("next_retry_at", None)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def due_delivery_ids(now: datetime | None = None, *, limit: int = 500) -> list[int]:
    """Deliveries waiting for an attempt that is due, and ones stuck in "sending" (their
    worker died), which are put back to "retrying". Cross-organization on purpose: this is
    the retry sweep."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(status=WebhookDelivery.Status.RETRYING, next_retry_at=now)
    waiting = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]
    ).filter(Q(next_retry_at=None) | Q(next_retry_at__lte=now))
    return list(waiting.order_by("next_retry_at", "pk").values_list("pk", flat=True)[:limit])


def announce_overdue(now: datetime | None = None) -> int:
    """Emit `milestone.overdue` once per step and due date, for the workspaces that listen.

    Set-based: one query finds the listening workspaces; per workspace, one query finds its
    steps due before today (in its time zone) not yet announced for that date. Idempotent:
    the step remembers the date it was announced for (a claim by conditional UPDATE, so two
    sweeps at once announce a step once).
    """

    # Cross-organization on purpose: this is the reminder sweep.
    now = now or timezone.now()
    listening = {
        endpoint.organization
        for endpoint in WebhookEndpoint.objects.filter(is_active=True).select_related(
            "organization"
        )
        if endpoint.wants("milestone.overdue")
    }
    announced = 0
    for organization in listening:
        today = now.astimezone(ZoneInfo(organization.time_zone)).date()
        due = (
            Milestone.objects.for_org(organization)
            .overdue(today)
            .filter(plan__archived_at=None)
            .filter(Q(overdue_announced_for=None) | ~Q(overdue_announced_for=F("due_date")))
            .select_related(
                "plan", "plan__deal", "plan__deal__owner", "buyer_owner", "seller_owner"
            )
        )
        for milestone in due:
            with transaction.atomic():
                claimed = (
                    Milestone.objects.filter(pk=milestone.pk)
                    .filter(
                        Q(overdue_announced_for=None) | ~Q(overdue_announced_for=milestone.due_date)
                    )
                    .update(overdue_announced_for=milestone.due_date)
                )
                if not claimed:
                    continue
                days = (today - milestone.due_date).days
                late = f"{days} day{'s' if days != 1 else ''}"
                data = plan_payload(
                    milestone.plan,
                    actor=Actor.system(),
                    summary=f"“{milestone.title}” is overdue ({late}).",
                    milestone=milestone,
                )
                emit(organization.pk, "milestone.overdue", data, occurred_at=now)
                announced += 1
    return announced
