"""The REST API's routes (/api/v1/), its OpenAPI schema and its docs.

Each app keeps its serializers and viewsets in <app>/api.py; only the routing lives here.
"""

from django.http import JsonResponse
from django.urls import Resolver404, path, re_path, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import SimpleRouter

from plans.api import (
    ActivityViewSet,
    DateChangeViewSet,
    DealViewSet,
    MilestoneViewSet,
    PlanViewSet,
    SignatureEventViewSet,
    TemplateViewSet,
)
from plans.material_api import ResourceSectionViewSet, ResourceViewSet, ResourceViewViewSet
from stakeholders.api import StakeholderViewSet

router = SimpleRouter(use_regex_path=False)
router.register("deals", DealViewSet, basename="deal")
router.register("plans", PlanViewSet, basename="plan")
router.register("milestones", MilestoneViewSet, basename="milestone")
router.register("stakeholders", StakeholderViewSet, basename="stakeholder")
router.register("templates", TemplateViewSet, basename="template")
router.register("date-changes", DateChangeViewSet, basename="date-change")
router.register("activity", ActivityViewSet, basename="activity")
router.register("signatures", SignatureEventViewSet, basename="signature")
router.register("resource-sections", ResourceSectionViewSet, basename="resource-section")
router.register("resources", ResourceViewSet, basename="resource")
router.register("resource-views", ResourceViewViewSet, basename="resource-view")


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Unknown API addresses answer in JSON like the rest of the API, not an HTML page, for
    every method. Exempt from CSRF: otherwise a POST (or PUT, PATCH, DELETE…) from a browser
    session gets Django's HTML CSRF page before this 404, and it changes nothing anyway.

    Under /api/ every path resolves (to this view at worst), so APPEND_SLASH never redirects
    there; the missing slash is named in the message instead."""
    detail = "Not found."
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            detail = f"Not found. API paths end with a slash: {request.path}/"
    return JsonResponse({"detail": detail}, status=404)


def _is_api(request) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def bad_request(request, exception):
    """Django's 400 (e.g. a Host header not allowed, a malformed request): JSON under /api/."""
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


class JsonErrors:
    """Errors (405 with Allow, 406, 401…) in JSON like the rest of the API, whatever the
    view renders when it succeeds (YAML, HTML or JavaScript here)."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(JsonErrors, SpectacularAPIView):
    """The OpenAPI schema (YAML, or JSON with `Accept: application/vnd.oai.openapi+json`)."""


class DocsView(JsonErrors, SpectacularSwaggerSplitView):
    """Swagger UI from this site's static files (drf-spectacular-sidecar): the page and
    its start-up script are separate requests, so nothing inline meets our strict CSP.

    Public like the schema, and it authenticates nobody: an API key sent by a client would
    make request.user an ApiKeyUser, which the page's template context does not know."""

    template_name = "api/schema_docs.html"
    authentication_classes = []


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api-schema:schema"), name="docs"),
]

v1_patterns = [*router.urls, re_path(r"^.*$", not_found)]
