"""The REST API of plans' materials (plans/materials.py): their sections, the resources
with their engagement figures (links created as JSON, files uploaded as multipart, new
versions of a file), and every opening of a resource (read-only). Writes go through
plans/materials.py, as in the app.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.db.models.functions import Coalesce
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from deals.api import ListMixin, ListParams, RetrieveMixin, TenantViewSet

from . import materials
from .api import LogListParams, _location, _refuse_if_archived
from .attachments import AttachmentRejected
from .models import (
    Milestone,
    Plan,
    Resource,
    ResourceSection,
    ResourceVersion,
    ResourceView,
    Visibility,
)
from .serializers import MILESTONE_ID, PLAN_ID

# Serializers --------------------------------------------------------


SECTION_ID = "9b2f6e0a-4d1c-4f7e-8a3b-2c5d7e9f1a20"
RESOURCE_ID = "3f8a1c2d-5e6b-4a7c-9d0e-1f2a3b4c5d6e"
SECTION_EXAMPLE = {
    "id": SECTION_ID,
    "plan": PLAN_ID,
    "title": "Security & legal",
    "position": 2,
    "buyer_uploads": False,
    "created_at": "2026-03-02T09:40:00Z",
}
RESOURCE_EXAMPLE = {
    "id": RESOURCE_ID,
    "plan": PLAN_ID,
    "deal": "5b0c7a52-2f1e-4b5e-9a49-1f5d0a7c3e11",
    "section": SECTION_ID,
    "kind": "file",
    "title": "Security pack",
    "url": None,
    "note": "SOC 2 Type II report and pen-test summary",
    "visibility": "shared",
    "milestone": MILESTONE_ID,
    "position": 1,
    "file": {
        "id": "6e1d2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b",
        "version": 2,
        "name": "acme-security-pack-2026.pdf",
        "content_type": "application/pdf",
        "size": 1843201,
        "uploaded_by_name": "Sam Seller",
        "created_at": "2026-03-10T11:02:00Z",
    },
    "added_by_name": "Sam Seller",
    "side": "seller",
    "opens": 5,
    "people": 3,
    "seconds": 1260,
    "last_opened_at": "2026-03-19T15:12:40Z",
    "created_at": "2026-03-02T09:45:00Z",
    "updated_at": "2026-03-10T11:02:00Z",
}
RESOURCE_VIEW_EXAMPLE = {
    "id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "resource": RESOURCE_ID,
    "plan": PLAN_ID,
    "kind": "viewer",
    "stakeholder": "c56a4180-65aa-42ec-a945-5fd21dec0538",
    "stakeholder_name": "Priya Raman",
    "shared_with": None,
    "version": 2,
    "started_at": "2026-03-19T15:02:10Z",
    "last_seen_at": "2026-03-19T15:12:40Z",
    "seconds": 610,
    "pages": {"1": 35, "4": 410, "5": 165},
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("A section", value=SECTION_EXAMPLE, response_only=True),
        OpenApiExample(
            "Add a section buyers may upload to",
            value={"plan": PLAN_ID, "title": "Your documents", "buyer_uploads": True},
            request_only=True,
        ),
    ]
)
class ResourceSectionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    plan = serializers.SlugRelatedField(
        slug_field="public_id", queryset=Plan.objects.none(), help_text="The plan."
    )
    buyer_uploads = serializers.BooleanField(
        required=False, default=False, help_text="Buyers may add their own files to it."
    )

    class Meta:
        model = ResourceSection
        fields = ["id", "plan", "title", "position", "buyer_uploads", "created_at"]
        read_only_fields = ["position", "created_at"]
        extra_kwargs = {"title": {"error_messages": {"blank": "Give the section a name."}}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["plan"].queryset = Plan.objects.for_org(organization).select_related("deal")


class ResourceFileSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(source="original_name", read_only=True)
    version = serializers.IntegerField(source="number", read_only=True)

    class Meta:
        model = ResourceVersion
        fields = ["id", "version", "name", "content_type", "size", "uploaded_by_name", "created_at"]
        read_only_fields = fields


class InSectionAboutStep:
    """`section` and `milestone` of a resource: the workspace's own, and the step of the
    section's plan."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["section"].queryset = ResourceSection.objects.for_org(
                organization
            ).select_related("plan", "plan__deal")
            self.fields["milestone"].queryset = Milestone.objects.for_org(organization)

    def validate(self, attrs):
        section, milestone = attrs.get("section"), attrs.get("milestone")
        if milestone is not None and section is not None and milestone.plan_id != section.plan_id:
            raise serializers.ValidationError({"milestone": ["Choose a step of the same plan."]})
        return super().validate(attrs)


