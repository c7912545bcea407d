"""The Redis cache, as the pages use it: a Redis that cannot be reached reads as a miss and
drops writes, so that pages are computed afresh instead of failing. Every cached value in
Tandem can be recomputed; none is the only copy of anything.

A Redis that hangs rather than refusing costs each call its socket timeout (half a second,
config/settings.py), and a page makes a dozen calls: after a failure the process therefore
treats that Redis as down, without asking, for RETRY_SECONDS (one warning per failure).
Counters (`incr`) raise instead of missing: a caller counting attempts (rate limits) must
know that it could not count.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import (
    ConnectionError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    TimeoutError,
)

logger = logging.getLogger(__name__)

# Unreachable, or unable to serve: a replica after a failover (READONLY), out of memory.
UNAVAILABLE = (ConnectionError, TimeoutError, ReadOnlyError, OutOfMemoryError, MasterDownError)
RETRY_SECONDS = 5.0
# Per Redis location, shared by the threads of a process: until when it is taken as down.
down_until: dict[str, float] = {}
_RAISE = object()


class ResilientRedisCache(RedisCache):
    def _call(self, operation: str, miss, function, *args):
        location = self._servers[0]
        if time.monotonic() < down_until.get(location, 0.0):
            if miss is _RAISE:
                raise ConnectionError(f"cache: Redis at {location} taken as down")
            return miss
        try:
            return function(*args)
        except UNAVAILABLE:
            down_until[location] = time.monotonic() + RETRY_SECONDS
            logger.warning(
                "cache: Redis unreachable or unavailable (%s); taken as down for %.0f s",
                operation,
                RETRY_SECONDS,
                exc_info=True,
            )
            if miss is _RAISE:
                raise
            return miss

    def get(self, key, default=None, version=None):
        return self._call("get", default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, super().has_key, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call("set", None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list(data), super().set_many, data, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, super().add, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        self._call("delete_many", None, super().delete_many, keys, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", _RAISE, super().incr, key, delta, version)
