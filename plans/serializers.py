"""REST API representations of plans, milestones, templates, date changes and activity.

The same rules as the app's forms: owners come from the deal's stakeholders of the right
side, close-plan steps are due by the target signature date, a step cannot be due before
the step it depends on.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from deals.api import today_of
from deals.models import Deal
from stakeholders.models import BuyerRole, SellerRole, Side, Stakeholder

from .models import (
    WEEKDAYS,
    Activity,
    DueDateChange,
    Milestone,
    Phase,
    Plan,
    PlanTemplate,
    Risk,
    TemplateStep,
)

DEAL_ID = "5b0c7a52-2f1e-4b5e-9a49-1f5d0a7c3e11"
PLAN_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
MILESTONE_ID = "16fd2706-8baf-433b-82eb-8c7fada847da"
TEMPLATE_ID = "886313e1-3b8a-5372-9b90-0c9aee199e5d"
BUYER_ID = "9a1c3f3e-8d0b-4a4e-bb59-3f1f6c2b7d10"
SELLER_ID = "c56a4180-65aa-42ec-a945-5fd21dec0538"


def _site_url(path: str) -> str:
    return settings.SITE_URL + path


# Plans ----------------------------------------------------------------------------------

PLAN_EXAMPLE = {
    "id": PLAN_ID,
    "deal": DEAL_ID,
    "deal_name": "Initech — Platform rollout",
    "status": "shared",
    "business_outcome": "Cut rep ramp from 9 to 5 months by Q3",
    "success_criteria": ["SSO with Okta", "Salesforce sync in both directions"],
    "target_signature_date": "2026-06-30",
    "review_weekday": 0,
    "version": 14,
    "template_name": "Enterprise (12 steps)",
    "shared_at": "2026-03-05T10:00:00Z",
    "signed_version": None,
    "signed_at": None,
    "archived_at": None,
    "steps_total": 12,
    "steps_done": 4,
    "steps_overdue": 1,
    "url": f"https://tandem.example.com/o/acme/deals/{DEAL_ID}/",
    "created_at": "2026-03-02T09:30:00Z",
    "updated_at": "2026-03-20T16:40:12Z",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("A plan", value=PLAN_EXAMPLE, response_only=True),
        OpenApiExample(
            "Edit the overview",
            value={
                "business_outcome": "Cut rep ramp from 9 to 5 months by Q3",
                "success_criteria": ["SSO with Okta", "Salesforce sync", "Live in 30 days"],
            },
            request_only=True,
        ),
    ]
)
class PlanSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    deal = serializers.UUIDField(source="deal.public_id", read_only=True)
    deal_name = serializers.CharField(source="deal.__str__", read_only=True)
    success_criteria = serializers.ListField(
        child=serializers.CharField(max_length=300, allow_blank=True),
        max_length=10,
        required=False,
        help_text="3–5 items work best (at most 10).",
    )
    review_weekday = serializers.ChoiceField(
        choices=WEEKDAYS, required=False, help_text="0 = Monday … 4 = Friday."
    )
    steps_total = serializers.IntegerField(read_only=True)
    steps_done = serializers.IntegerField(read_only=True)
    steps_overdue = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField(help_text="The plan's page in Tandem.")

    class Meta:
        model = Plan
        fields = [
            "id",
            "deal",
            "deal_name",
            "status",
            "business_outcome",
            "success_criteria",
            "target_signature_date",
            "review_weekday",
            "version",
            "template_name",
            "shared_at",
            "signed_version",
            "signed_at",
            "archived_at",
            "steps_total",
            "steps_done",
            "steps_overdue",
            "url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "target_signature_date",
            "version",
            "template_name",
            "shared_at",
            "signed_version",
            "signed_at",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "status": {
                "help_text": "draft → shared → signed (every required signer signed one "
                "version) → amended (the signed content changed since: sign again)."
            },
            "signed_version": {
                "help_text": "The version every required signer signed (kept when amended)."
            },
            "signed_at": {"help_text": "When the last required signer signed it."},
        }

    def get_url(self, plan) -> str:
        return _site_url(plan.get_absolute_url())

    def validate_success_criteria(self, value):
        return [item.strip() for item in value if item.strip()]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "From a template, scheduled back from the target date",
            value={
                "deal": DEAL_ID,
                "template": TEMPLATE_ID,
                "target_date": "2026-06-30",
                "business_outcome": "Cut rep ramp from 9 to 5 months by Q3",
            },
            request_only=True,
        ),
    ]
)
class PlanCreateSerializer(serializers.Serializer):
    """Create a deal's plan from a template, its steps scheduled backwards from the target
    signature date and their owners filled from the deal's stakeholders by role."""

    deal = serializers.SlugRelatedField(slug_field="public_id", queryset=Deal.objects.none())
    template = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=PlanTemplate.objects.none(),
        allow_null=True,
        required=False,
        help_text="A built-in or workspace template; null or absent: a blank plan.",
    )
    target_date = serializers.DateField(help_text="Target signature date.")
    business_outcome = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default=""
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["deal"].queryset = Deal.objects.for_org(organization)
            self.fields["template"].queryset = PlanTemplate.objects.available_to(organization)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Move the target date",
            value={"target_date": "2026-07-15", "reason": "Legal review moved by the buyer"},
            request_only=True,
        )
    ]
)
class RescheduleSerializer(serializers.Serializer):
    target_date = serializers.DateField(help_text="The new target signature date.")
    reason = serializers.CharField(max_length=300, help_text="Kept in every step's slip history.")

    def validate_reason(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Say why the plan is rescheduled.")
        return value.strip()


class ArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField(help_text="true: archive (read-only); false: restore.")


# Milestones -----------------------------------------------------------------------------

MILESTONE_EXAMPLE = {
    "id": MILESTONE_ID,
    "plan": PLAN_ID,
    "deal": DEAL_ID,
    "title": "Security questionnaire returned",
    "description": "",
    "phase": "close",
    "position": 4,
    "buyer_owner": BUYER_ID,
    "seller_owner": SELLER_ID,
    "due_date": "2026-05-12",
    "baseline_date": "2026-05-05",
    "slip_days": 7,
    "duration_days": 10,
    "status": "in_progress",
    "completed_at": None,
    "completed_by_name": "",
    "risk": "security",
    "shared_notes": "",
    "internal_note": "",
    "depends_on": None,
    "visibility": "shared",
    "is_signature_step": False,
    "is_overdue": False,
    "version": 3,
    "created_at": "2026-03-02T09:30:00Z",
    "updated_at": "2026-03-20T16:40:12Z",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("A step", value=MILESTONE_EXAMPLE, response_only=True),
        OpenApiExample(
            "Add a step",
            value={
                "plan": PLAN_ID,
                "title": "Procurement onboarding",
                "phase": "close",
                "due_date": "2026-06-10",
                "duration_days": 5,
                "risk": "procurement",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Move a committed date (with a reason)",
            value={"due_date": "2026-05-19", "reason": "Waiting for the pen-test report"},
            request_only=True,
        ),
        OpenApiExample("Complete a step", value={"status": "done"}, request_only=True),
    ]
)
class MilestoneSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    plan = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Plan.objects.none(),
        help_text="The plan (set on creation only).",
    )
    deal = serializers.UUIDField(source="plan.deal.public_id", read_only=True)
    buyer_owner = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Stakeholder.objects.none(),
        allow_null=True,
        required=False,
        help_text="A buyer-side stakeholder of the deal.",
    )
    seller_owner = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Stakeholder.objects.none(),
        allow_null=True,
        required=False,
        help_text="A seller-side stakeholder of the deal.",
    )
    depends_on = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Milestone.objects.none(),
        allow_null=True,
        required=False,
        help_text="Another step of the same plan.",
    )
    duration_days = serializers.IntegerField(
        min_value=1, max_value=250, required=False, help_text="Business days."
    )
    slip_days = serializers.IntegerField(read_only=True)
    is_overdue = serializers.SerializerMethodField()
    reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Required when a committed due date moves (kept in the slip history).",
    )

    class Meta:
        model = Milestone
        fields = [
            "id",
            "plan",
            "deal",
            "title",
            "description",
            "phase",
            "position",
            "buyer_owner",
            "seller_owner",
            "due_date",
            "baseline_date",
            "slip_days",
            "duration_days",
            "status",
            "completed_at",
            "completed_by_name",
            "risk",
            "shared_notes",
            "internal_note",
            "depends_on",
            "visibility",
            "is_signature_step",
            "is_overdue",
            "version",
            "reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "position",
            "baseline_date",
            "completed_at",
            "completed_by_name",
            "is_signature_step",
            "version",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"title": {"error_messages": {"blank": "Give the step a title."}}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["plan"].queryset = Plan.objects.for_org(organization).select_related("deal")
            stakeholders = Stakeholder.objects.for_org(organization)
            self.fields["buyer_owner"].queryset = stakeholders
            self.fields["seller_owner"].queryset = stakeholders
            self.fields["depends_on"].queryset = Milestone.objects.for_org(organization)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["plan"].read_only = True

    def get_is_overdue(self, milestone) -> bool:
        today = self.context.get("today")
        if today is None and self.context.get("organization") is not None:
            today = self.context["today"] = today_of(self.context["organization"])
        return bool(today) and milestone.is_overdue(today)

    def validate(self, attrs):
        instance = self.instance
        plan = attrs.get("plan") or instance.plan
        errors: dict[str, list[str]] = {}

        def current(name):
            return attrs[name] if name in attrs else getattr(instance, name, None)

        buyer, seller = attrs.get("buyer_owner"), attrs.get("seller_owner")
        if buyer is not None and (buyer.deal_id != plan.deal_id or buyer.side != Side.BUYER):
            errors["buyer_owner"] = ["Choose a buyer-side stakeholder of this deal."]
        if seller is not None and (seller.deal_id != plan.deal_id or seller.side != Side.SELLER):
            errors["seller_owner"] = ["Choose a seller-side stakeholder of this deal."]
        depends_on = attrs.get("depends_on")
        if depends_on is not None and (
            depends_on.plan_id != plan.pk or (instance is not None and depends_on.pk == instance.pk)
        ):
            errors["depends_on"] = ["Choose another step of the same plan."]
        # Date rules (as in the app's form), checked when the payload touches them.
        if {"due_date", "phase", "depends_on"} & attrs.keys():
            due, phase = current("due_date"), current("phase") or Phase.CLOSE
            target = plan.target_signature_date
            depends = current("depends_on")
            if due and phase == Phase.CLOSE and due > target:
                errors.setdefault("due_date", []).append(
                    f"A close-plan step must be due on or before the target signature date "
                    f"({target:%-d %b %Y}); move it to post-signature or reschedule the plan."
                )
            if due and phase == Phase.POST and due < target:
                errors.setdefault("due_date", []).append(
                    f"A post-signature step must be due on or after the target signature date "
                    f"({target:%-d %b %Y})."
                )
            if due and depends is not None and depends.due_date and due < depends.due_date:
                errors.setdefault("due_date", []).append(
                    f"It depends on “{depends.title}”, due {depends.due_date:%-d %b %Y}: "
                    "it cannot be due earlier."
                )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class MilestoneUpdateSerializer(MilestoneSerializer):
    """The body of PUT and PATCH: a step stays in its plan (`plan` is read-only there, so
    the schema does not ask for it)."""

    plan = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, help_text="The plan (set on creation only)."
    )


