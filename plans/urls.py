from django.urls import path

from . import (
    calendar_views,
    drafting_views,
    material_views,
    milestone_views,
    sheet_views,
    stakeholder_views,
    template_views,
    views,
)
from .dashboard import views as dashboard_views
from .signing import views as signing_views

app_name = "plans"

# Mounted under /o/<org_slug>/ by config/urls.py.
urlpatterns = [
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("deals/<uuid:deal_id>/", views.plan_detail, name="plan-detail"),
    path("deals/<uuid:deal_id>/plan/create/", views.plan_create, name="plan-create"),
    path("deals/<uuid:deal_id>/plan/overview/", views.plan_overview, name="plan-overview"),
    path("deals/<uuid:deal_id>/plan/reschedule/", views.plan_reschedule, name="plan-reschedule"),
    path("deals/<uuid:deal_id>/plan/share/", views.plan_share, name="plan-share"),
    path("deals/<uuid:deal_id>/plan/archive/", views.plan_archive, name="plan-archive"),
    path(
        "deals/<uuid:deal_id>/plan/save-template/",
        views.plan_save_template,
        name="plan-save-template",
    ),
    path("deals/<uuid:deal_id>/transfer/", views.deal_transfer, name="deal-transfer"),
    path(
        "deals/<uuid:deal_id>/plan/request-signatures/",
        signing_views.plan_request_signatures,
        name="plan-request-signatures",
    ),
    path("deals/<uuid:deal_id>/plan/sign/", signing_views.plan_sign, name="plan-sign"),
    path("deals/<uuid:deal_id>/plan/decline/", signing_views.plan_decline, name="plan-decline"),
    path("deals/<uuid:deal_id>/plan/audit/", signing_views.plan_audit, name="plan-audit"),
    path("deals/<uuid:deal_id>/plan/pdf/", signing_views.plan_pdf, name="plan-pdf"),
    path(
        "deals/<uuid:deal_id>/milestones/add/", milestone_views.milestone_add, name="milestone-add"
    ),
    path(
        "deals/<uuid:deal_id>/stakeholders/add/",
        stakeholder_views.stakeholder_add,
        name="stakeholder-add",
    ),
    path("milestones/<uuid:milestone_id>/", milestone_views.milestone_row, name="milestone-row"),
    path(
        "milestones/<uuid:milestone_id>/edit/",
        milestone_views.milestone_edit,
        name="milestone-edit",
    ),
    path(
        "milestones/<uuid:milestone_id>/status/",
        milestone_views.milestone_status,
        name="milestone-status",
    ),
    path(
        "milestones/<uuid:milestone_id>/move/",
        milestone_views.milestone_move,
        name="milestone-move",
    ),
    path(
        "milestones/<uuid:milestone_id>/delete/",
        milestone_views.milestone_delete,
        name="milestone-delete",
    ),
    path(
        "stakeholders/<uuid:stakeholder_id>/edit/",
        stakeholder_views.stakeholder_edit,
        name="stakeholder-edit",
    ),
    path(
        "stakeholders/<uuid:stakeholder_id>/remove/",
        stakeholder_views.stakeholder_remove,
        name="stakeholder-remove",
    ),
    path(
        "milestones/<uuid:milestone_id>/thread/",
        milestone_views.milestone_thread,
        name="milestone-thread",
    ),
    path(
        "milestones/<uuid:milestone_id>/comment/",
        milestone_views.milestone_comment,
        name="milestone-comment",
    ),
    path(
        "milestones/<uuid:milestone_id>/attach/",
        milestone_views.milestone_attach,
        name="milestone-attach",
    ),
    path(
        "files/<uuid:attachment_id>/",
        milestone_views.attachment_download,
        name="attachment-download",
    ),
    path(
        "proposals/<uuid:proposal_id>/decide/",
        milestone_views.proposal_decide,
        name="proposal-decide",
    ),
    path(
        "stakeholders/<uuid:stakeholder_id>/invite/",
        stakeholder_views.stakeholder_invite,
        name="stakeholder-invite",
    ),
    path(
        "links/<uuid:link_id>/revoke/", stakeholder_views.room_link_revoke, name="room-link-revoke"
    ),
    path("templates/", template_views.template_list, name="template-list"),
    path("templates/<uuid:template_id>/", template_views.template_edit, name="template-edit"),
    path(
        "templates/<uuid:template_id>/materials/<uuid:resource_id>/remove/",
        template_views.template_resource_remove,
        name="template-resource-remove",
    ),
    path(
        "templates/<uuid:template_id>/delete/",
        template_views.template_delete,
        name="template-delete",
    ),
    # Shared materials (plans/material_views.py).
    path(
        "deals/<uuid:deal_id>/plan/materials/sections/add/",
        material_views.section_add,
        name="section-add",
    ),
    path(
        "materials/sections/<uuid:section_id>/edit/",
        material_views.section_edit,
        name="section-edit",
    ),
    path(
        "materials/sections/<uuid:section_id>/remove/",
        material_views.section_remove,
        name="section-remove",
    ),
    path(
        "materials/sections/<uuid:section_id>/move/<str:direction>/",
        material_views.section_move,
        name="section-move",
    ),
    path(
        "deals/<uuid:deal_id>/plan/materials/add/<str:kind>/",
        material_views.resource_add,
        name="resource-add",
    ),
    path("materials/<uuid:resource_id>/", material_views.resource_detail, name="resource-detail"),
    path("materials/<uuid:resource_id>/edit/", material_views.resource_edit, name="resource-edit"),
    path(
        "materials/<uuid:resource_id>/version/",
        material_views.resource_version,
        name="resource-version",
    ),
    path(
        "materials/<uuid:resource_id>/move/<str:direction>/",
        material_views.resource_move,
        name="resource-move",
    ),
    path(
        "materials/<uuid:resource_id>/remove/",
        material_views.resource_remove,
        name="resource-remove",
    ),
    path("materials/<uuid:resource_id>/file/", material_views.resource_file, name="resource-file"),
    path(
        "materials/<uuid:resource_id>/file/<uuid:version_id>/",
        material_views.resource_file,
        name="resource-version-file",
    ),
    path(
        "materials/<uuid:resource_id>/view/", material_views.resource_viewer, name="resource-viewer"
    ),
    path(
        "materials/<uuid:resource_id>/share/", material_views.resource_share, name="resource-share"
    ),
    path(
        "materials/links/<uuid:link_id>/revoke/",
        material_views.share_link_revoke,
        name="share-link-revoke",
    ),
    # Calendar feeds (plans/calendar_views.py).
    path("calendar/", calendar_views.my_calendars, name="calendars"),
    path("calendar/<uuid:feed_id>/revoke/", calendar_views.calendar_revoke, name="calendar-revoke"),
    path("milestones/<uuid:milestone_id>/ics/", calendar_views.milestone_ics, name="milestone-ics"),
    path(
        "deals/<uuid:deal_id>/plan/export.<str:fmt>",
        sheet_views.plan_export,
        name="plan-export",
    ),
    path("deals/<uuid:deal_id>/plan/import/", sheet_views.plan_import, name="plan-import"),
    path("imports/<uuid:import_id>/", sheet_views.import_preview, name="plan-import-preview"),
    path("deals/<uuid:deal_id>/plan/draft/", drafting_views.plan_draft, name="plan-draft"),
    path(
        "conversations/<uuid:conversation_id>/",
        drafting_views.conversation_detail,
        name="conversation",
    ),
]
