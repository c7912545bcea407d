"""Health endpoints for orchestrators and load balancers, with each dependency's state in
the body:

- `/healthz` — liveness: the process answers (always 200 while it can answer at all). An
  orchestrator restarts a process only when this fails; a database or Redis outage is not
  cured by restarting healthy web processes.
- `/readyz` — readiness: 200 when requests can be served (the database answers), 503 when
  the database does not. Redis down makes the app *degraded* (pages render, the cache reads
  as a miss, tasks wait in the outbox), not unready: still 200.

Body: {"status": "ok" | "degraded" | "unavailable", "database": …, "redis": …}.
"""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# Both checks answer within about two seconds, whatever the outage (a hung dependency must
# not hang the probe: orchestrators time probes out).
CHECK_TIMEOUT = 2


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        # A broken connection is not reused by the next request.
        connection.close_if_unusable_or_obsolete()
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
        )
        client.ping()
    except redis.RedisError as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _checks() -> tuple[dict, bool]:
    checks = {"database": _check_database(), "redis": _check_redis()}
    database_ok = checks["database"] == "ok"
    redis_ok = checks["redis"] in {"ok", "not configured"}
    status = "ok" if database_ok and redis_ok else "degraded" if database_ok else "unavailable"
    return {"status": status, **checks}, database_ok


@never_cache
@require_GET
def healthz(request):
    body, _ready = _checks()
    return JsonResponse(body, status=200)


@never_cache
@require_GET
def readyz(request):
    body, ready = _checks()
    return JsonResponse(body, status=200 if ready else 503)


class HealthMiddleware:
    """First in MIDDLEWARE: /healthz and /readyz answer before anything reads the Host header.
    Probes reach a process at its own address (127.0.0.1, a container's or a pod's IP), not at
    a host name of ALLOWED_HOSTS: an operator who lists only their domain must not get every
    container marked unhealthy. The answers carry nothing but the dependencies' states."""

    VIEWS = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.VIEWS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
