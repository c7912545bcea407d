"""Generation counters move in one round trip on Redis (config.cache.ResilientRedisCache.bump)
with the semantics of plans/generations.py: a missing counter starts from the clock, never
from a value an older generation used; a Redis that cannot be reached raises."""

import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from config import cache as resilient
from plans import generations
from tests.conftest import needs_redis


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": django_settings.REDIS_URL,
        }
    }
    cache = caches["default"]
    cache.delete("test:generation")
    yield cache
    cache.delete("test:generation")


@needs_redis
def test_a_missing_counter_starts_from_the_clock_and_then_counts(redis_cache):
    before = time.time_ns()
    first = redis_cache.bump("test:generation")
    assert first > before
    assert redis_cache.bump("test:generation") == first + 1
    # Read as the pages read it.
    assert redis_cache.get_many(["test:generation"]) == {"test:generation": first + 1}
    generations.incr("test:generation")
    assert redis_cache.get("test:generation") == first + 2


def test_an_unreachable_redis_raises(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    resilient.down_until.clear()
    try:
        with pytest.raises(resilient.UNAVAILABLE):
            caches["default"].bump("test:generation")
        # generations logs it and carries on: the writes that bump never fail for the cache.
        generations.incr("test:generation")
    finally:
        resilient.down_until.clear()
