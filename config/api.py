"""The REST API's routes (/api/v1/), its OpenAPI schema and its docs.

Each app keeps its serializers and viewsets in <app>/api.py; only the routing lives here.
"""

from django.http import JsonResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from deals.api import DealViewSet
from plans.api import (
    ActivityViewSet,
    DateChangeViewSet,
    MilestoneViewSet,
    PlanViewSet,
    SignatureEventViewSet,
    TemplateViewSet,
)
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


def not_found(request, *args, **kwargs):
    """Unknown API addresses answer in JSON like the rest of the API, not an HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from this site's static files (drf-spectacular-sidecar): the page and
    its start-up script are separate requests, so nothing inline meets our strict CSP."""

    template_name = "api/schema_docs.html"


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api-schema:schema"), name="docs"),
]

v1_patterns = [*router.urls, re_path(r"^.*$", not_found)]
