from django.urls import path

from . import views

app_name = "notifications"

# Mounted under /o/<org_slug>/ by config/urls.py.
urlpatterns = [
    path("settings/webhooks/", views.webhook_list, name="webhook-list"),
    path("settings/webhooks/<uuid:endpoint_id>/", views.webhook_detail, name="webhook-detail"),
    path(
        "settings/webhooks/<uuid:endpoint_id>/toggle/",
        views.webhook_toggle,
        name="webhook-toggle",
    ),
    path(
        "settings/webhooks/<uuid:endpoint_id>/delete/",
        views.webhook_delete,
        name="webhook-delete",
    ),
    path(
        "settings/webhooks/deliveries/<uuid:delivery_id>/resend/",
        views.webhook_resend,
        name="webhook-resend",
    ),
]
