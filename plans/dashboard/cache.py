"""The dashboard's metrics, cached per workspace until anything they read changes.

A workspace has a generation counter in the cache. Every change of a row the dashboard reads
bumps it: a save of a deal, plan, milestone, slip (DueDateChange), activity, signature
event, stakeholder or of the workspace itself, a delete of a deal, plan, stakeholder or
workspace (model signals; a step's deletion records an activity), and the domain events
(plans.signals, deals.signals, stakeholders.signals). A user's save (an owner's
name) bumps a global counter. Results are stored under a key made of both counters, the
scope's filters and today's date, so a change makes the next request compute afresh: the
numbers are never older than the last change. The counter is bumped at once and again when
the transaction commits, so a request that read the data before the commit never serves
it under the final generation. Writes that skip model signals (QuerySet.update,
bulk_create) happen inside a service's transaction that also saves, deletes or sends an
event, whose commit bumps the counter.

Only the "last 14 days" windows (date changes, buyer visits) move with the clock alone:
results are kept at most DASHBOARD_CACHE_SECONDS (default 300 s), and the page says when
they were computed ("as of HH:MM").

Small scopes are not cached: below DASHBOARD_CACHE_MIN_PLANS live plans (default 100) the
metrics take a few milliseconds, and caching them would only cost memory.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

from plans import generations

logger = logging.getLogger(__name__)

GENERATION_KEY = "dashboard:generation:{}"
USERS_KEY = "dashboard:generation:users"
RESULTS_KEY = "dashboard:results:v1:{}:{}"


def timeout() -> int:
    return getattr(settings, "DASHBOARD_CACHE_SECONDS", 300)


def min_plans() -> int:
    return getattr(settings, "DASHBOARD_CACHE_MIN_PLANS", 100)


def bump(organization_id: int | None) -> None:
    """Invalidate a workspace's cached dashboards: now, and when the transaction commits.

    Side effects: increments the workspace's generation counter in the cache (twice)."""
    if organization_id is None:
        return
    key = GENERATION_KEY.format(organization_id)
    generations.bump(key)


def bump_users() -> None:
    """Invalidate every workspace's cached dashboards (a user's name is shown as owner)."""
    generations.bump(USERS_KEY)


def results_key(organization_id: int, filters: tuple) -> str | None:
    """The cache key of a scope's results at the current generations (None: the cache is
    unreachable)."""
    keys = [GENERATION_KEY.format(organization_id), USERS_KEY]
    values = generations.current(keys)
    if values is None:
        return None
    # The release: a deploy never serves figures (pickled classes) of the old code.
    parts = (values[keys[0]], values[keys[1]], settings.RELEASE, filters)
    digest = hashlib.sha256(repr(parts).encode())
    return RESULTS_KEY.format(organization_id, digest.hexdigest()[:32])


def cached_results(organization_id: int, filters: tuple, compute: Callable, *, size: Callable):
    """`compute()`'s value for this workspace and these filters: from the cache when nothing
    changed since it was stored, else computed (and stored when `size(value)`, the number of
    live plans, reaches DASHBOARD_CACHE_MIN_PLANS).

    Side effects: reads and writes the cache."""
    if timeout() <= 0:
        return compute()
    key = results_key(organization_id, filters)
    if key is None:
        return compute()
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("dashboard cache: unreachable", exc_info=True)
        value = None
    if value is not None:
        return value
    value = compute()
    if size(value) >= min_plans():
        try:
            cache.set(key, value, timeout=timeout())
        except Exception:
            logger.warning("dashboard cache: could not store results", exc_info=True)
    return value


# --- Receivers (connected in PlansConfig.ready) --------------------------------------


def on_row_change(sender, instance, **kwargs) -> None:
    """post_save/post_delete of a row of a workspace."""
    organization_id = getattr(instance, "organization_id", None)
    if organization_id is None and sender.__name__ == "Organization":
        organization_id = instance.pk
    bump(organization_id)


def on_user_change(sender, instance, **kwargs) -> None:
    bump_users()


def on_event(sender, **kwargs) -> None:
    """A domain event (plan_event, plan_signed, plan_amended, deal_created, deal_changed,
    stakeholder_changed…): bump the workspace of its plan, deal or stakeholder."""
    for name in ("plan", "deal", "stakeholder", "milestone"):
        item = kwargs.get(name)
        if item is not None and getattr(item, "organization_id", None) is not None:
            bump(item.organization_id)
            return