# Templates ------------------------------------------------------------------------------

TEMPLATE_EXAMPLE = {
    "id": TEMPLATE_ID,
    "name": "Mid-market (6 steps)",
    "description": "Our usual plan for 50–500 seat deals",
    "built_in": False,
    "steps": [
        {
            "position": 1,
            "title": "Business case agreed",
            "description": "",
            "phase": "close",
            "duration_days": 5,
            "buyer_role": "champion",
            "seller_role": "ae",
            "risk": "",
            "is_signature_step": False,
        },
        {
            "position": 2,
            "title": "Order form signed",
            "description": "",
            "phase": "close",
            "duration_days": 1,
            "buyer_role": "economic_buyer",
            "seller_role": "ae",
            "risk": "executive",
            "is_signature_step": True,
        },
    ],
    "created_at": "2026-01-10T08:00:00Z",
}


class TemplateStepSerializer(serializers.ModelSerializer):
    buyer_role = serializers.ChoiceField(
        choices=[("", "—"), *BuyerRole.choices], required=False, allow_blank=True
    )
    seller_role = serializers.ChoiceField(
        choices=[("", "—"), *SellerRole.choices], required=False, allow_blank=True
    )
    risk = serializers.ChoiceField(choices=Risk.choices, required=False, allow_blank=True)
    duration_days = serializers.IntegerField(min_value=1, max_value=250, required=False)

    class Meta:
        model = TemplateStep
        fields = [
            "position",
            "title",
            "description",
            "phase",
            "duration_days",
            "buyer_role",
            "seller_role",
            "risk",
            "is_signature_step",
        ]
        read_only_fields = ["position"]


