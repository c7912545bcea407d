"""The buyer's deal room, mounted at /room/<deal_id>/ (names without a namespace)."""

from django.urls import path

from . import calendar_views, room, room_materials
from .signing import views as signing_views

urlpatterns = [
    path("", room.room, name="room"),
    path("steps/add/", room.room_milestone_add, name="room-milestone-add"),
    path("steps/<uuid:milestone_id>/", room.room_milestone_row, name="room-milestone-row"),
    path(
        "steps/<uuid:milestone_id>/status/",
        room.room_milestone_status,
        name="room-milestone-status",
    ),
    path("steps/<uuid:milestone_id>/propose/", room.room_propose, name="room-propose"),
    path("steps/<uuid:milestone_id>/thread/", room.room_thread, name="room-thread"),
    path("steps/<uuid:milestone_id>/comment/", room.room_comment, name="room-comment"),
    path("steps/<uuid:milestone_id>/attach/", room.room_attach, name="room-attach"),
    path("files/<uuid:attachment_id>/", room.room_attachment, name="room-file"),
    path("sign/", signing_views.room_sign, name="room-sign"),
    path("sign/code/", signing_views.room_sign_code, name="room-sign-code"),
    path("sign/verify/", signing_views.room_sign_verify, name="room-sign-verify"),
    path("sign/decline/", signing_views.room_decline, name="room-decline"),
    path("pdf/", signing_views.room_pdf, name="room-pdf"),
    path("people/add/", room.room_stakeholder_add, name="room-person-add"),
    path("people/<uuid:stakeholder_id>/edit/", room.room_stakeholder_edit, name="room-person-edit"),
    path("materials/<uuid:resource_id>/", room_materials.room_resource, name="room-resource"),
    path(
        "materials/<uuid:resource_id>/download/",
        room_materials.room_resource_download,
        name="room-resource-download",
    ),
    path(
        "materials/<uuid:resource_id>/download/<uuid:version_id>/",
        room_materials.room_resource_download,
        name="room-resource-version",
    ),
    path(
        "materials/<uuid:resource_id>/content/",
        room_materials.room_resource_content,
        name="room-resource-content",
    ),
    path(
        "materials/<uuid:resource_id>/remove/",
        room_materials.room_resource_remove,
        name="room-resource-remove",
    ),
    path(
        "materials/views/<uuid:view_id>/time/",
        room_materials.room_resource_time,
        name="room-resource-time",
    ),
    path(
        "materials/sections/<uuid:section_id>/upload/",
        room_materials.room_upload,
        name="room-upload",
    ),
    path("materials/forward/", room_materials.room_forward, name="room-forward"),
    path("steps/<uuid:milestone_id>/ics/", calendar_views.room_step_ics, name="room-step-ics"),
    path("calendar/", calendar_views.room_calendar, name="room-calendar"),
]
