"""Error pages. A database that does not answer is an outage, not a bug: the user gets a
clear 503 page at once (with Retry-After), and the process recovers by itself when the
database returns (connections are health-checked before reuse: CONN_HEALTH_CHECKS)."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .api import _is_api

DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def server_error(request):
    """handler500: Django calls it while handling the exception, so sys.exc_info() names it.
    Rendered without the request's context processors, which would query the database."""
    exc = sys.exc_info()[1]
    api = _is_api(request)
    if isinstance(exc, DATABASE_DOWN):
        if api:
            response = JsonResponse(
                {"detail": "The service is temporarily unavailable; try again shortly."},
                status=503,
            )
        else:
            response = HttpResponse(render_to_string("errors/unavailable.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if api:
        # JSON under /api/, so a client parses it like every other answer.
        return JsonResponse(
            {"detail": "Server error: it has been logged. Please retry later."}, status=500
        )
    return HttpResponse(render_to_string("errors/server_error.html"), status=500)