@extend_schema_serializer(
    examples=[
        OpenApiExample("A file with its engagement", value=RESOURCE_EXAMPLE, response_only=True),
        OpenApiExample(
            "Add a link about a step",
            value={
                "section": SECTION_ID,
                "title": "Recorded demo",
                "url": "https://video.example.com/acme-demo",
                "note": "The 20-minute version",
                "milestone": MILESTONE_ID,
            },
            request_only=True,
        ),
    ]
)
class ResourceSerializer(InSectionAboutStep, serializers.ModelSerializer):
    """A link or a file (its current version: `file`). The engagement figures count every
    opening by buyers and by recipients of share links."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    plan = serializers.UUIDField(source="plan.public_id", read_only=True)
    deal = serializers.UUIDField(source="plan.deal.public_id", read_only=True)
    section = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=ResourceSection.objects.none(),
        help_text="The section (of the plan) it is listed in.",
    )
    milestone = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Milestone.objects.none(),
        required=False,
        allow_null=True,
        help_text="The step of the same plan it is about, if any.",
    )
    url = serializers.URLField(
        max_length=500,
        help_text="An https:// address (links; null for files).",
        required=False,
        allow_null=True,
        validators=[RegexValidator(r"^https://", "Give an https:// address.")],
    )
    file = ResourceFileSerializer(source="current", read_only=True, allow_null=True)
    opens = serializers.IntegerField(
        read_only=True, help_text="Openings (viewer, downloads, links followed)."
    )
    people = serializers.IntegerField(read_only=True, help_text="People who opened it.")
    seconds = serializers.IntegerField(
        read_only=True, help_text="Seconds read in the PDF viewer, everyone's."
    )
    last_opened_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Resource
        fields = [
            "id",
            "plan",
            "deal",
            "section",
            "kind",
            "title",
            "url",
            "note",
            "visibility",
            "milestone",
            "position",
            "file",
            "added_by_name",
            "side",
            "opens",
            "people",
            "seconds",
            "last_opened_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "kind",
            "position",
            "added_by_name",
            "side",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"title": {"error_messages": {"blank": "Give the link a title."}}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["url"] = data["url"] or None  # a file has no address
        return data

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None and not attrs.get("url"):
            raise serializers.ValidationError({"url": ["A link needs its address."]})
        return attrs


class FileUploadSerializer(InSectionAboutStep, serializers.Serializer):
    """A new file resource (multipart/form-data): the file and where it goes."""

    section = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=ResourceSection.objects.none(),
        help_text="The section (of the plan) it is listed in.",
    )
    file = serializers.FileField(
        help_text="PDF, Word, Excel, PowerPoint, PNG, JPEG, GIF, WebP, plain text or CSV, "
        "recognised by its content; at most ATTACHMENT_MAX_MB (25 MB by default)."
    )
    title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Default: the file's name."
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.SHARED)
    milestone = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Milestone.objects.none(),
        required=False,
        allow_null=True,
        help_text="The step of the same plan it is about, if any.",
    )


class VersionUploadSerializer(serializers.Serializer):
    """A new version of a file resource (multipart/form-data); the older ones stay."""

    file = serializers.FileField(help_text="Accepted as for a new file.")


@extend_schema_serializer(
    examples=[OpenApiExample("Read in the viewer", value=RESOURCE_VIEW_EXAMPLE, response_only=True)]
)
class ResourceViewSerializer(serializers.ModelSerializer):
    """One opening of a resource."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    resource = serializers.UUIDField(source="resource.public_id", read_only=True)
    plan = serializers.UUIDField(source="resource.plan.public_id", read_only=True)
    stakeholder = serializers.UUIDField(
        source="stakeholder.public_id", read_only=True, allow_null=True
    )
    stakeholder_name = serializers.CharField(
        source="stakeholder.name", read_only=True, allow_null=True
    )
    shared_with = serializers.EmailField(
        source="share_link.recipient_email",
        read_only=True,
        allow_null=True,
        help_text="The recipient of the share link it was opened with, if any.",
    )
    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True)
    pages = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text='Seconds on each page in the PDF viewer: {"3": 41}.',
    )

    class Meta:
        model = ResourceView
        fields = [
            "id",
            "resource",
            "plan",
            "kind",
            "stakeholder",
            "stakeholder_name",
            "shared_with",
            "version",
            "started_at",
            "last_seen_at",
            "seconds",
            "pages",
        ]
        read_only_fields = fields


