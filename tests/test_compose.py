"""docker-compose.yml cannot be run here (no Docker engine): check it by reading."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_has_every_service_wired():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    assert set(services) >= {
        "proxy",
        "web",
        "events",
        "worker",
        "beat",
        "postgres",
        "redis",
        "mail",
    }
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "uvicorn" in " ".join(services["events"]["command"])
    assert "--timeout-graceful-shutdown" in " ".join(services["events"]["command"])
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    for name in ("web", "events", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_proxy_routes_events_to_the_asgi_service():
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()

    assert "location /events/" in nginx
    assert "proxy_pass http://events:8001" in nginx
    assert "proxy_buffering off" in nginx
    assert "proxy_pass http://web:8000" in nginx
