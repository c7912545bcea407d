from django.contrib import admin
from django.urls import include, path, re_path

from deals import views as deal_views
from plans import calendar_views, live, room_materials
from plans.signing import views as signing_views
from stakeholders import views as stakeholder_views

from . import api

urlpatterns = [
    path("", deal_views.home, name="home"),
    # /healthz and /readyz are answered by config.health.HealthMiddleware, ahead of the rest.
    path("accounts/", include("allauth.urls")),
    path("workspaces/new/", deal_views.workspace_create, name="workspace-create"),
    path("invite/<str:token>/", deal_views.invitation_accept, name="invitation-accept"),
    path("o/<slug:org_slug>/", include("deals.urls")),
    path("o/<slug:org_slug>/", include("plans.urls")),
    path("o/<slug:org_slug>/", include("notifications.urls")),
    path("r/<str:token>/", stakeholder_views.room_link, name="room-link"),
    path("r/<str:token>/request/", stakeholder_views.link_request_new, name="room-link-request"),
    path(
        "r/<str:token>/ics/<uuid:milestone_id>/",
        calendar_views.link_step_ics,
        name="room-link-step-ics",
    ),
    path("room/<uuid:deal_id>/", include("plans.room_urls")),
    # Calendar feeds (plans/calendars.py): a secret address per feed.
    path("cal/<str:token>.ics", calendar_views.calendar_feed, name="calendar-feed"),
    # One resource shared by link (plans/room_materials.py).
    path("s/<str:token>/", room_materials.share_link, name="resource-share-link"),
    path("shared/<uuid:link_id>/", room_materials.shared_resource, name="shared-resource"),
    path(
        "shared/<uuid:link_id>/download/",
        room_materials.shared_resource_download,
        name="shared-resource-download",
    ),
    path(
        "shared/<uuid:link_id>/content/",
        room_materials.shared_resource_content,
        name="shared-resource-content",
    ),
    path(
        "shared/<uuid:link_id>/views/<uuid:view_id>/time/",
        room_materials.shared_resource_time,
        name="shared-resource-time",
    ),
    path("events/plans/<uuid:plan_id>/", live.plan_events, name="plan-events"),
    path("verify/", signing_views.verify, name="verify-pdf"),
    path("brand/<uuid:org_id>/theme.css", deal_views.brand_theme, name="room-theme"),
    # Stored files (MEDIA_ROOT) have no URL of their own, not even under DEBUG: only views
    # that check access and set the type serve them (this logo, room files, plan PDFs).
    path("brand/<uuid:org_id>/logo", deal_views.brand_logo, name="room-logo"),
    path("", include("notifications.public_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api.v1_patterns, "api"), namespace="api")),
    path("api/", include((api.urlpatterns, "api-schema"), namespace="api-schema")),
    # Everything else under /api/ (and /api itself): a JSON 404, never an HTML page or an
    # APPEND_SLASH redirect.
    re_path(r"^api(/|$)", api.not_found),
]

# Django's own error pages answer in JSON under /api/ (the API's views answer theirs); an
# unreachable database answers 503 with a clear page (config/errors.py).
handler400 = api.bad_request
handler500 = "config.errors.server_error"
# allauth's answer when one of its rate limits refuses a request (it logs refused sign-ins).
handler429 = "deals.adapters.handler429"
