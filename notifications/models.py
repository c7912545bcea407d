"""Notifications: outgoing webhooks (endpoints and their delivery log), and reminders — the
sent-notification log (exactly-once), in-app notifications for sellers, email preferences and
the per-recipient email throttle of event notices."""

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
    "resource.added": "A file or link was added to a plan's materials",
    "resource.viewed": "Someone opened one of a plan's materials",
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


class Kind(models.TextChoices):
    """What an email is about. Each kind can be turned off per recipient."""

    DIGEST = "digest", "Daily digest of your steps due soon or overdue"
    WEEKLY_REVIEW = "weekly_review", "Weekly MAP review"
    STALE_PLAN = "stale_plan", "Plans with no activity for 14 days"
    ESCALATION = "escalation", "Buyer steps overdue by 7 days"
    EVENTS = "events", "Buyer activity (steps done, dates proposed, comments, signatures)"
    INVITE_REMINDER = "invite_reminder", "Reminder of an unopened deal room invitation"
    INVITE_UNOPENED = "invite_unopened", "Buyers who have not opened their invitation"


# What a buyer can receive (and so turn off from a link); sellers can receive every kind.
BUYER_KINDS = (Kind.DIGEST, Kind.WEEKLY_REVIEW, Kind.ESCALATION, Kind.INVITE_REMINDER)


class SentNotificationQuerySet(TenantQuerySet):
    def pending(self):
        return self.filter(status=SentNotification.Status.PENDING)


class SentNotification(models.Model):
    """One email that was decided on, keyed so it can exist only once.

    The row is inserted (pending) BEFORE anything is sent; the unique key (workspace,
    kind, recipient, scope, period) makes a second insert of the same email a no-op. A
    sender claims the row with a conditional UPDATE (a lease), sends, and marks it sent.
    A crash after the insert leaves the row pending; the next sweep re-queues pending rows
    whose lease expired, so nothing is dropped and nothing is sent twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"  # nothing left to say, or the email is turned off
        FAILED = "failed", "Failed"  # gave up after MAX_ATTEMPTS

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The lower-cased email address: one person, whichever stakeholder rows they have.
    recipient = models.CharField(max_length=254)
    # The plan, milestone or stakeholder the email is about (0 for per-person digests).
    scope_id = models.BigIntegerField(default=0)
    # The day ("2025-03-14"), the due date of an escalated step, the start of a stale period…
    period = models.CharField(max_length=40)
    # Ids the sender needs to build the email (it re-checks them when sending).
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SentNotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "recipient", "scope_id", "period"],
                name="sent_notification_once",
            )
        ]
        indexes = [
            # The sweep's look-up of what was already decided for a kind and period.
            models.Index(fields=["kind", "period"], name="sent_kind_period_idx"),
            # The sweep re-queues pending rows (a small set) through this partial index.
            models.Index(
                fields=["queued_at"],
                name="sent_pending_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.period}, {self.status})"


class NotificationQuerySet(TenantQuerySet):
    def unread(self):
        return self.filter(read_at=None)


class Notification(models.Model):
    """An in-app notification of a seller (the bell). Event notices are also emailed, in
    batches: `email_state` tracks that."""

    class EmailState(models.TextChoices):
        NONE = "", "Not emailed"
        PENDING = "pending", "Waiting for the next batch"
        BATCHED = "batched", "In a batch email"
        SKIPPED = "skipped", "Email turned off"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    verb = models.CharField(max_length=24, blank=True)  # the Activity verb of event notices
    plan = models.ForeignKey(
        "plans.Plan", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    milestone = models.ForeignKey(
        "plans.Milestone", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    text = models.CharField(max_length=400)
    url = models.CharField(max_length=400, blank=True)
    # The sweep email this came from (stale, escalation, unopened invitation): at most one.
    source = models.OneToOneField(
        SentNotification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email_state = models.CharField(
        max_length=8, choices=EmailState.choices, default=EmailState.NONE, blank=True
    )
    email_batch = models.ForeignKey(
        SentNotification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "organization", "-created_at"], name="notif_user_idx"),
            models.Index(
                fields=["user", "organization"],
                name="notif_unread_idx",
                condition=models.Q(read_at=None),
            ),
            models.Index(
                fields=["created_at"],
                name="notif_email_pending_idx",
                condition=models.Q(email_state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return self.text


class NotificationPreference(models.Model):
    """A recipient's choice for one kind of email in one workspace. No row: emails on.

    Keyed by email address, so buyers (no account) and sellers are treated alike."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email", "kind"], name="unique_notification_preference"
            )
        ]
        indexes = [models.Index(fields=["kind", "enabled"], name="pref_kind_idx")]

    def __str__(self) -> str:
        return f"{self.email}: {self.kind} {'on' if self.enabled else 'off'}"


class EmailThrottle(models.Model):
    """When a recipient may next get an email of a throttled kind (event notices: at most
    one per 10 minutes). Claimed with a conditional UPDATE, so two workers cannot both pass."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=254)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    next_allowed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "recipient", "kind"], name="unique_email_throttle"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.kind} after {self.next_allowed_at}"
