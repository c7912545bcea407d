"""The seller's plan page and the buyer's deal room, whole, from the cache while nothing they
show has changed.

A warm plan page runs one query of its own (which plan, under which ids) and reads two cache
keys; it does not load the plan. What the page shows is covered by four generation counters
(plans.generations), and the cached body is stored under a digest of their values, the
release (settings.RELEASE), the viewer ("Sign plan" is the signer's alone) and the time zone:

- plan:<id> — the plan row and everything of the plan: steps, their comments, files, date
  proposals and date changes, the feed, signature events;
- deal:<id> — the deal row and its stakeholders with their room links and visits;
- org:<id> — the workspace row and its memberships (the transfer and stakeholder forms list
  the members);
- users — any user's save but a sign-in (names shown as owners and members).

They are bumped by model signals (receivers below, connected in PlansConfig.ready), by the
domain events of stakeholders/ for the rows it writes with QuerySet.update() (visits,
invitations, revocations: `stakeholder_written`), and by explicit calls beside the
QuerySet.update()/bulk writes of plans/ (services.bump_version and the others). A write path
that skips all of these would serve a stale page until PAGE_CACHE_SECONDS: the tests of
tests/plans/test_page_cache.py compare the cached page with a fresh render after each kind
of change.

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

from . import generations
from .models import Plan

logger = logging.getLogger(__name__)

PLAN_KEY = "plans:page:gen:plan:{}"
DEAL_KEY = "plans:page:gen:deal:{}"
ORG_KEY = "plans:page:gen:org:{}"
USERS_KEY = "plans:page:gen:users"
BODY_KEY = "plans:page:body:{}:{}"


def cache_seconds() -> int:
    """The longest a body is kept (a safety net, and the memory bound): the setting
    PAGE_CACHE_SECONDS (config/settings.py); 0 turns the page cache off."""
    return settings.PAGE_CACHE_SECONDS


# --- Bumps ---------------------------------------------------------------------------------


def bump_plan(plan_id: int | None) -> None:
    if plan_id is not None:
        generations.bump(PLAN_KEY.format(plan_id))


def bump_deal(deal_id: int | None) -> None:
    if deal_id is not None:
        generations.bump(DEAL_KEY.format(deal_id))


def bump_org(organization_id: int | None) -> None:
    if organization_id is not None:
        generations.bump(ORG_KEY.format(organization_id))


def bump_users() -> None:
    generations.bump(USERS_KEY)


# --- Reading and storing --------------------------------------------------------------------


@dataclass(frozen=True)
class PageRef:
    """Which plan a page shows, from the one query of a warm page."""

    plan_id: int
    deal_id: int
    organization_id: int
    account_name: str


def lookup(organization, deal_public_id) -> PageRef | None:
    """The plan of the workspace's deal `deal_public_id` (None: the deal has no plan, or is
    not the workspace's). One query."""

    row = (
        Plan.objects.for_org(organization)
        .filter(deal__public_id=deal_public_id)
        .values_list("pk", "deal_id", "deal__account_name")
        .first()
    )
    if row is None:
        return None
    return PageRef(row[0], row[1], organization.pk, row[2])


def body_key(request, ref: PageRef, *, viewer: tuple | None = None) -> str | None:
    """The cache key of the page body for this viewer at the current generations (None: the
    cache is off or unreachable). Read the generations before loading what the body draws.
    The viewer is the signed-in user, or what the view names (the buyer of a deal room:
    ("room", stakeholder id))."""

    if cache_seconds() <= 0:
        return None
    keys = [
        PLAN_KEY.format(ref.plan_id),
        DEAL_KEY.format(ref.deal_id),
        ORG_KEY.format(ref.organization_id),
        USERS_KEY,
    ]
    values = generations.current(keys)
    if values is None:
        return None
    if viewer is None:
        viewer = (request.user.pk, request.user.email)
    parts = (
        [values[key] for key in keys],
        settings.RELEASE,
        viewer,
        timezone.get_current_timezone_name(),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return BODY_KEY.format(ref.plan_id, digest)


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


# --- Receivers (connected in PlansConfig.ready) ---------------------------------------------


def on_plan_row(sender, instance, **kwargs) -> None:
    """A save or delete of a plan or of a row with a plan_id (step, activity, signature)."""
    bump_plan(instance.pk if sender.__name__ == "Plan" else instance.plan_id)


def on_step_row(sender, instance, **kwargs) -> None:
    """A save or delete of a row of a step (comment, file, date proposal, date change)."""
    bump_plan(instance.milestone.plan_id)


def on_deal_row(sender, instance, **kwargs) -> None:
    """A save or delete of a deal or of a stakeholder."""
    bump_deal(instance.pk if sender.__name__ == "Deal" else instance.deal_id)


def on_link_row(sender, instance, **kwargs) -> None:
    """A save of a room link (its stakeholder's panel lists the active ones)."""
    bump_deal(instance.stakeholder.deal_id)


def on_org_row(sender, instance, **kwargs) -> None:
    """A save or delete of a workspace or a membership."""
    bump_org(instance.pk if sender.__name__ == "Organization" else instance.organization_id)


def on_user_row(sender, instance, update_fields=None, **kwargs) -> None:
    """A user's save, but a sign-in (which writes last_login only)."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    bump_users()


def on_stakeholder_written(sender, stakeholder, **kwargs) -> None:
    """stakeholders.signals.stakeholder_written: rows written without a model save."""
    bump_deal(stakeholder.deal_id)
