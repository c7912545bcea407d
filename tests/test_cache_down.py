"""With Redis unreachable, the cache reads as a miss and drops writes (config/cache.py): the
pages that cache their parts — the plan page and its rows, the buyer's room, the dashboard —
are computed afresh and show every change, instead of failing."""

import pytest
from django.core.cache import caches
from django.urls import reverse

from plans import services
from plans.models import Milestone, Plan
from stakeholders.actors import Actor

DOWN = {
    "default": {
        "BACKEND": "config.cache.ResilientRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


@pytest.fixture
def redis_down(settings):
    settings.CACHES = DOWN
    assert caches["default"].get("anything", "missed") == "missed"
    return settings


def test_plan_page_is_computed_when_redis_is_down(redis_down, alice_client, acme_deal, caplog):
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


def test_dashboard_is_computed_when_redis_is_down(redis_down, client, bob, acme_deal, settings):
    settings.DASHBOARD_CACHE_MIN_PLANS = 0  # cache every scope, as a large workspace would
    client.force_login(bob)
    url = reverse("plans:dashboard", kwargs={"org_slug": "acme"})

    assert client.get(url).status_code == 200
    assert client.get(url, {"export": "health"}).status_code == 200
