from django.urls import path

from . import views

app_name = "deals"

# Mounted under /o/<org_slug>/ by config/urls.py.
urlpatterns = [
    path("", views.workspace_home, name="workspace-home"),
    path("deals/", views.deal_list, name="deal-list"),
    path("deals/new/", views.deal_create, name="deal-create"),
    path("deals/<uuid:deal_id>/edit/", views.deal_edit, name="deal-edit"),
    path("deals/<uuid:deal_id>/close/", views.deal_close, name="deal-close"),
    path("settings/", views.workspace_settings, name="workspace-settings"),
    path("settings/members/<uuid:member_id>/role/", views.member_role, name="member-role"),
    path("settings/members/<uuid:member_id>/remove/", views.member_remove, name="member-remove"),
    path(
        "settings/invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("settings/security-log/", views.security_log, name="security-log"),
    path("settings/security-log/export/", views.security_log_export, name="security-log-export"),
    path("settings/api-keys/new/", views.api_key_create, name="api-key-create"),
    path("settings/api-keys/<uuid:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]
