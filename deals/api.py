"""REST API: the machinery every resource shares (workspace resolution, conditional
requests, filtering, cursor pagination, error bodies) and the deals resource.
stakeholders/api.py and plans/api.py build on it; config/api.py routes; the schema's
post-processing is deals/api_schema.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .authentication import request_actor
from .models import ApiKey, Deal, Membership, User
from .tenancy import SESSION_LAST_ORG

WORKSPACE_HEADER = "Tandem-Workspace"


# Errors ---------------------------------------------------------------------------------


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = (
        "Send the If-Match header with the ETag of your last read of this resource "
        "(updates without it could overwrite someone else's change)."
    )
    default_code = "precondition_required"


WILDCARD_REFUSED = (
    "If-Match: * is not accepted: it would skip the check that nobody changed this "
    "resource since you read it. Send the ETag of your last read of this resource."
)
MALFORMED_IF_MATCH = (
    'If-Match must list quoted ETags as this API sends them (e.g. If-Match: "3"): send the '
    "ETag of your last read of this resource."
)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "This resource changed since you read it: nothing was saved. "
        "Read it again (its current ETag is in this response) and retry."
    )
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's error bodies: `{"detail": "…"}`, or `{"field": ["…"]}` for invalid input.
    A 412 also carries the current ETag, so a client can re-read and retry."""
    response = drf_exception_handler(exc, context)
    if response is not None and getattr(exc, "etag", None):
        response["ETag"] = exc.etag
    return response


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """Field name → list of messages (`non_field_errors` for the whole object)."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


# Workspace resolution -------------------------------------------------------------------


class IsWorkspaceMember(permissions.BasePermission):
    """Resolve the workspace of the request into request.organization.

    An API key belongs to one workspace. A signed-in member (the app's own pages) names it
    in the Tandem-Workspace header (its slug), or gets the workspace they used last, or
    their only one. A workspace they are not a member of is 404, as in the app.
    """

    def has_permission(self, request, view):
        if isinstance(request.auth, ApiKey):
            request.organization = request.auth.organization
            request.membership = None
            return True
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        memberships = Membership.objects.filter(user=user).select_related("organization")
        slug = request.headers.get(WORKSPACE_HEADER) or request.session.get(SESSION_LAST_ORG)
        if slug:
            membership = memberships.filter(organization__slug=slug).first()
            if membership is None:
                raise exceptions.NotFound("No such workspace.")
        else:
            found = list(memberships[:2])
            if len(found) != 1:
                raise exceptions.PermissionDenied(
                    f"Name the workspace in the {WORKSPACE_HEADER} header (its slug)."
                )
            membership = found[0]
        request.organization = membership.organization
        request.membership = membership
        return True


# Conditional requests -------------------------------------------------------------------


def parse_etags(header: str) -> list[str]:
    """The entity tags of an If-Match / If-None-Match header, without W/ and quotes."""
    tags = []
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        tags.append(part.strip('"'))
    return [tag for tag in tags if tag]


def content_etag(data) -> str:
    """An opaque ETag for resources without a row version: a digest of the representation."""
    text = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


# One or more quoted entity tags (`"…"`, or `W/"…"` as some proxies rewrite them), separated
# by commas. Never `*`: it would claim a read that did not happen (428).
ETAG_LIST_PATTERN = r'^(W/)?"[^",*\s]+"(\s*,\s*(W/)?"[^",*\s]+")*$'


def if_match_tags(request, *, required: bool) -> list[str] | None:
    """The ETags named by If-Match, or None when it is absent and optional.

    428 when it is absent and required, and 428 wherever If-Match is read when it is `*` or
    not a list of quoted ETags (the schema's pattern): `*` ("any version") would turn the
    lost-update check off, and leaving the header out already says that where the check is
    optional (DELETE, actions). So only a well-formed tag that is not current gets a 412."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired()
        return None
    header = header.strip()
    if any(part.strip() == "*" for part in header.split(",")):
        raise PreconditionRequired(WILDCARD_REFUSED)
    # The pattern lives with the schema that documents it (below): one definition.
    if not re.fullmatch(ETAG_LIST_PATTERN, header):
        raise PreconditionRequired(MALFORMED_IF_MATCH)
    return parse_etags(header)


# Request bodies: the JSON types the schema documents ---------------------------------------

# DRF's fields coerce what they can: `0` becomes false, `5` the string "5", "7" the integer
# 7, a number the decimal amount. A client whose generated code sends the wrong type would
# get its data silently changed instead of an error, and the schema would lie about what is
# accepted. So a body is checked against the JSON types the schema declares before its
# values are validated.
_STRING_FIELDS = (
    serializers.CharField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.TimeField,
    serializers.DurationField,
    serializers.UUIDField,
    serializers.DecimalField,
)


def _json_type_errors(field, value):
    """The errors of `value` for `field` (a list, or a dict for nested objects), or None."""
    if value is None or field.read_only or isinstance(field, serializers.JSONField):
        return None  # null: the field says whether it is allowed.
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        if not isinstance(value, list):
            return ["Must be a list."]
        errors = {
            str(index): error
            for index, item in enumerate(value)
            if (error := _json_type_errors(field.child, item))
        }
        return errors or None
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return ["Must be an object."]
        return json_type_errors(field, value) or None
    if isinstance(field, serializers.BooleanField):
        ok, expected = isinstance(value, bool), "true or false"
    elif isinstance(field, serializers.IntegerField):
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        expected = "a number"
    elif isinstance(field, serializers.ChoiceField):
        keys = list(field.choices)
        if keys and all(isinstance(key, int) for key in keys):
            ok, expected = isinstance(value, int) and not isinstance(value, bool), "an integer"
        else:
            ok, expected = isinstance(value, str), "a string"
    elif isinstance(field, serializers.RelatedField):
        # DRF reads "" as null for a nullable reference; the schema says: an id, or null.
        ok, expected = isinstance(value, str) and value != "", "an id (a string), or null"
    elif isinstance(field, _STRING_FIELDS):
        ok, expected = isinstance(value, str), "a string"
        if isinstance(field, serializers.DecimalField):
            expected = 'a string (a decimal number such as "180000.00")'
    else:
        return None
    return None if ok else [f"Must be {expected}."]


def json_type_errors(serializer, data) -> dict:
    """Field name → errors, for the values of `data` whose JSON type the field refuses."""
    if not isinstance(data, dict):
        return {}  # The serializer itself answers "expected a dictionary".
    return {
        name: error
        for name, field in serializer.fields.items()
        if name in data and (error := _json_type_errors(field, data[name]))
    }


# Listing: filters, ordering, cursor pagination ------------------------------------------


class ApiPagination(CursorPagination):
    """Cursor pagination (stable under inserts); the order comes from the view's
    validated `ordering` parameter, with the primary key as tie-breaker."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"

    def get_ordering(self, request, queryset, view):
        return view.list_ordering()

    def get_page_size(self, request):
        """The page size asked for, or 400: DRF would silently fall back to the default
        for `page_size=0` or `abc` and cut 1000 down to 200, so a client that asked for
        something else would page through data it did not expect."""
        if self.page_size_query_param not in request.query_params:
            return self.page_size
        field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
        try:
            return field.run_validation(request.query_params[self.page_size_query_param])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({self.page_size_query_param: exc.detail}) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (default {self.page_size}); "
                    "400 outside these bounds."
                )
                parameter["schema"].update(
                    minimum=1, maximum=self.max_page_size, default=self.page_size
                )
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "Opaque position from the `next` or `previous` link of the previous page "
                    "(keep the other parameters the same); 404 if it is not one of ours."
                )
        return parameters


class ListParams(serializers.Serializer):
    """Query parameters of a list. Subclasses add filters and set ORDERINGS."""

    ORDERINGS: dict[str, tuple[str, ...]] = {"created_at": ("created_at", "id")}
    DEFAULT_ORDERING = "created_at"

    updated_since = serializers.DateTimeField(
        required=False, help_text="Only rows changed at or after this time (ISO 8601)."
    )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._declared_fields["ordering"] = serializers.ChoiceField(
            choices=sorted(cls.ORDERINGS),
            required=False,
            help_text=f"Sort order (default `{cls.DEFAULT_ORDERING}`).",
        )


def today_of(organization) -> date:
    """Today in the workspace's time zone (what "overdue" means for its people)."""
    return timezone.localdate(timezone=ZoneInfo(organization.time_zone))


class TenantViewSet(viewsets.GenericViewSet):
    """Base of every workspace resource: rows only through `for_org`, UUIDs in URLs,
    validated list parameters, ETags on reads and If-Match on updates."""

    permission_classes = [permissions.IsAuthenticated, IsWorkspaceMember]
    pagination_class = ApiPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_converter = "uuid"
    list_params_class: type[ListParams] | None = None
    list_params: dict = {}
    # The representation that reads return and ETags digest (actions may take other input).
    read_serializer_class = None

    @property
    def organization(self):
        return self.request.organization

    def actor(self):
        return request_actor(self.request)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and hasattr(self.request, "organization"):
            context["organization"] = self.request.organization
        return context

    def get_serializer(self, *args, **kwargs):
        """The serializer; 400 first if the body's values are not of their documented JSON
        types (see json_type_errors)."""
        serializer = super().get_serializer(*args, **kwargs)
        if "data" in kwargs and (errors := json_type_errors(serializer, kwargs["data"])):
            raise serializers.ValidationError(errors)
        return serializer

    # Lists

    def filter_queryset(self, queryset):
        if self.action != "list" or self.list_params_class is None:
            return queryset
        params = self.list_params_class(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        self.list_params = params.validated_data
        if since := self.list_params.get("updated_since"):
            queryset = queryset.filter(**{self.updated_field + "__gte": since})
        return self.apply_filters(queryset, self.list_params)

    updated_field = "updated_at"

    def apply_filters(self, queryset, params: dict):
        return queryset

    def list_ordering(self) -> tuple[str, ...]:
        params_class = self.list_params_class or ListParams
        key = self.list_params.get("ordering") or params_class.DEFAULT_ORDERING
        return params_class.ORDERINGS[key]

    # Reads

    def etag_for(self, instance, data) -> str:
        return content_etag(data)

    def represent(self, instance) -> dict:
        serializer_class = self.read_serializer_class or self.serializer_class
        return serializer_class(instance, context=self.get_serializer_context()).data

    def respond(self, instance, *, status_code=200, headers=None) -> Response:
        data = self.represent(instance)
        headers = {"ETag": self.etag_for(instance, data), **(headers or {})}
        return Response(data, status=status_code, headers=headers)

    def conditional_read(self, request):
        instance = self.get_object()
        data = self.represent(instance)
        etag = self.etag_for(instance, data)
        if_none_match = request.headers.get("If-None-Match", "")
        if if_none_match and etag.strip('"') in parse_etags(if_none_match):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def fresh(self, instance):
        """The row again, through the list queryset (its annotations and joins)."""
        return self.get_queryset().get(pk=instance.pk)

    # Changes: 404 first, then the form of If-Match (428), then the body (400), then If-Match
    # against the current version under a row lock (412), then the state (409, in the
    # services' callers): a request that could never succeed is told so, not that it is stale.

    def conditional_instance(self, *, required: bool = True):
        """The row, locked until the transaction ends, and the ETags that If-Match names
        (None when it is absent and optional). 404, then 428."""
        instance = self.get_object()
        tags = if_match_tags(self.request, required=required)
        type(instance).objects.select_for_update(no_key=True).filter(pk=instance.pk).first()
        return self.get_object(), tags

    def check_if_match(self, instance, tags: list[str] | None) -> None:
        """412, with the current ETag, unless If-Match named the row's current version."""
        if tags is None:
            return
        current = self.etag_for(instance, self.represent(instance))
        if current.strip('"') not in tags:
            error = PreconditionFailed()
            error.etag = current
            raise error

    def checked_instance(self, *, required: bool = True):
        """For a change without a body: the locked row, If-Match checked (404, 428, 412)."""
        instance, tags = self.conditional_instance(required=required)
        self.check_if_match(instance, tags)
        return instance

    def checked_update(self, request, *, partial: bool):
        with transaction.atomic():
            instance, tags = self.conditional_instance()
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.check_if_match(instance, tags)
            instance = self.perform_update(serializer)
        return self.respond(self.fresh(instance))

    def perform_update(self, serializer):
        raise NotImplementedError


class ListMixin:
    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class RetrieveMixin:
    def retrieve(self, request, *args, **kwargs):
        return self.conditional_read(request)


class UpdateMixin:
    """PUT and PATCH with If-Match against the current representation."""

    def update(self, request, *args, **kwargs):
        return self.checked_update(request, partial=False)

    def partial_update(self, request, *args, **kwargs):
        return self.checked_update(request, partial=True)


class ReadWriteViewSet(ListMixin, RetrieveMixin, UpdateMixin, TenantViewSet):
    """List, retrieve, create (defined by each resource), update."""


# Deals ----------------------------------------------------------------------------------

DEAL_EXAMPLE = {
    "id": "5b0c7a52-2f1e-4b5e-9a49-1f5d0a7c3e11",
    "account_name": "Initech",
    "name": "Platform rollout",
    "amount": "180000.00",
    "currency": "USD",
    "stage": "negotiation",
    "owner": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "owner_name": "Sam Seller",
    "target_close_date": "2026-06-30",
    "original_close_date": "2026-06-15",
    "closed_date": None,
    "plan": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "has_overdue_steps": False,
    "url": "https://tandem.example.com/o/acme/deals/5b0c7a52-2f1e-4b5e-9a49-1f5d0a7c3e11/",
    "created_at": "2026-03-02T09:15:00Z",
    "updated_at": "2026-03-20T16:40:12Z",
}


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d{1,12}(\.\d{1,2})?$",
        "example": "180000.00",
    }
)
class AmountField(serializers.DecimalField):
    """A deal's amount: a decimal string, not negative, at most 12 digits before the point
    and 2 after (the schema DRF derives would also allow "-5", "" and ".")."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=2, min_value=0, **kwargs)


@extend_schema_serializer(
    examples=[
        OpenApiExample("A deal", value=DEAL_EXAMPLE, response_only=True),
        OpenApiExample(
            "Create a deal",
            value={
                "account_name": "Initech",
                "name": "Platform rollout",
                "amount": "180000.00",
                "currency": "USD",
                "stage": "evaluation",
                "owner": "0f8fad5b-d9cb-469f-a165-70867728950e",
                "target_close_date": "2026-06-30",
            },
            request_only=True,
        ),
    ]
)
class DealSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    owner = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=User.objects.none(),
        help_text="A member of the workspace (their user id). Default: the API key's creator "
        "or the signed-in member.",
        required=False,
    )
    owner_name = serializers.CharField(source="owner.display_name", read_only=True)
    plan = serializers.UUIDField(
        source="plan_public_id", read_only=True, allow_null=True, help_text="Its plan, if any."
    )
    has_overdue_steps = serializers.BooleanField(read_only=True)
    url = serializers.SerializerMethodField(help_text="The deal's page in Tandem.")
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        error_messages={"invalid": "Use a three-letter currency code such as USD or EUR."},
    )
    amount = AmountField(required=False, coerce_to_string=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "account_name",
            "name",
            "amount",
            "currency",
            "stage",
            "owner",
            "owner_name",
            "target_close_date",
            "original_close_date",
            "closed_date",
            "room_closes_at",
            "plan",
            "has_overdue_steps",
            "url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["original_close_date", "created_at", "updated_at"]
        extra_kwargs = {
            "room_closes_at": {
                "help_text": "From this moment the buyers' links stop opening the deal room "
                "(and documents sent by link). Null: the room does not close by date."
            }
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["owner"].queryset = User.objects.filter(
                memberships__organization=organization
            )

    def get_url(self, deal) -> str:
        return settings.SITE_URL + deal.get_absolute_url()

    def validate_currency(self, value: str) -> str:
        return value.upper()

    def validate_room_closes_at(self, value):
        unchanged = self.instance is not None and value == self.instance.room_closes_at
        if value is not None and value <= timezone.now() and not unchanged:
            raise serializers.ValidationError("Choose a moment in the future.")
        return value

    def validate(self, attrs):
        stage = attrs.get("stage", self.instance.stage if self.instance else None)
        if self.instance is None and stage in Deal.CLOSED_STAGES:
            raise serializers.ValidationError(
                {"stage": ["Create the deal open, then close it (won or lost)."]}
            )
        if attrs.get("closed_date") and stage not in Deal.CLOSED_STAGES:
            raise serializers.ValidationError(
                {"closed_date": ["Only a deal closed won or lost has a closing date."]}
            )
        return attrs
