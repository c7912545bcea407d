"""Links that leave the site in emails: acting on a step from a digest, unsubscribing.
Mounted at the root by config/urls.py (names without a namespace, like the room's)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "r/<str:token>/act/<uuid:milestone_id>/<slug:action>/",
        views.room_act,
        name="room-act",
    ),
    path("inbound/email/", views.inbound_email, name="inbound-email"),
    path("u/<str:token>/", views.unsubscribe, name="notification-unsubscribe"),
    path(
        "u/<str:token>/preferences/",
        views.preferences_by_token,
        name="notification-preferences-token",
    ),
]