@extend_schema_serializer(
    examples=[
        OpenApiExample("A workspace template", value=TEMPLATE_EXAMPLE, response_only=True),
        OpenApiExample(
            "Create a template",
            value={
                "name": "Mid-market (6 steps)",
                "description": "Our usual plan for 50–500 seat deals",
                "steps": [
                    {
                        "title": "Business case agreed",
                        "phase": "close",
                        "duration_days": 5,
                        "buyer_role": "champion",
                        "seller_role": "ae",
                    },
                    {
                        "title": "Order form signed",
                        "phase": "close",
                        "duration_days": 1,
                        "buyer_role": "economic_buyer",
                        "seller_role": "ae",
                        "risk": "executive",
                        "is_signature_step": True,
                    },
                ],
            },
            request_only=True,
        ),
    ]
)
class TemplateSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    built_in = serializers.BooleanField(source="is_built_in", read_only=True)
    steps = TemplateStepSerializer(
        many=True,
        required=False,
        max_length=60,
        help_text="Replaced as a whole when given (at most 60 steps).",
    )

    class Meta:
        model = PlanTemplate
        fields = ["id", "name", "description", "built_in", "steps", "created_at"]
        read_only_fields = ["created_at"]

    def to_internal_value(self, data):
        """`steps` replaces every step, so each step is validated whole in a PATCH too: DRF
        makes nested fields optional in a partial update, and a step without its title
        would be saved untitled."""
        if self.partial and isinstance(data, dict) and isinstance(data.get("steps"), list):
            steps = self.fields["steps"]
            whole = TemplateStepSerializer(
                many=True, max_length=steps.max_length, data=data["steps"], context=self.context
            )
            if not whole.is_valid():
                raise serializers.ValidationError({"steps": whole.errors})
        return super().to_internal_value(data)


