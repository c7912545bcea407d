"""ASGI entry point: the event streams under /events/ only (uvicorn).

Pages run under WSGI: ordinary sync views measured about 5x slower under ASGI on these
machines, while event streams need many cheap idle connections, which only async serving
gives.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
