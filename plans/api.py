"""REST API: deals (with what their plans say of them), plans (one per deal), milestones,
templates, date changes and activity. The deals' endpoint lives here, not in deals/: its
list reads the plans (overdue steps, the plan's id), and deals/ sits below plans/.

Every write goes through plans/services.py, so the feed, slip history, version bumps and
domain events (and with them webhooks) are the same as in the app.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from deals import services as deal_services
from deals.api import (
    Conflict,
    DealSerializer,
    ListMixin,
    ListParams,
    ReadWriteViewSet,
    RetrieveMixin,
    TenantViewSet,
    today_of,
)
from deals.models import Deal, User

from . import evidence, plan_templates, services
from .models import (
    Activity,
    DueDateChange,
    Milestone,
    Phase,
    Plan,
    PlanTemplate,
    SignatureEvent,
    Visibility,
)
from .serializers import (
    ActivitySerializer,
    ArchiveSerializer,
    DateChangeSerializer,
    MilestoneSerializer,
    MilestoneUpdateSerializer,
    PlanCreateSerializer,
    PlanSerializer,
    RescheduleSerializer,
    TemplateSerializer,
)
from .signing import signatures
from .signing.serializers import (
    SignatureEventSerializer,
    SignatureRequestSerializer,
    SignatureStatusSerializer,
)


def _refuse_if_archived(plan: Plan) -> None:
    if plan.archived_at is not None:
        raise Conflict("This plan is archived: restore it before editing.")


def _location(request, name: str, public_id) -> str:
    return request.build_absolute_uri(reverse(f"api:{name}-detail", args=[public_id]))


# Plans ----------------------------------------------------------------------------------


class PlanListParams(ListParams):
    ORDERINGS = {
        "target_signature_date": ("target_signature_date", "id"),
        "-target_signature_date": ("-target_signature_date", "-id"),
        "updated_at": ("updated_at", "id"),
        "-updated_at": ("-updated_at", "-id"),
        "created_at": ("created_at", "id"),
        "-created_at": ("-created_at", "-id"),
    }
    DEFAULT_ORDERING = "target_signature_date"

    deal = serializers.UUIDField(required=False, help_text="The plan of this deal.")
    status = serializers.ChoiceField(choices=Plan.Status.values, required=False)
    archived = serializers.BooleanField(required=False)
    overdue = serializers.BooleanField(
        required=False, help_text="Only plans with (true) or without (false) overdue steps."
    )
    owner = serializers.UUIDField(required=False, help_text="The deal owner's user id.")
    stage = serializers.CharField(required=False, help_text="The deal's stage.")


@extend_schema_view(
    list=extend_schema(summary="List plans", parameters=[PlanListParams]),
    retrieve=extend_schema(summary="Get a plan"),
    create=extend_schema(
        summary="Create a deal's plan from a template",
        description="Steps are scheduled backwards from `target_date` in business days; "
        "owners are filled from the deal's stakeholders by role. A deal has one plan: 409 "
        "if it has one. Sends plan.created.",
        request=PlanCreateSerializer,
        responses={201: PlanSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit a plan's overview",
        description="Business outcome, success criteria, review day. Send If-Match. The "
        "target date moves with the reschedule action.",
    ),
    update=extend_schema(summary="Replace a plan's overview", description="Send If-Match."),
)
class PlanViewSet(ReadWriteViewSet):
    """Mutual action plans: one per deal."""

    serializer_class = PlanSerializer
    read_serializer_class = PlanSerializer
    list_params_class = PlanListParams

    def get_serializer_class(self):
        return {
            "create": PlanCreateSerializer,
            "reschedule": RescheduleSerializer,
            "archive": ArchiveSerializer,
        }.get(self.action, PlanSerializer)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Plan.objects.none()
        today = today_of(self.organization)
        open_steps = ~Q(milestones__status__in=Milestone.CLOSED_STATUSES)
        return (
            Plan.objects.for_org(self.organization)
            .select_related("deal", "organization")
            .annotate(
                steps_total=Count("milestones"),
                steps_done=Count("milestones", filter=Q(milestones__status="done")),
                steps_overdue=Count(
                    "milestones", filter=open_steps & Q(milestones__due_date__lt=today)
                ),
            )
        )

    def apply_filters(self, queryset, params):
        if deal := params.get("deal"):
            queryset = queryset.filter(deal__public_id=deal)
        if status := params.get("status"):
            queryset = queryset.filter(status=status)
        if "archived" in params:
            queryset = queryset.filter(archived_at__isnull=not params["archived"])
        if "overdue" in params:
            queryset = (
                queryset.filter(steps_overdue__gt=0)
                if params["overdue"]
                else queryset.filter(steps_overdue=0)
            )
        if owner := params.get("owner"):
            queryset = queryset.filter(deal__owner__public_id=owner)
        if stage := params.get("stage"):
            queryset = queryset.filter(deal__stage=stage)
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deal = data["deal"]
        with transaction.atomic():
            # Lock the deal so that two concurrent creations cannot both pass the check.
            type(deal).objects.select_for_update(no_key=True).filter(pk=deal.pk).first()
            if Plan.objects.filter(deal=deal).exists():
                raise Conflict("This deal already has a plan.")
            plan = services.create_plan_from_template(
                deal,
                template=data.get("template"),
                target_date=data["target_date"],
                business_outcome=data.get("business_outcome", ""),
                actor=self.actor(),
            )
        headers = {"Location": _location(request, "plan", plan.public_id)}
        return self.respond(self.fresh(plan), status_code=201, headers=headers)

    def perform_update(self, serializer):
        plan = serializer.instance
        _refuse_if_archived(plan)
        return services.update_plan_overview(plan, actor=self.actor(), **serializer.validated_data)

    @extend_schema(
        summary="Share a plan with the buyer",
        description="Marks a draft plan shared (idempotent). Sends plan.shared. If-Match is "
        "checked when sent.",
        request=None,
        responses={200: PlanSerializer},
    )
    @action(detail=True, methods=["post"])
    def share(self, request, id=None):  # noqa: A002 - the URL's name
        with transaction.atomic():
            plan = self.checked_instance(required=False)
            _refuse_if_archived(plan)
            services.share_plan(plan, actor=self.actor())
        return self.respond(self.fresh(plan))

    @extend_schema(
        summary="Move a plan's target signature date",
        description="Re-runs the backward schedule for the steps not done or cancelled; "
        "each moved date is kept with the reason. If-Match is checked when sent.",
        request=RescheduleSerializer,
        responses={200: PlanSerializer},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request, id=None):  # noqa: A002
        with transaction.atomic():
            plan, tags = self.conditional_instance(required=False)
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            self.check_if_match(plan, tags)
            _refuse_if_archived(plan)
            services.reschedule_plan(plan, actor=self.actor(), **serializer.validated_data)
        return self.respond(self.fresh(plan))

    @extend_schema(
        summary="Archive or restore a plan",
        description="An archived plan is read-only and hidden from lists in the app.",
        request=ArchiveSerializer,
        responses={200: PlanSerializer},
    )
    @action(detail=True, methods=["post"])
    def archive(self, request, id=None):  # noqa: A002
        with transaction.atomic():
            plan, tags = self.conditional_instance(required=False)
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            self.check_if_match(plan, tags)
            services.archive_plan(
                plan, actor=self.actor(), archived=serializer.validated_data["archived"]
            )
        return self.respond(self.fresh(plan))

    @extend_schema(
        summary="Get a plan's signature status",
        description="Each required signer on the current content (signed, declined, asked, "
        "not asked; and the version they signed before an amendment), the signed version, "
        "and the verification of the hash-chained event log. The events themselves: "
        "`GET /api/v1/signatures/?plan=<id>`.",
        responses={200: SignatureStatusSerializer},
    )
    @action(detail=True, methods=["get"])
    def signatures(self, request, id=None):  # noqa: A002
        plan = self.get_object()
        return Response(SignatureStatusSerializer(self._signature_status(plan)).data)

    @extend_schema(
        summary="Ask the required signers to sign",
        description="Every required signer who has not signed the current content is asked "
        "by email (buyers get a fresh personal room link, never shown here; sellers the "
        "plan's sign page), and a draft plan becomes shared. Needs a required signer with "
        "an email address on each side: otherwise 409 with the reason, and nothing is sent. "
        "If-Match is checked when sent.",
        request=None,
        responses={200: SignatureRequestSerializer},
    )
    @action(detail=True, methods=["post"], url_path="request-signatures")
    def request_signatures(self, request, id=None):  # noqa: A002
        with transaction.atomic():
            plan = self.checked_instance(required=False)
            _refuse_if_archived(plan)
            try:
                asked = signatures.request_signatures(plan, actor=self.actor())
            except signatures.SigningRefused as exc:
                raise Conflict(str(exc)) from None
        plan = self.fresh(plan)
        data = {**self._signature_status(plan), "asked": asked}
        return Response(SignatureRequestSerializer(data).data)

    def _signature_status(self, plan: Plan) -> dict:
        digest = evidence.content_hash(plan)
        events_url = self.request.build_absolute_uri(reverse("api:signature-list"))
        return {
            "plan": plan,
            "content_hash": digest,
            "signers": signatures.signature_block(plan, current_hash=digest),
            "chain": evidence.verify_chain(plan),
            "events_url": f"{events_url}?plan={plan.public_id}",
        }


# Milestones -----------------------------------------------------------------------------

FAR_FUTURE = date(9999, 12, 31)


class MilestoneListParams(ListParams):
    ORDERINGS = {
        # Undated steps last: the cursor needs a value on every row.
        "due_date": ("due_sort", "id"),
        "-due_date": ("-due_sort", "-id"),
        "updated_at": ("updated_at", "id"),
        "-updated_at": ("-updated_at", "-id"),
        "created_at": ("created_at", "id"),
        "-created_at": ("-created_at", "-id"),
    }
    DEFAULT_ORDERING = "due_date"

    plan = serializers.UUIDField(required=False)
    deal = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Milestone.Status.values, required=False)
    phase = serializers.ChoiceField(choices=Phase.values, required=False)
    visibility = serializers.ChoiceField(choices=Visibility.values, required=False)
    overdue = serializers.BooleanField(
        required=False,
        help_text="Open steps due before today in the workspace's time zone (true), or not.",
    )
    owner = serializers.UUIDField(
        required=False, help_text="Steps owned by this stakeholder (either side)."
    )


def milestone_etag(milestone: Milestone) -> str:
    return f'"{milestone.version}"'


@extend_schema_view(
    list=extend_schema(
        summary="List milestones",
        parameters=[MilestoneListParams],
        description="By due date (undated last). `overdue=true`: open steps past due.",
    ),
    retrieve=extend_schema(summary="Get a milestone"),
    create=extend_schema(summary="Add a step to a plan", description="At the end of its phase."),
    partial_update=extend_schema(
        summary="Update a step",
        description="Send If-Match with the ETag (the row version). A committed due date "
        "moves only with a `reason`. Completing sends milestone.completed; reopening "
        "milestone.reopened; a moved date milestone.date_changed.",
        request=MilestoneUpdateSerializer,
    ),
    update=extend_schema(
        summary="Replace a step", description="Send If-Match.", request=MilestoneUpdateSerializer
    ),
    destroy=extend_schema(
        summary="Delete a step", description="If-Match (the row version) is checked when sent."
    ),
)
class MilestoneViewSet(ListMixin, RetrieveMixin, TenantViewSet):
    """The dated steps of plans, each with a buyer and a seller owner.

    Their ETag is the row version."""

    serializer_class = MilestoneSerializer
    list_params_class = MilestoneListParams

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "organization" in context:
            context["today"] = today_of(context["organization"])
        return context

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Milestone.objects.none()
        return (
            Milestone.objects.for_org(self.organization)
            .select_related("plan", "plan__deal", "buyer_owner", "seller_owner", "depends_on")
            .annotate(due_sort=Coalesce("due_date", Value(FAR_FUTURE)))
        )

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(plan__deal__public_id=deal)
        for name in ("status", "phase", "visibility"):
            if value := params.get(name):
                queryset = queryset.filter(**{name: value})
        if "overdue" in params:
            overdue = queryset.overdue(today_of(self.organization))
            queryset = overdue if params["overdue"] else queryset.exclude(pk__in=overdue)
        if owner := params.get("owner"):
            queryset = queryset.filter(
                Q(buyer_owner__public_id=owner) | Q(seller_owner__public_id=owner)
            )
        return queryset

    def etag_for(self, instance, data) -> str:
        return milestone_etag(instance)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        plan = fields.pop("plan")
        fields.pop("reason", None)
        _refuse_if_archived(plan)
        milestone = services.add_milestone(plan, actor=self.actor(), **fields)
        headers = {"Location": _location(request, "milestone", milestone.public_id)}
        return self.respond(self.fresh(milestone), status_code=201, headers=headers)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            milestone, tags = self.conditional_instance()
            serializer = self.get_serializer(milestone, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.check_if_match(milestone, tags)
            _refuse_if_archived(milestone.plan)
            changes = dict(serializer.validated_data)
            reason = changes.pop("reason", "")
            try:
                # The row is locked and its version checked: the service checks it again.
                services.update_milestone(
                    milestone,
                    actor=self.actor(),
                    expected_version=milestone.version,
                    reason=reason,
                    **changes,
                )
            except services.ReasonRequired as exc:
                raise serializers.ValidationError({"reason": [str(exc)]}) from None
        return self.respond(self.fresh(milestone))

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            milestone = self.checked_instance(required=False)
            _refuse_if_archived(milestone.plan)
            services.delete_milestone(milestone, actor=self.actor())
        return Response(status=204)


# Templates ------------------------------------------------------------------------------


class TemplateListParams(ListParams):
    ORDERINGS = {
        "name": ("name", "id"),
        "created_at": ("created_at", "id"),
        "-created_at": ("-created_at", "-id"),
    }
    DEFAULT_ORDERING = "name"

    updated_since = None  # templates keep no change time
    built_in = serializers.BooleanField(required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List templates",
        parameters=[TemplateListParams],
        description="The built-in templates and the workspace's own.",
    ),
    retrieve=extend_schema(summary="Get a template"),
    create=extend_schema(summary="Create a workspace template"),
    partial_update=extend_schema(
        summary="Update a workspace template",
        description="Send If-Match. `steps`, when given, replace all steps. Built-in "
        "templates are read-only (403).",
    ),
    update=extend_schema(summary="Replace a workspace template", description="Send If-Match."),
    destroy=extend_schema(
        summary="Delete a workspace template",
        description="Plans made from it keep their steps. If-Match is checked when sent.",
    ),
)
class TemplateViewSet(ReadWriteViewSet):
    """Plan templates: built-in (read-only) and the workspace's own."""

    serializer_class = TemplateSerializer
    list_params_class = TemplateListParams

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PlanTemplate.objects.none()
        return PlanTemplate.objects.available_to(self.organization).prefetch_related("steps")

    def apply_filters(self, queryset, params):
        if "built_in" in params:
            queryset = queryset.filter(organization__isnull=params["built_in"])
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = plan_templates.create_template(
            self.organization,
            name=data["name"],
            description=data.get("description", ""),
            steps=data.get("steps", []),
        )
        headers = {"Location": _location(request, "template", template.public_id)}
        return self.respond(self.fresh(template), status_code=201, headers=headers)

    def conditional_instance(self, *, required: bool = True):
        # Read-only whatever the request's preconditions say: 403 before any 428 or 412.
        if self.get_object().is_built_in:
            raise exceptions.PermissionDenied(
                "Built-in templates are read-only: create your own from it."
            )
        return super().conditional_instance(required=required)

    def perform_update(self, serializer):
        return plan_templates.update_template(serializer.instance, **serializer.validated_data)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            template = self.checked_instance(required=False)
            template.delete()
        return Response(status=204)


