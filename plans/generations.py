"""Generation counters in the cache: a number that changes whenever the rows it stands for
change, so anything cached under it is never served after a change.

A counter is bumped at once and again when the transaction commits: a request that read the
rows before the commit may cache what it read under the first bump's value, never under the
final one. A missing (or evicted) counter restarts from the clock, never from a value an
older generation used. If the cache is down, nothing can be served from it either: bumps
log a warning and reads return None (callers compute afresh).
"""

from __future__ import annotations

import hashlib
import logging
import time
from functools import cache as once
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)


def incr(key: str) -> None:
    """Increment counter `key` once, now."""
    try:
        if hasattr(cache, "bump"):  # Redis (config/cache.py): one round trip
            cache.bump(key)
            return
        try:
            cache.incr(key)
        except ValueError:
            if not cache.add(key, time.time_ns(), timeout=None):
                cache.incr(key)
    except Exception:
        logger.warning("generations: could not bump %s", key, exc_info=True)


def bump(*keys: str) -> None:
    """Increment counters `keys` now and when the current transaction commits."""
    for key in keys:
        incr(key)
        transaction.on_commit(partial(incr, key))


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


# The apps whose Python shapes what the cached pages and dashboard figures hold (wording,
# formats, forms, the figures' classes).
CODE_APPS = ("deals", "stakeholders", "plans")


@once
def code_fingerprint() -> str:
    """Changes with the Python of CODE_APPS: part of every cache key of a page or its
    figures, so that a deploy never serves what the old code cached."""
    digest = hashlib.sha256()
    for app in CODE_APPS:
        folder = settings.BASE_DIR / app
        for path in sorted(folder.rglob("*.py")):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
