"""The seller's plan page and the buyer's deal room, whole, from the cache while nothing they
show has changed.

A warm plan page runs one query of its own (which plan, under which ids, at which revision)
and reads one cache key; it does not load the plan. The body is stored under the deal's and
the workspace's revisions (deals/revisions.py: bumped by the services in the transaction of
every change the page shows), the release (settings.RELEASE: keys change with a deploy), the
viewer ("Sign plan" is the signer's alone) and the time zone. The revisions are read before
anything the body draws, so a body is never stored under revisions older than its content,
and never served once a change is committed. A database restored from a backup takes
revisions back: clear the cache with it.

The clock alone changes a page too: "today" (days left, overdue steps, health), a room link
expiring, and a date change leaving the 14-day window of the health. The body is stored with
the moment the first of these happens and is not served from then on. Relative times ("5
minutes ago") are written as absolute moments and made relative in the browser (app.js), so
they need no expiry.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .models import Plan

logger = logging.getLogger(__name__)

BODY_KEY = "plans:page:body:{}:{}"


def cache_seconds() -> int:
    """The longest a body is kept (a safety net, and the memory bound): the setting
    PAGE_CACHE_SECONDS (config/settings.py); 0 turns the page cache off."""
    return settings.PAGE_CACHE_SECONDS


# --- Reading and storing --------------------------------------------------------------------


@dataclass(frozen=True)
class PageRef:
    """Which plan a page shows, from the one query of a warm page. The body is keyed by the
    deal (a deal has one plan): the buyer's room, which knows its deal from the access
    check, needs no query of its own to read it (its plan_id is None)."""

    plan_id: int | None
    deal_id: int
    organization_id: int
    account_name: str
    # What the cached body is keyed by: deals/revisions.py.
    deal_revision: int
    workspace_revision: int


def lookup(organization, deal_public_id) -> PageRef | None:
    """The plan of the workspace's deal `deal_public_id` (None: the deal has no plan, or is
    not the workspace's), with the deal's revision. One query. The workspace's revision is
    that of `organization`, loaded earlier in the request."""

    row = (
        Plan.objects.for_org(organization)
        .filter(deal__public_id=deal_public_id)
        .values_list("pk", "deal_id", "deal__account_name", "deal__revision")
        .first()
    )
    if row is None:
        return None
    plan_id, deal_id, account_name, revision = row
    return PageRef(plan_id, deal_id, organization.pk, account_name, revision, organization.revision)


def body_key(request, ref: PageRef, *, viewer: tuple | None = None) -> str | None:
    """The cache key of the page body for this viewer at the revisions of `ref` (None: the
    cache is off). The viewer is the signed-in user, or what the view names (the buyer of a
    deal room: ("room", stakeholder id))."""

    if cache_seconds() <= 0:
        return None
    if viewer is None:
        viewer = (request.user.pk, request.user.email)
    parts = (
        ref.deal_revision,
        ref.workspace_revision,
        settings.RELEASE,
        viewer,
        timezone.get_current_timezone_name(),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return BODY_KEY.format(ref.deal_id, digest)


def get(key: str | None) -> str | None:
    """The cached body under `key`, unless the clock has moved past what it shows."""
    if key is None:
        return None
    try:
        entry = cache.get(key)
    except Exception:
        logger.warning("plan page cache: unreachable", exc_info=True)
        return None
    if entry is None:
        return None
    valid_until, html = entry
    return html if time.time() < valid_until else None


def put(key: str | None, html: str, *, valid_until: datetime) -> None:
    """Store a body until `valid_until` (at most cache_seconds())."""
    if key is None:
        return
    now = time.time()
    until = min(valid_until.timestamp(), now + cache_seconds())
    if until <= now:
        return
    try:
        cache.set(key, (until, html), timeout=int(until - now) + 1)
    except Exception:
        logger.warning("plan page cache: could not store a page", exc_info=True)


def valid_until(now: datetime, moments, *, today: date | None = None) -> datetime:
    """The first moment at which the clock alone changes the page: the local midnight that
    ends `today` (the day the page was drawn for; now's by default), or an earlier one of
    `moments` (link expiries, slips leaving the health's window); None entries are ignored.
    A moment that passed while the page was drawn is returned as it is: the page is stale
    already, and put() does not store it."""
    day = today or timezone.localtime(now).date()
    midnight = timezone.make_aware(
        datetime.combine(day + timedelta(days=1), datetime.min.time()),
        timezone.get_current_timezone(),
    )
    return min([midnight, *(moment for moment in moments if moment is not None)])