# Read-only logs -------------------------------------------------------------------------


class LogListParams(ListParams):
    ORDERINGS = {"-created_at": ("-created_at", "-id"), "created_at": ("created_at", "id")}
    DEFAULT_ORDERING = "-created_at"

    plan = serializers.UUIDField(required=False)
    deal = serializers.UUIDField(required=False)


class DateChangeListParams(LogListParams):
    milestone = serializers.UUIDField(required=False)


class ActivityListParams(LogListParams):
    milestone = serializers.UUIDField(required=False)
    verb = serializers.ChoiceField(choices=Activity.Verb.values, required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List due-date changes (slip history)",
        parameters=[DateChangeListParams],
        description="Every move of a committed date: old and new date, who, why. Newest "
        "first; `updated_since` filters by the time of the change.",
    )
)
class DateChangeViewSet(ListMixin, TenantViewSet):
    """Slip history (read-only)."""

    serializer_class = DateChangeSerializer
    list_params_class = DateChangeListParams
    updated_field = "created_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DueDateChange.objects.none()
        return DueDateChange.objects.for_org(self.organization).select_related(
            "milestone", "milestone__plan", "milestone__plan__deal"
        )

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(milestone__plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(milestone__plan__deal__public_id=deal)
        if milestone := params.get("milestone"):
            queryset = queryset.filter(milestone__public_id=milestone)
        return queryset


@extend_schema_view(
    list=extend_schema(
        summary="List activity",
        parameters=[ActivityListParams],
        description="The plans' feeds (internal events included: keys act for the seller "
        "team). Newest first.",
    )
)
class ActivityViewSet(ListMixin, TenantViewSet):
    """Activity feeds of the plans (read-only)."""

    serializer_class = ActivitySerializer
    list_params_class = ActivityListParams
    updated_field = "created_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Activity.objects.none()
        return Activity.objects.for_org(self.organization).select_related(
            "plan", "plan__deal", "milestone"
        )

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(plan__deal__public_id=deal)
        if milestone := params.get("milestone"):
            queryset = queryset.filter(milestone__public_id=milestone)
        if verb := params.get("verb"):
            queryset = queryset.filter(verb=verb)
        return queryset


class SignatureListParams(LogListParams):
    ORDERINGS = {
        "-created_at": ("-created_at", "-id"),
        "created_at": ("created_at", "id"),
    }
    kind = serializers.ChoiceField(choices=SignatureEvent.Kind.values, required=False)
    side = serializers.ChoiceField(
        choices=["buyer", "seller"], required=False, help_text="The signer's side."
    )


@extend_schema_view(
    list=extend_schema(
        summary="List signature events",
        parameters=[SignatureListParams],
        description="The append-only, hash-chained log of the signature ritual: asked to "
        "sign, signed (typed name, content hash, time, IP address, user agent, how the "
        "signer proved who they were), declined (with the reason). Newest first; "
        "`ordering=created_at` with `plan=<id>` reads one plan's chain in order. "
        "`updated_since` filters by the time of the event.",
    ),
    retrieve=extend_schema(summary="Get a signature event"),
)
class SignatureEventViewSet(ListMixin, RetrieveMixin, TenantViewSet):
    """Signature events (read-only). A plan's status and chain check:
    /api/v1/plans/{id}/signatures/."""

    serializer_class = SignatureEventSerializer
    list_params_class = SignatureListParams
    updated_field = "created_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SignatureEvent.objects.none()
        return SignatureEvent.objects.for_org(self.organization).select_related(
            "plan", "plan__deal", "signer"
        )

    def apply_filters(self, queryset, params):
        if plan := params.get("plan"):
            queryset = queryset.filter(plan__public_id=plan)
        if deal := params.get("deal"):
            queryset = queryset.filter(plan__deal__public_id=deal)
        if kind := params.get("kind"):
            queryset = queryset.filter(kind=kind)
        if side := params.get("side"):
            queryset = queryset.filter(signer_side=side)
        return queryset


class DealListParams(ListParams):
    ORDERINGS = {
        "target_close_date": ("target_close_date", "id"),
        "-target_close_date": ("-target_close_date", "-id"),
        "amount": ("amount", "id"),
        "-amount": ("-amount", "-id"),
        "updated_at": ("updated_at", "id"),
        "-updated_at": ("-updated_at", "-id"),
        "created_at": ("created_at", "id"),
        "-created_at": ("-created_at", "-id"),
    }
    DEFAULT_ORDERING = "target_close_date"

    stage = serializers.ChoiceField(
        choices=[*Deal.Stage.values, "open"],
        required=False,
        help_text="A stage, or `open` for every stage but closed won and closed lost.",
    )
    owner = serializers.UUIDField(required=False, help_text="The owner's user id.")
    overdue = serializers.BooleanField(
        required=False, help_text="Only deals whose plan has (true) or has no (false) overdue step."
    )
    q = serializers.CharField(required=False, help_text="Search account and opportunity names.")


def _deal_has_overdue(organization):
    return Exists(
        Milestone.objects.filter(plan__deal=OuterRef("pk"), due_date__lt=today_of(organization))
        .exclude(status__in=["done", "cancelled"])
        .values("pk")
    )


@extend_schema_view(
    list=extend_schema(
        summary="List deals",
        parameters=[DealListParams],
        description="Deals of the workspace, by target close date. Cursor-paginated: "
        "follow `next`.",
    ),
    retrieve=extend_schema(summary="Get a deal"),
    create=extend_schema(summary="Create a deal", description="Sends the deal.created webhook."),
    partial_update=extend_schema(
        summary="Update a deal",
        description="Send If-Match. Closing (stage closed_won / closed_lost) sets the "
        "closing date to today unless given.",
    ),
    update=extend_schema(summary="Replace a deal", description="Send If-Match."),
)
class DealViewSet(ReadWriteViewSet):
    """Deals (opportunities) of the workspace."""

    serializer_class = DealSerializer
    list_params_class = DealListParams

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Deal.objects.none()
        return (
            Deal.objects.for_org(self.organization)
            .select_related("owner", "organization")
            .annotate(
                plan_public_id=F("plan__public_id"),
                has_overdue_steps=_deal_has_overdue(self.organization),
            )
        )

    def apply_filters(self, queryset, params):
        stage = params.get("stage")
        if stage == "open":
            queryset = queryset.open()
        elif stage:
            queryset = queryset.filter(stage=stage)
        if owner := params.get("owner"):
            queryset = queryset.filter(owner__public_id=owner)
        if "overdue" in params:
            queryset = queryset.filter(has_overdue_steps=params["overdue"])
        if q := params.get("q"):
            queryset = queryset.search(q)
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if "owner" not in fields:
            fields["owner"] = self._default_owner()
        deal = deal_services.create_deal(self.organization, actor=self.actor(), **fields)
        deal = self.fresh(deal)
        return self.respond(deal, status_code=201, headers={"Location": self._location(deal)})

    def _default_owner(self):
        user = self.request.user
        if isinstance(user, User):
            return user
        creator = self.request.auth.created_by
        if (
            creator is not None
            and creator.memberships.filter(organization=self.organization).exists()
        ):
            return creator
        raise serializers.ValidationError({"owner": ["Name the deal's owner (a member's id)."]})

    def _location(self, deal) -> str:
        return self.request.build_absolute_uri(reverse("api:deal-detail", args=[deal.public_id]))

    def perform_update(self, serializer):
        return deal_services.update_deal(
            serializer.instance, actor=self.actor(), **serializer.validated_data
        )
