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
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from deals import revisions
from deals.models import SecurityEvent, hash_token
from deals.security import rate_limit, record
from deals.tenancy import SESSION_ROOMS

from .models import RoomLink, RoomVisit, Stakeholder

logger = logging.getLogger(__name__)

Kind = SecurityEvent.Kind

# A visit counts again after this much inactivity; "last seen" is written at most this often.
VISIT_IDLE = timedelta(minutes=30)
LAST_SEEN_EVERY = timedelta(minutes=1)


class LinkInvalid(Exception):  # noqa: N818 - reads as the state it reports
    """A link that cannot be used: malformed, unknown, expired or revoked. `link` is the
    real link when there is one (to ask its seller for a new one); it is never shown."""

    def __init__(self, *, link: RoomLink | None = None):
        super().__init__("This link is no longer valid.")
        self.link = link


# One status for every link that does not open a room: 410 would say "this was real".
INVALID_LINK_STATUS = 404
LINK_ATTEMPTS_PER_MINUTE = 20


def new_token() -> str:
    return secrets.token_urlsafe(32)


def looks_like_token(token: str) -> bool:
    """Whether `token` could be one of ours (new_token's alphabet and about its length):
    what does not is refused before any query."""
    return 20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()


def room_url(token: str) -> str:
    return settings.SITE_URL + reverse("room-link", kwargs={"token": token})


def find_link(token: str) -> RoomLink:
    """The usable link of `token`, or LinkInvalid (with the link, when it is a real one that
    expired or was revoked)."""
    if not looks_like_token(token):
        raise LinkInvalid()
    link = (
        RoomLink.objects.select_related(
            "stakeholder", "stakeholder__deal", "stakeholder__deal__owner", "organization"
        )
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None:
        raise LinkInvalid()
    if not link.is_usable():
        raise LinkInvalid(link=link)
    return link


def link_rate_limit(request, *, token: str) -> HttpResponse | None:
    """The 429 page when this client has tried too many links this minute, else None.

    Every page that takes a room token shares one budget per client (`client_ip`). The
    first refusal of a window is written to the security log of the workspace whose link
    it was, when the token is a real link (a guessed token names no workspace)."""
    attempt = rate_limit(request, scope="room-link", limit=LINK_ATTEMPTS_PER_MINUTE)
    if not attempt.refused:
        return None
    if attempt.first_refusal:
        _record_lockout(request, token)
    response = render(request, "stakeholders/link_rate_limited.html", status=429)
    response["Retry-After"] = str(attempt.retry_after)
    return response


def _record_lockout(request, token: str) -> None:
    try:
        link = find_link(token)
    except LinkInvalid as invalid:
        link = invalid.link
    if link is None:
        logger.warning("room links: too many attempts from one client (no workspace known)")
        return
    stakeholder = link.stakeholder
    record(
        link.organization,
        Kind.LOCKOUT,
        request=request,
        actor="Unknown visitor",
        target=f"{stakeholder.deal.account_name} — {stakeholder.deal.name} / {stakeholder.name}",
        summary=(
            f"More than {LINK_ATTEMPTS_PER_MINUTE} room-link attempts in a minute from one "
            "address; refused for the rest of the minute."
        ),
        limit="room-link",
        stakeholder=str(stakeholder.public_id),
    )


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
    revisions.bump_deal(stakeholder.deal_id)
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
    Stakeholder.objects.filter(pk=stakeholder.pk).update(visit_count=F("visit_count") + 1)


def has_buyer_session(request) -> bool:
    return bool(request.session.get(SESSION_ROOMS)) if hasattr(request, "session") else False


def session_started_at(request, deal_id) -> timezone.datetime | None:
    access = request.session.get(SESSION_ROOMS, {}).get(str(deal_id))
    if not access:
        return None
    return timezone.datetime.fromisoformat(access["started"])


def current_visit(request, deal_id) -> int | None:
    """The id of this browser's visit (RoomVisit) of the room of `deal_id`."""
    access = request.session.get(SESSION_ROOMS, {}).get(str(deal_id))
    return access.get("visit") if access else None


def previous_visit_end(request, stakeholder: Stakeholder) -> timezone.datetime | None:
    """When the buyer was last seen in the room before this visit (None: the first visit).
    One query."""
    visit = current_visit(request, stakeholder.deal.public_id)
    visits = RoomVisit.objects.filter(stakeholder=stakeholder)
    if visit is not None:
        visits = visits.filter(pk__lt=visit)
    return visits.order_by("-pk").values_list("last_seen_at", flat=True).first()


def invalid_link_page(request, *, request_url: str = "request/"):
    """The one page, with one status, for every link that does not open a room: expired,
    revoked, malformed and unknown links give the same bytes (apart from the CSRF token and
    the CSP nonce), so holding an old link tells nothing — not even that it was real.

    Its "Ask for a new link" button posts to `request_url`, relative to the page's own URL
    ("request/" from /r/<token>/), so that the token is not written in the page either."""
    return render(
        request,
        "stakeholders/link_invalid.html",
        {"request_url": request_url},
        status=INVALID_LINK_STATUS,
    )


def ended_session_page(request, link: RoomLink):
    """A buyer session whose link was revoked or expired meanwhile: this browser was let
    into the room before, so the page may name the seller to ask (410, Gone)."""
    seller = link.stakeholder.deal.owner.display_name
    return render(request, "stakeholders/link_invalid.html", {"seller": seller}, status=410)


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
            return ended_session_page(request, link)
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
    with transaction.atomic():  # the visit and the deal's revision together
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
        revisions.bump_deal(stakeholder.deal_id)
    rooms = dict(rooms)
    rooms[str(stakeholder.deal.public_id)] = {**access, "seen": now.isoformat()}
    request.session[SESSION_ROOMS] = rooms
