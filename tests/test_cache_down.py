"""With Redis unreachable, the cache reads as a miss and drops writes (config/cache.py): the
pages that cache their parts — the plan page and its rows, the buyer's room, the dashboard —
are computed afresh and show every change, instead of failing."""

import socket
import threading
import time

import pytest
from django.core.cache import caches
from django.urls import reverse

from config import cache as resilient
from plans import services
from plans.models import Milestone, Plan
from stakeholders.actors import Actor


def _caches(location: str) -> dict:
    return {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def redis_down(settings):
    settings.CACHES = _caches("redis://127.0.0.1:1/0")  # nothing listens there
    resilient.down_until.clear()
    assert caches["default"].get("anything", "missed") == "missed"
    resilient.down_until.clear()  # the test's own first call finds it down
    yield settings
    resilient.down_until.clear()


@pytest.fixture
def redis_hanging(settings):
    """A Redis that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    settings.CACHES = _caches(f"redis://127.0.0.1:{server.getsockname()[1]}/0")
    resilient.down_until.clear()
    yield settings
    server.close()
    for connection in accepted:
        connection.close()
    resilient.down_until.clear()


def test_plan_page_is_computed_when_redis_is_down(alice_client, acme_deal, redis_down, caplog):
    plan = Plan.objects.get(deal=acme_deal)
    step = Milestone.objects.filter(plan=plan).order_by("position").first()

    first = alice_client.get(plan.get_absolute_url())
    services.update_milestone(
        step, actor=Actor.seller(acme_deal.owner), expected_version=step.version, title="Renamed"
    )
    second = alice_client.get(plan.get_absolute_url())

    assert first.status_code == second.status_code == 200
    assert step.title in first.content.decode()
    assert "Renamed" in second.content.decode()
    assert "cache: Redis unreachable" in caplog.text


def test_room_is_computed_when_redis_is_down(redis_down, dana_client, acme_deal):
    response = dana_client.get(reverse("room", kwargs={"deal_id": acme_deal.public_id}))

    assert response.status_code == 200
    assert acme_deal.account_name in response.content.decode()


def test_dashboard_is_computed_when_redis_is_down(redis_down, client, bob, acme_deal):
    client.force_login(bob)
    url = reverse("plans:dashboard", kwargs={"org_slug": "acme"})

    assert client.get(url).status_code == 200
    assert client.get(url, {"export": "health"}).status_code == 200


def test_a_hanging_redis_costs_a_page_one_timeout(alice_client, acme_deal, redis_hanging):
    plan = Plan.objects.get(deal=acme_deal)

    started = time.monotonic()
    response = alice_client.get(plan.get_absolute_url())
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    # The first call waits its half-second timeout; the others do not ask (before: ~14 s).
    assert elapsed < 2.5, elapsed


def test_a_read_only_redis_drops_writes(settings, monkeypatch):
    # A replica after a failover answers writes with READONLY: a dropped write, not a 500.
    from django.core.cache.backends.redis import RedisCache
    from redis.exceptions import ReadOnlyError

    settings.CACHES = _caches("redis://127.0.0.1:1/0")
    resilient.down_until.clear()

    def read_only(*args, **kwargs):
        raise ReadOnlyError("You can't write against a read only replica.")

    monkeypatch.setattr(RedisCache, "set", read_only)
    try:
        caches["default"].set("key", "value")
        assert caches["default"].get("key", "missed") == "missed"  # taken as down, not asked
    finally:
        resilient.down_until.clear()
