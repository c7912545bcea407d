"""Buyer access: magic links to one deal room, and the buyer sessions they start.

A link is a random 256-bit token; only its SHA-256 is stored. Opening a link (GET) changes
nothing — mail scanners prefetch links — and only the POST of its landing page starts a
session. Sessions remember which room they may enter, in Django's session (HttpOnly,
SameSite=Lax, Secure in production); a revoked or expired link ends its sessions at their
next request.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from config.cache import UNAVAILABLE
from deals.models import hash_token
from deals.security import client_ip
from deals.tenancy import SESSION_ROOMS

from .models import RoomLink, RoomVisit, Stakeholder
from .signals import stakeholder_written

logger = logging.getLogger(__name__)

# A visit counts again after this much inactivity; "last seen" is written at most this often.
VISIT_IDLE = timedelta(minutes=30)
LAST_SEEN_EVERY = timedelta(minutes=1)


class LinkInvalid(Exception):  # noqa: N818 - reads as the state it reports
    """A link that cannot be used. `status` is 410 for expired/revoked, 404 otherwise."""

    def __init__(self, *, status: int, link: RoomLink | None = None):
        super().__init__("This link is no longer valid.")
        self.status = status
        self.link = link


def new_token() -> str:
    return secrets.token_urlsafe(32)


def room_url(token: str) -> str:
    return settings.SITE_URL + reverse("room-link", kwargs={"token": token})


def find_link(token: str) -> RoomLink:
    """The usable link of `token`, or LinkInvalid. Malformed and unknown look the same."""
    if not (20 <= len(token) <= 100) or not token.replace("-", "").replace("_", "").isalnum():
        raise LinkInvalid(status=404)
    link = (
        RoomLink.objects.select_related(
            "stakeholder", "stakeholder__deal", "stakeholder__deal__owner", "organization"
        )
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None:
        raise LinkInvalid(status=404)
    if not link.is_usable():
        raise LinkInvalid(status=410, link=link)
    return link


def rate_limited(request, *, scope: str, limit: int, period: int = 60) -> bool:
    """Count one attempt of this client IP in `scope`; True when over `limit` per `period`."""
    ip = client_ip(request) or "unknown"
    # The window opens with the first attempt and lasts `period` seconds.
    key = f"ratelimit:{scope}:{ip}"
    cache.add(key, 0, timeout=period)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period)
        count = 1
    except UNAVAILABLE:  # Redis is down: let buyers in (links are long random tokens)
        logger.warning("rate limit %s: cache unreachable, not counted", scope)
        return False
    return count > limit


def start_buyer_session(request, link: RoomLink) -> RoomVisit:
    """Let this browser into the link's room; record the visit and first use."""
    now = timezone.now()
    stakeholder = link.stakeholder
    visit = RoomVisit.objects.create(
        organization_id=link.organization_id, stakeholder=stakeholder, link=link
    )
    RoomLink.objects.filter(pk=link.pk, first_used_at=None).update(first_used_at=now)
    RoomLink.objects.filter(pk=link.pk).update(last_used_at=now)
    Stakeholder.objects.filter(pk=stakeholder.pk, first_visit_at=None).update(first_visit_at=now)
    Stakeholder.objects.filter(pk=stakeholder.pk).update(last_visit_at=now)
    _count_visit(stakeholder)
    stakeholder_written.send(sender=Stakeholder, stakeholder=stakeholder)
    rooms = dict(request.session.get(SESSION_ROOMS, {}))
    rooms[str(stakeholder.deal.public_id)] = {
        "link": link.pk,
        "visit": visit.pk,
        "started": now.isoformat(),
        "seen": now.isoformat(),
    }
    # A fresh session id for a new privilege level (session fixation).
    request.session.cycle_key()
    request.session[SESSION_ROOMS] = rooms
    return visit


def _count_visit(stakeholder: Stakeholder) -> None:
    from django.db.models import F

    Stakeholder.objects.filter(pk=stakeholder.pk).update(visit_count=F("visit_count") + 1)


def has_buyer_session(request) -> bool:
    return bool(request.session.get(SESSION_ROOMS)) if hasattr(request, "session") else False


def session_started_at(request, deal_id) -> timezone.datetime | None:
    access = request.session.get(SESSION_ROOMS, {}).get(str(deal_id))
    if not access:
        return None
    return timezone.datetime.fromisoformat(access["started"])


def invalid_link_page(request, *, status: int, link: RoomLink | None, token: str = ""):
    """The same friendly page for expired, revoked, malformed and unknown links."""
    seller = link.stakeholder.deal.owner.display_name if link else None
    request_url = reverse("room-link-request", kwargs={"token": token}) if link and token else ""
    return render(
        request,
        "stakeholders/link_invalid.html",
        {"seller": seller, "request_url": request_url},
        status=status,
    )


def buyer_view(view):
    """Resolve /room/<deal_id>/… to the buyer session of that one room, or 404.

    Sets request.buyer (the Stakeholder), request.room_link, request.deal and
    request.organization. A session whose link was revoked or expired ends here.
    """

    @wraps(view)
    def wrapper(request, deal_id, *args, **kwargs):
        rooms = request.session.get(SESSION_ROOMS, {})
        access = rooms.get(str(deal_id))
        if not access:
            raise Http404("No access to this room.")
        link = (
            RoomLink.objects.select_related(
                "stakeholder", "stakeholder__deal", "stakeholder__deal__owner", "organization"
            )
            .filter(pk=access["link"])
            .first()
        )
        if link is None or link.stakeholder.deal.public_id != deal_id:
            raise Http404("No access to this room.")
        if not link.is_usable():
            rooms = dict(rooms)
            rooms.pop(str(deal_id), None)
            request.session[SESSION_ROOMS] = rooms
            return invalid_link_page(request, status=410, link=link)
        request.buyer = link.stakeholder
        request.room_link = link
        request.deal = link.stakeholder.deal
        request.organization = link.organization
        _touch(request, rooms, access)
        # "Today" and the moments shown are the workspace's, as on the seller's pages.
        with timezone.override(ZoneInfo(link.organization.time_zone)):
            return view(request, *args, **kwargs)

    return wrapper


def _touch(request, rooms: dict, access: dict) -> None:
    """Keep "last seen" fresh without writing on every request."""
    now = timezone.now()
    seen = timezone.datetime.fromisoformat(access.get("seen", access["started"]))
    if now - seen < LAST_SEEN_EVERY:
        return
    stakeholder = request.buyer
    Stakeholder.objects.filter(pk=stakeholder.pk).update(last_visit_at=now)
    if now - seen > VISIT_IDLE:
        visit = RoomVisit.objects.create(
            organization_id=stakeholder.organization_id,
            stakeholder=stakeholder,
            link=request.room_link,
        )
        _count_visit(stakeholder)
        access = {**access, "visit": visit.pk}
    else:
        RoomVisit.objects.filter(pk=access.get("visit")).update(last_seen_at=now)
    stakeholder_written.send(sender=Stakeholder, stakeholder=stakeholder)
    rooms = dict(rooms)
    rooms[str(stakeholder.deal.public_id)] = {**access, "seen": now.isoformat()}
    request.session[SESSION_ROOMS] = rooms
