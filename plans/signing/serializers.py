"""REST API representations of a plan's signatures: the event chain, each required
signer's status, the chain check, and what asking for signatures answers."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from plans.models import Plan, SignatureEvent
from plans.serializers import BUYER_ID, DEAL_ID, PLAN_ID, SELLER_ID
from stakeholders.models import Side

CONTENT_HASH = "9f2c4e0b7d5a3c1e8f6b4a2d0c9e7f5b3a1d8c6e4f2a0b9d7c5e3a1f8b6d4c2e"
SIGNATURE_EVENT_EXAMPLE = {
    "id": "b4f1d7a2-6c3e-4f8a-9d0b-2e5c7a1f3d9e",
    "plan": PLAN_ID,
    "deal": DEAL_ID,
    "sequence": 3,
    "kind": "signed",
    "signer": BUYER_ID,
    "signer_name": "Priya Raman",
    "signer_email": "priya@initech.example",
    "signer_role": "Economic buyer",
    "signer_side": "buyer",
    "typed_name": "Priya Raman",
    "plan_version": 14,
    "content_hash": CONTENT_HASH,
    "ip_address": "203.0.113.24",
    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15",
    "auth_method": "email code",
    "reason": "",
    "actor_name": "",
    "created_at": "2026-06-28T14:03:11Z",
    "prev_hash": "5e0a3c8f1b7d9e2a4c6f8b0d2e4a6c8e0f2b4d6a8c0e2f4a6b8d0c2e4f6a8b0d",
    "event_hash": "0c7e5a3f1d9b8e6c4a2f0d8b6e4c2a0f9e7d5b3a1c8f6e4d2b0a9f7e5c3d1b8a",
}


@extend_schema_serializer(
    examples=[OpenApiExample("Priya signed", value=SIGNATURE_EVENT_EXAMPLE, response_only=True)]
)
class SignatureEventSerializer(serializers.ModelSerializer):
    """One event of a plan's hash-chained signature log: asked to sign, signed, declined."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    plan = serializers.UUIDField(source="plan.public_id", read_only=True)
    deal = serializers.UUIDField(source="plan.deal.public_id", read_only=True)
    signer = serializers.UUIDField(
        source="signer.public_id",
        read_only=True,
        allow_null=True,
        help_text="The stakeholder (null once removed; their name, email and role stay).",
    )
    # Declared, so that the schema says what the log holds: an address, or "" for a signer
    # who had none (a read-only model field would be documented as an address only).
    signer_email = serializers.EmailField(read_only=True, allow_blank=True)

    class Meta:
        model = SignatureEvent
        fields = [
            "id",
            "plan",
            "deal",
            "sequence",
            "kind",
            "signer",
            "signer_name",
            "signer_email",
            "signer_role",
            "signer_side",
            "typed_name",
            "plan_version",
            "content_hash",
            "ip_address",
            "user_agent",
            "auth_method",
            "reason",
            "actor_name",
            "created_at",
            "prev_hash",
            "event_hash",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "sequence": {"help_text": "Position in the plan's chain, from 1."},
            "content_hash": {
                "help_text": "SHA-256 of the canonical plan content the event is about."
            },
            "auth_method": {"help_text": "How the signer proved who they were."},
            "reason": {"help_text": "Why they declined."},
            "actor_name": {"help_text": "Who asked for the signature (requests)."},
            "prev_hash": {"help_text": "The event_hash of the previous event (64 zeros first)."},
            "event_hash": {
                "help_text": "SHA-256 over this event's fields, the plan id and prev_hash."
            },
        }


class SignerStatusSerializer(serializers.Serializer):
    """A required signer and where they stand on the current content."""

    stakeholder = serializers.UUIDField(source="stakeholder.public_id")
    name = serializers.CharField(source="stakeholder.name")
    email = serializers.EmailField(source="stakeholder.email", allow_blank=True)
    role = serializers.CharField(source="stakeholder.role")
    side = serializers.ChoiceField(choices=Side.choices, source="stakeholder.side")
    state = serializers.SerializerMethodField(
        help_text="`signed` / `declined` the current content, `asked` to sign, or `not_asked`."
    )
    asked_at = serializers.DateTimeField(allow_null=True)
    signed_at = serializers.DateTimeField(source="signed.created_at", allow_null=True)
    signed_version = serializers.IntegerField(source="signed.plan_version", allow_null=True)
    typed_name = serializers.CharField(source="signed.typed_name", allow_null=True)
    auth_method = serializers.CharField(source="signed.auth_method", allow_null=True)
    declined_at = serializers.DateTimeField(source="declined.created_at", allow_null=True)
    decline_reason = serializers.CharField(source="declined.reason", allow_null=True)
    earlier_signed_version = serializers.IntegerField(
        source="earlier.plan_version",
        allow_null=True,
        help_text="The version they signed before the plan changed (null if none).",
    )

    def get_state(self, status) -> str:
        if status.signed:
            return "signed"
        if status.declined:
            return "declined"
        return "asked" if status.asked_at else "not_asked"


class ChainCheckSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="Every event's hash and link recomputes.")
    events = serializers.IntegerField(source="count")
    problem = serializers.CharField(
        allow_blank=True, help_text="The first broken link, e.g. “event 3 was altered”."
    )


SIGNATURE_STATUS_EXAMPLE = {
    "plan": PLAN_ID,
    "status": "signed",
    "version": 14,
    "content_hash": CONTENT_HASH,
    "signed_version": 14,
    "signed_content_hash": CONTENT_HASH,
    "signed_at": "2026-06-28T14:03:11Z",
    "signers": [
        {
            "stakeholder": BUYER_ID,
            "name": "Priya Raman",
            "email": "priya@initech.example",
            "role": "economic_buyer",
            "side": "buyer",
            "state": "signed",
            "asked_at": "2026-06-27T09:00:00Z",
            "signed_at": "2026-06-28T14:03:11Z",
            "signed_version": 14,
            "typed_name": "Priya Raman",
            "auth_method": "email code",
            "declined_at": None,
            "decline_reason": None,
            "earlier_signed_version": None,
        },
        {
            "stakeholder": SELLER_ID,
            "name": "Sam Seller",
            "email": "sam@acme.example",
            "role": "ae",
            "side": "seller",
            "state": "signed",
            "asked_at": "2026-06-27T09:00:00Z",
            "signed_at": "2026-06-27T09:05:40Z",
            "signed_version": 14,
            "typed_name": "Sam Seller",
            "auth_method": "recent sign-in",
            "declined_at": None,
            "decline_reason": None,
            "earlier_signed_version": None,
        },
    ],
    "chain": {"valid": True, "events": 4, "problem": ""},
    "events_url": f"https://tandem.example.com/api/v1/signatures/?plan={PLAN_ID}",
}


@extend_schema_serializer(
    examples=[OpenApiExample("A signed plan", value=SIGNATURE_STATUS_EXAMPLE, response_only=True)]
)
class SignatureStatusSerializer(serializers.Serializer):
    """Where a plan's signature ritual stands: each required signer on the current content,
    the signed version (if any), and whether the event chain verifies."""

    plan = serializers.UUIDField(source="plan.public_id")
    status = serializers.ChoiceField(choices=Plan.Status.choices, source="plan.status")
    version = serializers.IntegerField(source="plan.version")
    content_hash = serializers.CharField(
        help_text="SHA-256 of the plan's current canonical content (what a signature covers)."
    )
    signed_version = serializers.IntegerField(source="plan.signed_version", allow_null=True)
    signed_content_hash = serializers.CharField(source="plan.signed_content_hash", allow_blank=True)
    signed_at = serializers.DateTimeField(source="plan.signed_at", allow_null=True)
    signers = SignerStatusSerializer(many=True)
    chain = ChainCheckSerializer()
    events_url = serializers.CharField(help_text="The plan's signature events, in the API.")


class AskedSignerSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    side = serializers.ChoiceField(choices=Side.choices)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sent for signature",
            value={
                **SIGNATURE_STATUS_EXAMPLE,
                "status": "shared",
                "signed_version": None,
                "signed_content_hash": "",
                "signed_at": None,
                "signers": [
                    {
                        **signer,
                        "state": "asked",
                        "signed_at": None,
                        "signed_version": None,
                        "typed_name": None,
                        "auth_method": None,
                    }
                    for signer in SIGNATURE_STATUS_EXAMPLE["signers"]
                ],
                "chain": {"valid": True, "events": 2, "problem": ""},
                "asked": [
                    {"id": BUYER_ID, "name": "Priya Raman", "side": "buyer"},
                    {"id": SELLER_ID, "name": "Sam Seller", "side": "seller"},
                ],
            },
            response_only=True,
        )
    ]
)
class SignatureRequestSerializer(SignatureStatusSerializer):
    asked = AskedSignerSerializer(
        many=True, help_text="Who was asked now (not those who already signed this content)."
    )
