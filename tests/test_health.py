"""/healthz (liveness) and /readyz (readiness), each dependency's state in the body."""

import pytest

from tests.conftest import needs_redis


def _broken_database(monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise ConnectionError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_ok(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["status"] == "ok"


def test_database_down_is_alive_but_not_ready(client, db, monkeypatch):
    with monkeypatch.context() as patched:
        _broken_database(patched)
        alive = client.get("/healthz")
        ready = client.get("/readyz")

    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["status"] == alive.json()["status"] == "unavailable"
    assert ready.json()["database"].startswith("error")


def test_redis_unreachable_is_degraded_not_dead(client, db, settings):
    # Nothing listens on port 1 of the loopback address. Pages still render then (the cache
    # reads as a miss), so an orchestrator must not kill the process or take it out.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["redis"].startswith("error")


@needs_redis
def test_healthz_redis_ok(client, db):
    assert client.get("/healthz").json()["redis"] == "ok"


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_only_answers_get(client, db, method, path):
    assert getattr(client, method)(path).status_code == 405


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_at_any_host_answer(client, db, settings, path):
    # An orchestrator probes 127.0.0.1 or the container's IP, not the domain of ALLOWED_HOSTS.
    settings.ALLOWED_HOSTS = ["tandem.example.com"]

    assert client.get(path, HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_over_plain_http_are_not_redirected(client, db, settings, path):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(path).status_code == 200
    assert client.get("/accounts/login/").status_code == 301
