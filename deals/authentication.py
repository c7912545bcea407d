"""REST API authentication by workspace API key, per-key throttling, and who acts.

Kept apart from deals/api.py on purpose: DRF imports the classes named in its settings
while `rest_framework.views` loads, so this module must not import DRF's views.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey, hash_token
from .services import note_api_key_address


class ApiKeyUser:
    """`request.user` of a request authenticated by an API key: no person, the workspace."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.display_name = f"API key “{api_key.name}”"

    def __str__(self) -> str:
        return self.display_name


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`. request.user is an ApiKeyUser, request.auth the key.

    An unknown or revoked key is refused with 401 (never silently treated as anonymous).
    """

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: send “Bearer <API key>”."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        api_key = (
            ApiKey.objects.select_related("organization").filter(key_hash=hash_token(key)).first()
        )
        if api_key is None or api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key.touch()
        # A request from an address the key was never used from is a security-log entry.
        note_api_key_address(api_key, request=request._request)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyThrottle(SimpleRateThrottle):
    """Requests per API key (or per signed-in member, or per IP when anonymous), at the
    rate of settings.API_RATE_LIMIT. Over it: 429 with Retry-After."""

    scope = "api"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:api:{ident}"


@dataclass(frozen=True)
class RequestActor:
    """Who acts, in the shape of stakeholders.actors.Actor (which deals/ cannot import):
    the signed-in seller, or an API key (then there is no user)."""

    name: str
    side: str = "seller"
    user: object | None = None
    stakeholder: object | None = None

    @property
    def is_buyer(self) -> bool:
        return False


def request_actor(request) -> RequestActor:
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyUser):
        return RequestActor(name=user.display_name)
    return RequestActor(name=user.display_name, user=user)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme of ApiKeyAuthentication (drf-spectacular finds it when this
    module is imported: DRF imports it for every request)."""

    target_class = "deals.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A workspace API key (`tdm_…`), created by an admin in Settings.",
        }
