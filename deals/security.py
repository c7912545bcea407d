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
import math
import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.cache import cache

from config.cache import UNAVAILABLE

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


def current_request():
    """The request being served in this context, or None (a task, a command)."""
    return _current_request.get()


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


# An IPv6 client usually holds a whole /64 and can pick a new address in it for every
# request: its addresses share one bucket (allauth's RATE_LIMIT_IPV6_PREFIX does the same).
IPV6_BUCKET_PREFIX = 64


@dataclass(frozen=True)
class Attempt:
    """One attempt of a client, counted in a rate-limit scope."""

    count: int  # 0 when it could not be counted (the cache is down)
    limit: int
    period: int  # seconds
    retry_after: int  # seconds until the client's window closes (when refused)

    @property
    def refused(self) -> bool:
        return self.count > self.limit

    @property
    def first_refusal(self) -> bool:
        """The attempt that went over the limit: the one worth a security-log entry (once
        per client and window, not once per refused request)."""
        return self.count == self.limit + 1


def _bucket(ip: str | None) -> str:
    address = _parse(ip or "")
    if address is None:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_BUCKET_PREFIX}", strict=False))
    return str(address)


def address_block(ip: str | None) -> str:
    """The client's address as rate limits and API keys' known addresses count it: an IPv4
    address, or the /64 block of an IPv6 one."""
    return _bucket(ip)


def rate_limit(request, *, scope: str, limit: int, period: int = 60) -> Attempt:
    """Count one attempt of this request's client (`client_ip`) in `scope`: more than
    `limit` in a window of `period` seconds, opened by the client's first attempt, are
    refused. A cache that cannot be reached counts nothing and refuses nothing: the limits
    slow guessing down, they are not what keeps a door shut (tokens are long and random,
    signing codes are also limited in the database)."""
    key = f"ratelimit:{scope}:{_bucket(client_ip(request))}"
    now = time.time()
    try:
        cache.add(key, 0, timeout=period)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=period)
            count = 1
    except UNAVAILABLE:
        logger.warning("rate limit %s: cache unreachable, not counted", scope)
        return Attempt(count=0, limit=limit, period=period, retry_after=0)
    # When the window opened is kept beside the count (written once per window, read only
    # on refusals), so that a refusal can say when the client may try again.
    if count == 1:
        cache.set(f"{key}:opened", now, timeout=period)
    retry_after = period
    if count > limit and (opened := cache.get(f"{key}:opened")) is not None:
        retry_after = min(period, max(1, math.ceil(opened + period - now)))
    return Attempt(count=count, limit=limit, period=period, retry_after=retry_after)


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
