"""Who is the client, and the workspace's security log.

`client_ip(request)` is the one answer to "which address is this request from": rate limits
(room links, unsubscribe links, signing codes, sign-in) and the records of signatures and
security events all use it. Behind a reverse proxy every request comes from the proxy's
address; `X-Forwarded-For` names the client, but any client can write that header too, so
it is believed only when the peer is one of `TRUSTED_PROXIES`, and only for the hops added
by trusted proxies (read from the right).
"""

from __future__ import annotations

import ipaddress
import logging
from contextvars import ContextVar
from functools import lru_cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

from .models import Organization, SecurityEvent, User

logger = logging.getLogger(__name__)

Kind = SecurityEvent.Kind


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parse(address: str):
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The client's IP address: REMOTE_ADDR, unless the peer is a trusted proxy; then the
    right-most address of X-Forwarded-For that is not itself a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR") or None
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(_parse(remote or ""), networks):
        return remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    client = remote
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # Garbage in the header: the last address we could trust is the answer.
            break
        client = str(address)
        if not _trusted(address, networks):
            break
    return client


# The request being served, so that services (which take no request) log the client's
# address and user agent with their security events. Set by RequestContextMiddleware.
_current_request: ContextVar = ContextVar("tandem_current_request", default=None)


class RequestContextMiddleware:
    """Make the current request known to `record` for the duration of the request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)

    async def _acall(self, request):
        token = _current_request.set(request)
        try:
            return await self.get_response(request)
        finally:
            _current_request.reset(token)


def record(
    organization: Organization | int,
    kind: str,
    *,
    request=None,
    user: User | None = None,
    actor: str = "",
    actor_email: str = "",
    target: str = "",
    summary: str = "",
    **details,
) -> SecurityEvent:
    """Append one entry to the workspace's security log. With a request (given, or the one
    being served), the client's address and user agent are recorded, and its signed-in user
    is the actor unless one is given. Writes in the caller's transaction (an event is
    logged if and only if it happened)."""
    if request is None:
        request = _current_request.get()
    if request is not None and user is None and not actor:
        request_user = getattr(request, "user", None)
        if request_user is not None and request_user.is_authenticated:
            user = request_user
    if user is not None:
        actor = actor or user.display_name
        actor_email = actor_email or user.email
    organization_id = organization if isinstance(organization, int) else organization.pk
    return SecurityEvent.objects.create(
        organization_id=organization_id,
        kind=kind,
        user=user,
        actor=actor[:200],
        actor_email=actor_email[:254],
        ip_address=client_ip(request) if request is not None else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:400],
        target=target[:300],
        summary=summary[:500],
        details=details,
    )


def record_for_user(user: User, kind: str, **kwargs) -> list[SecurityEvent]:
    """The same event in every workspace the user belongs to (sign-ins, password resets)."""
    organization_ids = list(user.memberships.values_list("organization_id", flat=True))
    return [record(org_id, kind, user=user, **kwargs) for org_id in organization_ids]
