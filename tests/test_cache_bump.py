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
    [first] = redis_cache.bump("test:generation")
    assert first > before
    assert redis_cache.bump("test:generation") == [first + 1]
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


@pytest.mark.django_db
def test_counters_bumped_in_a_transaction_move_once_more_at_its_commit(
    django_capture_on_commit_callbacks,
):
    cache = caches["default"]
    cache.delete_many(["test:a", "test:b"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        generations.bump("test:a")
        generations.bump("test:a")
        generations.bump("test:b")
        during = cache.get_many(["test:a", "test:b"])
    after = cache.get_many(["test:a", "test:b"])
    # Each bump moves its counter at once; the commit moves each counter once more, however
    # many bumps registered a callback (the first runs them all, in one round trip).
    assert len(callbacks) == 3
    assert after == {"test:a": during["test:a"] + 1, "test:b": during["test:b"] + 1}
    cache.delete_many(["test:a", "test:b"])
