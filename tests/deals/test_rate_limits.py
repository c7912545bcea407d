"""deals.security.rate_limit: the one counter of every per-client limit."""

import time
from datetime import timedelta

import time_machine
from django.test import RequestFactory
from django.utils import timezone

from deals.security import rate_limit
from tests.test_cache_down import redis_down  # noqa: F401 - a fixture


def _request(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def _count(request, times, **kwargs):
    kwargs = {"scope": "test", "limit": 3, **kwargs}
    return [rate_limit(request, **kwargs) for _ in range(times)][-1]


def test_rate_limit_refuses_over_the_limit_and_marks_the_first_refusal():
    attempts = [rate_limit(_request("192.0.2.1"), scope="test", limit=2) for _ in range(4)]

    assert [a.refused for a in attempts] == [False, False, True, True]
    assert [a.first_refusal for a in attempts] == [False, False, True, False]


def test_rate_limit_scopes_are_separate():
    _count(_request("192.0.2.1"), 4, scope="one")

    assert not rate_limit(_request("192.0.2.1"), scope="two", limit=3).refused


def test_rate_limit_says_when_the_window_opened_by_the_first_attempt_ends():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        rate_limit(_request("192.0.2.1"), scope="test", limit=1, period=60)
    with time_machine.travel(start + timedelta(seconds=45), tick=False):
        refused = rate_limit(_request("192.0.2.1"), scope="test", limit=1, period=60)

    assert refused.refused and refused.retry_after == 15


def test_rate_limit_window_ends():
    # Real time: Redis expires keys by its own clock.
    rate_limit(_request("192.0.2.1"), scope="test", limit=1, period=1)
    assert rate_limit(_request("192.0.2.1"), scope="test", limit=1, period=1).refused
    time.sleep(1.1)

    assert not rate_limit(_request("192.0.2.1"), scope="test", limit=1, period=1).refused


def test_rate_limit_counts_an_ipv6_client_by_its_64_block():
    _count(_request("2001:db8:1:2::1"), 4)

    assert rate_limit(_request("2001:db8:1:2::ffff"), scope="test", limit=3).refused
    assert not rate_limit(_request("2001:db8:1:3::1"), scope="test", limit=3).refused


def test_rate_limit_counts_an_ipv4_mapped_address_as_the_ipv4_one():
    _count(_request("::ffff:192.0.2.1"), 4)

    assert rate_limit(_request("192.0.2.1"), scope="test", limit=3).refused


def test_rate_limit_follows_client_ip_behind_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    _count(_request("10.0.0.5", "198.51.100.1"), 4)

    assert rate_limit(_request("10.0.0.6", "198.51.100.1"), scope="test", limit=3).refused
    assert not rate_limit(_request("10.0.0.5", "198.51.100.2"), scope="test", limit=3).refused
    # A client that writes the header itself is counted by its own address.
    assert not rate_limit(_request("198.51.100.9", "198.51.100.1"), scope="test", limit=3).refused


def test_rate_limit_with_redis_down_counts_and_refuses_nothing(redis_down):  # noqa: F811
    attempts = [rate_limit(_request("192.0.2.1"), scope="test", limit=1) for _ in range(3)]

    assert [a.refused for a in attempts] == [False, False, False]