# Read-only logs -------------------------------------------------------------------------


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A moved date",
            value={
                "milestone": MILESTONE_ID,
                "milestone_title": "Security questionnaire returned",
                "plan": PLAN_ID,
                "deal": DEAL_ID,
                "old_date": "2026-05-05",
                "new_date": "2026-05-12",
                "delta_days": 7,
                "reason": "Waiting for the pen-test report",
                "changed_by_name": "Sam Seller",
                "side": "seller",
                "created_at": "2026-03-20T16:40:12Z",
            },
            response_only=True,
        )
    ]
)
class DateChangeSerializer(serializers.ModelSerializer):
    milestone = serializers.UUIDField(source="milestone.public_id", read_only=True)
    milestone_title = serializers.CharField(source="milestone.title", read_only=True)
    plan = serializers.UUIDField(source="milestone.plan.public_id", read_only=True)
    deal = serializers.UUIDField(source="milestone.plan.deal.public_id", read_only=True)
    delta_days = serializers.IntegerField(read_only=True)

    class Meta:
        model = DueDateChange
        fields = [
            "milestone",
            "milestone_title",
            "plan",
            "deal",
            "old_date",
            "new_date",
            "delta_days",
            "reason",
            "changed_by_name",
            "side",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A completed step",
            value={
                "plan": PLAN_ID,
                "deal": DEAL_ID,
                "milestone": MILESTONE_ID,
                "verb": "milestone_completed",
                "verb_label": "completed a step",
                "actor_name": "Priya Raman",
                "side": "buyer",
                "summary": "set “Security questionnaire returned” to done",
                "visibility": "shared",
                "created_at": "2026-03-21T11:02:45Z",
            },
            response_only=True,
        )
    ]
)
class ActivitySerializer(serializers.ModelSerializer):
    plan = serializers.UUIDField(source="plan.public_id", read_only=True)
    deal = serializers.UUIDField(source="plan.deal.public_id", read_only=True)
    milestone = serializers.UUIDField(source="milestone.public_id", read_only=True, allow_null=True)
    verb_label = serializers.CharField(source="get_verb_display", read_only=True)

    class Meta:
        model = Activity
        fields = [
            "plan",
            "deal",
            "milestone",
            "verb",
            "verb_label",
            "actor_name",
            "side",
            "summary",
            "visibility",
            "created_at",
        ]
        read_only_fields = fields
