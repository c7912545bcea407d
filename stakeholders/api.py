"""REST API: the stakeholders of deals (both sides). Writes go through services.py, so
the plan's feed records them and owner gaps are filled as in the app."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from deals import emails
from deals.api import Conflict, ListParams, ReadWriteViewSet
from deals.models import Deal, User

from . import services
from .models import ROLE_CHOICES, BuyerRole, Side, Stakeholder

STAKEHOLDER_EXAMPLE = {
    "id": "9a1c3f3e-8d0b-4a4e-bb59-3f1f6c2b7d10",
    "deal": "5b0c7a52-2f1e-4b5e-9a49-1f5d0a7c3e11",
    "side": "buyer",
    "name": "Priya Raman",
    "title": "VP Finance",
    "email": "priya@initech.example",
    "phone": "+1 555 0100",
    "role": "economic_buyer",
    "role_label": "Economic buyer",
    "is_required_signer": True,
    "user": None,
    "invited_at": "2026-03-05T10:00:00Z",
    "last_visit_at": "2026-03-21T11:02:45Z",
    "visit_count": 3,
    "created_at": "2026-03-02T09:20:00Z",
    "updated_at": "2026-03-02T09:20:00Z",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("A buyer stakeholder", value=STAKEHOLDER_EXAMPLE, response_only=True),
        OpenApiExample(
            "Add the economic buyer",
            value={
                "deal": "5b0c7a52-2f1e-4b5e-9a49-1f5d0a7c3e11",
                "name": "Priya Raman",
                "title": "VP Finance",
                "email": "priya@initech.example",
                "role": "economic_buyer",
            },
            request_only=True,
        ),
    ]
)
class StakeholderSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    deal = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Deal.objects.none(),
        help_text="The deal (set on creation only).",
    )
    role = serializers.ChoiceField(
        choices=ROLE_CHOICES, help_text="The side follows the role (buyer or seller roles)."
    )
    role_label = serializers.CharField(read_only=True)
    is_required_signer = serializers.BooleanField(
        required=False,
        help_text="Default on creation: economic buyers and account executives sign.",
    )
    user = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=User.objects.none(),
        allow_null=True,
        required=False,
        help_text="A Tandem user of the workspace (seller side only).",
    )

    class Meta:
        model = Stakeholder
        fields = [
            "id",
            "deal",
            "side",
            "name",
            "title",
            "email",
            "phone",
            "role",
            "role_label",
            "is_required_signer",
            "user",
            "invited_at",
            "last_visit_at",
            "visit_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "side",
            "invited_at",
            "last_visit_at",
            "visit_count",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "email": {
                "help_text": "Where the person's room and signing links go: their identity. "
                "Changing it revokes their room links, voids outstanding signing requests "
                "and codes, and is recorded in the plan's feed, the signature log and the "
                "security log."
            },
            "invited_at": {"help_text": "When a buyer was last sent a room link."},
            "last_visit_at": {"help_text": "A buyer's last visit of the deal room."},
            "visit_count": {"help_text": "How many times a buyer opened the deal room."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["deal"].queryset = Deal.objects.for_org(organization)
            self.fields["user"].queryset = User.objects.filter(
                memberships__organization=organization
            )
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["deal"].read_only = True

    def validate(self, attrs):
        role = attrs.get("role", getattr(self.instance, "role", None))
        user = attrs.get("user", getattr(self.instance, "user", None))
        if user is not None and role in BuyerRole.values:
            raise serializers.ValidationError(
                {"user": ["Only seller-side stakeholders can be linked to a Tandem user."]}
            )
        return attrs


class StakeholderUpdateSerializer(StakeholderSerializer):
    """The body of PUT and PATCH: a stakeholder stays on their deal (`deal` is read-only
    there, so the schema does not ask for it)."""

    deal = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, help_text="The deal (set on creation only)."
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Invited",
            value={
                "stakeholder": STAKEHOLDER_EXAMPLE,
                "room_url": "https://tandem.example.com/r/Zk3v9QpX2rT7mWc1bN8sLd4hYe6uJa0o/",
                "expires_at": "2026-04-04T10:00:00Z",
            },
            response_only=True,
        )
    ]
)
class InvitationSerializer(serializers.Serializer):
    stakeholder = StakeholderSerializer()
    room_url = serializers.URLField(
        help_text="The buyer's personal link to the deal room, also emailed to them. Shown "
        "this once: only its hash is kept, so it cannot be read again (invite again for a "
        "new one)."
    )
    expires_at = serializers.DateTimeField(help_text="The link stops working then.")
    emailed = serializers.BooleanField(
        help_text="Whether the mail server took the invitation email. False: it refused or "
        "did not answer; the link works, send it yourself or invite again later."
    )


class StakeholderListParams(ListParams):
    ORDERINGS = {
        "name": ("name", "id"),
        "created_at": ("created_at", "id"),
        "-created_at": ("-created_at", "-id"),
        "updated_at": ("updated_at", "id"),
    }
    DEFAULT_ORDERING = "created_at"

    deal = serializers.UUIDField(required=False, help_text="Only this deal's stakeholders.")
    side = serializers.ChoiceField(choices=Side.values, required=False)
    role = serializers.ChoiceField(choices=[c[0] for c in ROLE_CHOICES], required=False)


def _refuse_if_archived(deal: Deal) -> None:
    try:
        plan = deal.plan
    except ObjectDoesNotExist:
        return
    if plan.archived_at is not None:
        raise Conflict("This deal's plan is archived: restore it before editing.")


@extend_schema_view(
    list=extend_schema(summary="List stakeholders", parameters=[StakeholderListParams]),
    retrieve=extend_schema(summary="Get a stakeholder"),
    create=extend_schema(
        summary="Add a stakeholder",
        description="The side follows the role. A stakeholder whose role a step's template "
        "asked for becomes that step's owner where it has none.",
    ),
    partial_update=extend_schema(
        summary="Update a stakeholder",
        description="Send If-Match.",
        request=StakeholderUpdateSerializer,
    ),
    update=extend_schema(
        summary="Replace a stakeholder",
        description="Send If-Match.",
        request=StakeholderUpdateSerializer,
    ),
    destroy=extend_schema(
        summary="Remove a stakeholder",
        description="Their steps lose that owner. If-Match is checked when sent.",
    ),
)
class StakeholderViewSet(ReadWriteViewSet):
    """People of a deal on both sides, with their roles."""

    serializer_class = StakeholderSerializer
    list_params_class = StakeholderListParams

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Stakeholder.objects.none()
        return Stakeholder.objects.for_org(self.organization).select_related("deal", "user")

    def apply_filters(self, queryset, params):
        if deal := params.get("deal"):
            queryset = queryset.filter(deal__public_id=deal)
        if side := params.get("side"):
            queryset = queryset.filter(side=side)
        if role := params.get("role"):
            queryset = queryset.filter(role=role)
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        deal = fields.pop("deal")
        _refuse_if_archived(deal)
        stakeholder = services.add_stakeholder(deal, actor=self.actor(), **fields)
        location = request.build_absolute_uri(
            reverse("api:stakeholder-detail", args=[stakeholder.public_id])
        )
        return self.respond(
            self.fresh(stakeholder), status_code=201, headers={"Location": location}
        )

    @extend_schema(
        summary="Invite a buyer to the deal room",
        description="Emails the buyer stakeholder a new personal room link and returns it "
        "once (it is never retrievable again; earlier links keep working until revoked). "
        "Records the invitation in the plan's feed, shares a draft plan and sends "
        "stakeholder.invited. 409 for a seller-side stakeholder, one without an email "
        "address, or an archived plan.",
        request=None,
        responses={201: InvitationSerializer},
    )
    @action(detail=True, methods=["post"])
    def invite(self, request, id=None):  # noqa: A002 - the URL's name
        with transaction.atomic():
            # If-Match, when sent, guards the address the link goes to (like plan actions).
            stakeholder = self.checked_instance(required=False)
            _refuse_if_archived(stakeholder.deal)
            try:
                link, url = services.invite_buyer(stakeholder, actor=self.actor())
            except services.InviteRefused as exc:
                raise Conflict(str(exc)) from None
        data = {
            "stakeholder": self.fresh(stakeholder),
            "room_url": url,
            "expires_at": link.expires_at,
            # Sent (or refused) when the transaction above committed.
            "emailed": not emails.unsent(request._request),
        }
        body = InvitationSerializer(data, context=self.get_serializer_context()).data
        # The body holds a credential: no cache may keep it.
        return Response(body, status=201, headers={"Cache-Control": "no-store"})

    def perform_update(self, serializer):
        _refuse_if_archived(serializer.instance.deal)
        return services.update_stakeholder(
            serializer.instance, actor=self.actor(), **serializer.validated_data
        )

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            stakeholder = self.checked_instance(required=False)
            _refuse_if_archived(stakeholder.deal)
            services.remove_stakeholder(stakeholder, actor=self.actor())
        return Response(status=204)
