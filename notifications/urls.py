"""Mounted under /o/<org_slug>/ by config/urls.py: Settings → Webhooks and the notification
centre."""

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
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/bell/", views.notification_bell, name="notification-bell"),
    path("notifications/read-all/", views.notification_read_all, name="notification-read-all"),
    path(
        "notifications/<uuid:notification_id>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path(
        "notifications/preferences/",
        views.notification_preferences,
        name="notification-preferences",
    ),
]