# Viewsets -------------------------------------------------------------------------


class SectionListParams(ListParams):
    ORDERINGS = {"position": ("plan_id", "position", "id")}
    DEFAULT_ORDERING = "position"

    plan = serializers.UUIDField(required=False)
    deal = serializers.UUIDField(required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List the sections of plans' materials", parameters=[SectionListParams]
    ),
    retrieve=extend_schema(summary="Get a section"),
    create=extend_schema(
        summary="Add a section to a plan's materials", description="At the end of its plan's."
    ),
)
class ResourceSectionViewSet(ListMixin, RetrieveMixin, TenantViewSet):
    """The sections a plan's materials are grouped in ("Proposal", "Security & legal")."""

    serializer_class = ResourceSectionSerializer
    list_params_class = SectionListParams
    updated_field = "created_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ResourceSection.objects.none()
        return ResourceSection.objects.for_org(self.organization).select_related("plan")

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(plan__deal__public_id=deal)
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _refuse_if_archived(data["plan"])
        section = materials.add_section(
            data["plan"],
            actor=self.actor(),
            title=data["title"],
            buyer_uploads=data.get("buyer_uploads", False),
        )
        headers = {"Location": _location(request, "resource-section", section.public_id)}
        return self.respond(self.fresh(section), status_code=201, headers=headers)


