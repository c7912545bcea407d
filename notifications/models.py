"""Outgoing webhooks: the endpoints a workspace registered and the log of deliveries."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from deals.models import Organization, TenantQuerySet

# Event type → what it means (shown when registering an endpoint, and in the README).
EVENT_TYPES = {
    "deal.created": "A deal was created",
    "plan.created": "A deal's plan was created",
    "plan.shared": "A plan was shared with the buyer",
    "plan.signed": "Every required signer signed the plan",
    "plan.amended": "A signed plan was edited",
    "milestone.completed": "A step was completed",
    "milestone.reopened": "A completed step was reopened",
    "milestone.date_changed": "A step's committed due date moved",
    "milestone.overdue": "A step became overdue",
    "stakeholder.invited": "A buyer was invited to the deal room",
    "room.visited": "A buyer opened the deal room",
}


class WebhookEndpoint(models.Model):
    class Kind(models.TextChoices):
        JSON = "json", "JSON (Standard Webhooks, signed)"
        SLACK = "slack", "Slack incoming webhook (readable messages)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.JSON)
    # The event types it receives; empty: all of them.
    event_types = models.JSONField(default=list, blank=True)
    # Needed in clear to sign each delivery (HMAC); shown to the admin once, at creation.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @property
    def secret_hint(self) -> str:
        return self.secret[:10] + "…"


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: its payload, attempts and the last result."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Will retry"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The Standard Webhooks message id (`webhook-id`): the same on every attempt and resend,
    # so receivers can ignore duplicates.
    event_id = models.CharField(max_length=40, db_index=True)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            # The retry sweep reads waiting deliveries by due time.
            models.Index(
                fields=["next_retry_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status__in=["pending", "retrying", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
