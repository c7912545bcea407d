"""Personas and shared fixtures.

alice: seller in Acme; bob: manager in Acme; charlie: seller in Globex (must see nothing of
Acme). Later issues add dana, a buyer of one Acme deal.
"""

import socket

import pytest
from django.conf import settings

from deals.models import Membership

from .factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    add_buyer,
    make_deal,
    make_plan,
)


def pytest_configure(config):
    # The suite's own Redis database is flushed at the start of a run, so a running
    # `make run` and the tests never see each other's data.
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "http://testserver"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Production serves hashed files collected by `collectstatic`; tests read the sources.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _eager_tasks(request):
    """Tasks run in-process in tests, even when REDIS_URL is set; the integration tests
    that start a real worker mark themselves `real_worker`."""
    from config.celery import app

    # A test that made another Celery app current (a probe) must not redirect shared tasks.
    app.set_current()
    if request.node.get_closest_marker("real_worker"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def acme(db):
    return OrganizationFactory(name="Acme Software", slug="acme", time_zone="Europe/London")


@pytest.fixture
def globex(db):
    return OrganizationFactory(name="Globex", slug="globex", time_zone="America/Los_Angeles")


@pytest.fixture
def alice(acme):
    return MembershipFactory(
        organization=acme,
        user=UserFactory(email="alice@acme.test", full_name="Alice Seller"),
        role=Membership.Role.SELLER,
    ).user


@pytest.fixture
def bob(acme):
    return MembershipFactory(
        organization=acme,
        user=UserFactory(email="bob@acme.test", full_name="Bob Manager"),
        role=Membership.Role.MANAGER,
    ).user


@pytest.fixture
def acme_admin(acme):
    return MembershipFactory(
        organization=acme,
        user=UserFactory(email="admin@acme.test", full_name="Ada Admin"),
        role=Membership.Role.ADMIN,
    ).user


@pytest.fixture
def charlie(globex):
    return MembershipFactory(
        organization=globex,
        user=UserFactory(email="charlie@globex.test", full_name="Charlie Globex"),
        role=Membership.Role.SELLER,
    ).user


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


needs_postgres = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL (set DATABASE_URL)",
)
needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")


@pytest.fixture
def acme_deal(alice):
    """An Acme deal of alice's with a Core plan and buyers: dana (champion) and an
    economic buyer; the plan's steps get owners by role."""
    deal = make_deal(alice.memberships.get().organization, alice)
    add_buyer(deal)
    add_buyer(deal, name="Eve Economic", email="eve@initech.test", role="economic_buyer")
    make_plan(deal)
    return deal


@pytest.fixture
def dana(acme_deal):
    return acme_deal.stakeholders.get(email="dana@initech.test")


@pytest.fixture
def globex_room_deal(charlie):
    deal = make_deal(charlie.memberships.get().organization, charlie, account_name="Initrode")
    add_buyer(deal, name="Gus Globex Buyer", email="gus@initrode.test")
    make_plan(deal)
    return deal


def share_plan_of(deal):
    """Share the deal's plan when it is a draft (as the seller's invitation of a buyer does)."""
    from plans.models import Plan
    from plans.services import share_plan
    from stakeholders.actors import Actor

    plan = Plan.objects.filter(deal=deal, status=Plan.Status.DRAFT).first()
    if plan is not None:
        share_plan(plan, actor=Actor.seller(deal.owner))


def open_room(client, stakeholder):
    """Start a buyer session for `stakeholder` the way a buyer does: POST the link page. The
    plan is shared first, as inviting the buyer shares it (a draft is not the buyers')."""
    from stakeholders.services import issue_room_link

    share_plan_of(stakeholder.deal)
    _, token = issue_room_link(stakeholder)
    response = client.post(f"/r/{token}/")
    assert response.status_code == 302, response.content[:500]
    return token


@pytest.fixture
def dana_client(client, dana):
    open_room(client, dana)
    return client


@pytest.fixture
def smtp_down(settings):
    """Django's SMTP backend, pointed at a port of 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 2
    return port