class ResourceListParams(ListParams):
    ORDERINGS = {
        "position": ("plan_id", "section__position", "position", "id"),
        "created_at": ("created_at", "id"),
        "-created_at": ("-created_at", "-id"),
        "updated_at": ("updated_at", "id"),
        "-updated_at": ("-updated_at", "-id"),
    }
    DEFAULT_ORDERING = "position"

    plan = serializers.UUIDField(required=False)
    deal = serializers.UUIDField(required=False)
    section = serializers.UUIDField(required=False)
    kind = serializers.ChoiceField(choices=Resource.Kind.values, required=False)
    visibility = serializers.ChoiceField(choices=Visibility.values, required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List plans' materials",
        parameters=[ResourceListParams],
        description="Files and links, each with its engagement (openings, people, seconds "
        "read in the viewer, the last opening). A file's bytes are served only in the app, "
        "to people with access.",
    ),
    retrieve=extend_schema(summary="Get a resource"),
    create=extend_schema(
        summary="Add a link to a plan's materials",
        description="At the end of its section; shared with the buyers unless `visibility` "
        "is `internal`. Sends resource.added.",
    ),
    destroy=extend_schema(summary="Remove a resource", description="With its engagement."),
)
class ResourceViewSet(ListMixin, RetrieveMixin, TenantViewSet):
    """A plan's materials: files (with versions) and links, in sections."""

    serializer_class = ResourceSerializer
    list_params_class = ResourceListParams

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Resource.objects.none()
        return (
            Resource.objects.for_org(self.organization)
            .select_related("plan", "plan__deal", "section", "milestone", "current")
            .annotate(
                opens=Count("views", distinct=True),
                people=Count("views__stakeholder", distinct=True)
                + Count("views__share_link", distinct=True),
                seconds=Coalesce(Sum("views__seconds"), 0),
                last_opened_at=Max("views__last_seen_at"),
            )
        )

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(plan__deal__public_id=deal)
        if section := params.get("section"):
            queryset = queryset.filter(section__public_id=section)
        for name in ("kind", "visibility"):
            if value := params.get(name):
                queryset = queryset.filter(**{name: value})
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        section = data.pop("section")
        _refuse_if_archived(section.plan)
        try:
            resource = materials.add_link(
                section.plan,
                actor=self.actor(),
                section=section,
                title=data["title"],
                url=data["url"],
                note=data.get("note", ""),
                visibility=data.get("visibility", Visibility.SHARED),
                milestone=data.get("milestone"),
            )
        except materials.MaterialRefused as refused:
            raise serializers.ValidationError({"milestone": [str(refused)]}) from None
        headers = {"Location": _location(request, "resource", resource.public_id)}
        return self.respond(self.fresh(resource), status_code=201, headers=headers)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            resource = self.checked_instance(required=False)
            _refuse_if_archived(resource.plan)
            materials.remove_resource(resource, actor=self.actor())
        return Response(status=204)

    @extend_schema(
        summary="Upload a file to a plan's materials",
        description="multipart/form-data. At the end of its section; shared with the buyers "
        "unless `visibility` is `internal`. The file is recognised by its content (400 with "
        "the reason otherwise). Sends resource.added.",
        request={"multipart/form-data": FileUploadSerializer},
        responses={201: ResourceSerializer},
    )
    @action(detail=False, methods=["post"], url_path="files", parser_classes=[MultiPartParser])
    def upload(self, request):
        serializer = FileUploadSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        section = data.pop("section")
        milestone = data.get("milestone")
        _refuse_if_archived(section.plan)
        try:
            resource = materials.add_file(
                section.plan,
                actor=self.actor(),
                section=section,
                upload=data["file"],
                title=data.get("title", ""),
                note=data.get("note", ""),
                visibility=data["visibility"],
                milestone=milestone,
            )
        except AttachmentRejected as rejected:
            raise serializers.ValidationError({"file": [str(rejected)]}) from None
        except materials.MaterialRefused as refused:
            raise serializers.ValidationError({"milestone": [str(refused)]}) from None
        headers = {"Location": _location(request, "resource", resource.public_id)}
        return self.respond(self.fresh(resource), status_code=201, headers=headers)

    @extend_schema(
        summary="Upload a new version of a file",
        description="multipart/form-data. The older versions stay listed in the app. "
        "If-Match (the resource's ETag) is checked when sent.",
        request={"multipart/form-data": VersionUploadSerializer},
        responses={200: ResourceSerializer},
    )
    @action(detail=True, methods=["post"], url_path="versions", parser_classes=[MultiPartParser])
    def versions(self, request, id=None):  # noqa: A002 - the URL's name
        serializer = VersionUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            resource = self.checked_instance(required=False)
            _refuse_if_archived(resource.plan)
            try:
                materials.add_version(
                    resource, actor=self.actor(), upload=serializer.validated_data["file"]
                )
            except AttachmentRejected as rejected:
                raise serializers.ValidationError({"file": [str(rejected)]}) from None
            except materials.MaterialRefused as refused:
                raise exceptions.ValidationError({"file": [str(refused)]}) from None
        return self.respond(self.fresh(resource))


class ResourceViewListParams(LogListParams):
    ORDERINGS = {"-started_at": ("-started_at", "-id"), "started_at": ("started_at", "id")}
    DEFAULT_ORDERING = "-started_at"

    resource = serializers.UUIDField(required=False)
    stakeholder = serializers.UUIDField(required=False)
    kind = serializers.ChoiceField(choices=ResourceView.Kind.values, required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List openings of materials (engagement)",
        parameters=[ResourceViewListParams],
        description="Who opened which resource, when, how (viewer, download, link), and "
        "for PDFs in the viewer the seconds on each page. Newest first; `updated_since` "
        "filters by the last activity of the opening.",
    )
)
class ResourceViewViewSet(ListMixin, TenantViewSet):
    """Engagement with the materials (read-only)."""

    serializer_class = ResourceViewSerializer
    list_params_class = ResourceViewListParams
    updated_field = "last_seen_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ResourceView.objects.none()
        return ResourceView.objects.for_org(self.organization).select_related(
            "resource", "resource__plan", "stakeholder", "share_link", "version"
        )

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(resource__plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(resource__plan__deal__public_id=deal)
        if resource := params.get("resource"):
            queryset = queryset.filter(resource__public_id=resource)
        if stakeholder := params.get("stakeholder"):
            queryset = queryset.filter(stakeholder__public_id=stakeholder)
        if kind := params.get("kind"):
            queryset = queryset.filter(kind=kind)
        return queryset
