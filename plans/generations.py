"""Generation counters in the cache: a number that changes whenever the rows it stands for
change, so anything cached under it is never served after a change.

A counter is bumped at once and again when the transaction commits: a request that read the
rows before the commit may cache what it read under the first bump's value, never under the
final one. A missing (or evicted) counter restarts from the clock, never from a value an
older generation used. If the cache is down, nothing can be served from it either: bumps
log a warning and reads return None (callers compute afresh).
"""

from __future__ import annotations

import logging
import time
from functools import partial

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)


def incr(*keys: str) -> None:
    """Increment counters `keys` once, now (on Redis: in one round trip)."""
    try:
        if hasattr(cache, "bump"):  # Redis (config/cache.py)
            cache.bump(*keys)
            return
        for key in keys:
            try:
                cache.incr(key)
            except ValueError:
                if not cache.add(key, time.time_ns(), timeout=None):
                    cache.incr(key)
    except Exception:
        logger.warning("generations: could not bump %s", ", ".join(keys), exc_info=True)


def _bump_at_commit(connection) -> None:
    """Bump what the transaction bumped, once more now that it committed. Every bump
    registers this; the first to run bumps the keys of them all in one round trip, the
    others find nothing left (a transaction bumps a plan's counters from several receivers:
    a dozen round trips otherwise). The keys wait on the connection, as the transaction
    does. A key left by a rolled-back transaction is bumped at a later commit: one needless
    miss."""
    keys, connection.generations_at_commit = connection.generations_at_commit, set()
    if keys:
        incr(*sorted(keys))


def bump(*keys: str) -> None:
    """Increment counters `keys` now and when the current transaction commits."""
    incr(*keys)
    connection = transaction.get_connection()
    pending = getattr(connection, "generations_at_commit", set())
    connection.generations_at_commit = pending | set(keys)
    transaction.on_commit(partial(_bump_at_commit, connection))


def current(keys: list[str]) -> dict[str, int] | None:
    """The counters' values (starting the missing ones), or None if the cache is down."""
    try:
        values = cache.get_many(keys)
        missing = [key for key in keys if key not in values]
        if missing:
            for key in missing:
                incr(key)
            values = cache.get_many(keys)
    except Exception:
        logger.warning("generations: cache unreachable", exc_info=True)
        return None
    return values if len(values) == len(keys) else None
