import pytest

from tests.conftest import needs_redis


def test_healthz_ok(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_healthz_database_down_is_503(client, db, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise ConnectionError("database is down")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", broken_cursor)
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_healthz_redis_unreachable_is_503(client, db, settings):
    # Nothing listens on port 1 of the loopback address.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")


@needs_redis
def test_healthz_redis_ok(client, db):
    assert client.get("/healthz").json()["redis"] == "ok"


@pytest.mark.parametrize("method", ["post", "put"])
def test_healthz_only_answers_get(client, db, method):
    assert getattr(client, method)("/healthz").status_code == 405
