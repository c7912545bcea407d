"""Tenancy (Organization, Membership, Invitation), users, and deals."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import timedelta
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from . import user_agents

TIME_ZONE_CHOICES = [(name, name.replace("_", " ")) for name in sorted(available_timezones())]
ACCENT_COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
DEFAULT_ACCENT_COLOR = "#1f6feb"


def css_color(value: str) -> str:
    """`value` if it is a colour like #1f6feb, else the default: what goes into a stylesheet
    or an email's <style>. The form validates the field; this guards the CSS against a value
    stored any other way (shell, import, an older version), which could end the rule."""
    return value if re.fullmatch(ACCENT_COLOR_PATTERN, value or "") else DEFAULT_ACCENT_COLOR


class UserManager(DjangoUserManager):
    """Users sign in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.display_name

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        # The address the account had when it was read: when allauth changes it, the
        # security log names the previous one (deals/adapters.py), which allauth does not
        # pass on for an account that has no primary EmailAddress row (invited teammates).
        user.email_when_loaded = user.__dict__.get("email", "")
        return user

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Revisioned(models.Model):
    """A row with a `revision` (deals/revisions.py). A save of a loaded row never writes
    the revision it was loaded with back over one bumped meanwhile: a revision that went
    back could match a page cached under it before, with other content."""

    revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding and not args and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "revision"
            ]
        super().save(*args, **kwargs)


class Organization(Revisioned):
    """A workspace: the tenant. Every tenant-owned row points to one."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    # Buyer room links expire after this many days.
    room_link_days = models.PositiveSmallIntegerField(
        "buyer link lifetime (days)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    # Branding of the buyer room and emails.
    logo = models.ImageField(upload_to="logos/", blank=True)
    accent_color = models.CharField(
        "accent colour",
        max_length=7,
        default=DEFAULT_ACCENT_COLOR,
        validators=[RegexValidator(ACCENT_COLOR_PATTERN, "Use a colour like #1f6feb.")],
    )
    # `revision` moves with every change of the workspace, its members or their names: part
    # of the key of every cached deal page (deals/revisions.py).
    # Reminders: a buyer-side step overdue by 7 days also notifies the buyer's champion.
    escalate_to_champion = models.BooleanField(
        "escalate overdue buyer steps to the champion",
        default=False,
        help_text="A buyer-side step overdue by 7 days always notifies the deal owner; "
        "with this on, the buyer's champion too.",
    )
    # The dashboard's MAP coverage counts open deals of at least this amount (0: every deal).
    map_coverage_threshold = models.DecimalField(
        "MAP coverage threshold",
        max_digits=14,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="The dashboard's MAP coverage counts open deals of at least this amount "
        "(in the deal's own currency). 0 counts every open deal.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("deals:deal-list", kwargs={"org_slug": self.slug})


class TenantQuerySet(models.QuerySet):
    """Base queryset of tenant-owned rows: views load rows only through `for_org`."""

    def for_org(self, organization: Organization):
        return self.filter(organization=organization)


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MANAGER = "manager", "Manager"
        SELLER = "seller", "Seller"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.SELLER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def is_manager(self) -> bool:
        """Managers and admins see the whole workspace; sellers their own deals."""
        return self.role in {self.Role.ADMIN, self.Role.MANAGER}


def hash_token(token: str) -> str:
    """Tokens (invitations, magic links, API keys) are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(TenantQuerySet):
    def pending(self, now=None):
        now = now or timezone.now()
        return self.filter(accepted_at=None, revoked_at=None, expires_at__gt=now)


class Invitation(models.Model):
    """A single-use, expiring invitation of a teammate into a workspace with a role."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @classmethod
    def new_token(cls) -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def default_expiry():
        return timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.is_expired():
            return "expired"
        return "pending"


class DealQuerySet(TenantQuerySet):
    def open(self):
        return self.exclude(stage__in=Deal.CLOSED_STAGES)

    def search(self, text: str):
        text = text.strip()
        if not text:
            return self
        return self.filter(models.Q(account_name__icontains=text) | models.Q(name__icontains=text))


class Deal(Revisioned):
    class Stage(models.TextChoices):
        DISCOVERY = "discovery", "Discovery"
        EVALUATION = "evaluation", "Evaluation"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        CLOSED_WON = "closed_won", "Closed won"
        CLOSED_LOST = "closed_lost", "Closed lost"

    CLOSED_STAGES = (Stage.CLOSED_WON, Stage.CLOSED_LOST)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="deals")
    account_name = models.CharField("account", max_length=200)
    name = models.CharField("opportunity", max_length=200)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DISCOVERY)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_deals"
    )
    target_close_date = models.DateField()
    # The target close date as first entered: "closed on or before the original target".
    original_close_date = models.DateField(editable=False)
    closed_date = models.DateField(null=True, blank=True)
    # The deal room's end: from this moment the buyers' links (and documents sent by link)
    # stop opening it. None: it does not close by date (links still expire one by one).
    room_closes_at = models.DateTimeField(null=True, blank=True)
    # `revision` moves with every change of what the deal's pages show (its plan page, its
    # buyer room): the key of their cached bodies (deals/revisions.py).
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["target_close_date", "account_name"]
        indexes = [models.Index(fields=["organization", "stage", "target_close_date"])]

    def __str__(self) -> str:
        return f"{self.account_name} — {self.name}"

    def save(self, *args, **kwargs):
        if self.original_close_date is None:
            self.original_close_date = self.target_close_date
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse(
            "plans:plan-detail",
            kwargs={"org_slug": self.organization.slug, "deal_id": self.public_id},
        )

    @property
    def room_open_until(self):
        """The last moment the room opens (for "open until <day>", in the viewer's zone)."""
        return self.room_closes_at - timedelta(microseconds=1) if self.room_closes_at else None

    def room_closed(self, now=None) -> bool:
        return self.room_closes_at is not None and (now or timezone.now()) >= self.room_closes_at

    @property
    def is_closed(self) -> bool:
        return self.stage in self.CLOSED_STAGES


class ApiKeyQuerySet(TenantQuerySet):
    def active(self):
        return self.filter(revoked_at=None)


class ApiKey(models.Model):
    """A workspace's key for the REST API (`Authorization: Bearer <key>`).

    The key is shown once when created; only its SHA-256 is stored, with its first
    characters (`prefix`) so that admins can recognise it in Settings.
    """

    PREFIX = "tdm_"
    # "tdm_" and 8 characters of the random part: enough to tell keys apart, useless alone.
    PREFIX_LENGTH = 12
    # How many addresses a key remembers (the oldest is forgotten first): an integration
    # usually calls from a handful.
    KNOWN_ADDRESSES = 50

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The client addresses (IPv4, or an IPv6 /64) the key was used from, oldest first: a
    # request from another one is written to the security log (services.note_api_key_address).
    known_addresses = models.JSONField(default=list, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def new_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def touch(self, now=None) -> None:
        """Record use, at most once a minute (a busy integration must not write per call)."""
        now = now or timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class SecurityEventQuerySet(TenantQuerySet):
    def older_than(self, moment):
        return self.filter(created_at__lt=moment)

    def of_kind(self, value: str):
        """One kind ("sign_in"), or a group of kinds ("group:sign-in", see
        SecurityEvent.GROUPS); empty: all."""
        if not value:
            return self
        if value.startswith("group:"):
            return self.filter(SecurityEvent.group_filter(value.removeprefix("group:")))
        return self.filter(kind=value)

    def by(self, text: str):
        """Entries whose actor's name or email contains `text` (any case)."""
        text = text.strip()
        if not text:
            return self
        return self.filter(models.Q(actor__icontains=text) | models.Q(actor_email__icontains=text))


class SecurityEvent(models.Model):
    """One entry of a workspace's security log (Settings → Security log).

    Append-only: the application never updates a row, and deletes rows only when they pass
    the retention period (`SECURITY_LOG_RETENTION_DAYS`) or with their workspace. On
    PostgreSQL a trigger refuses UPDATE as well (migration 0007).
    """

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        LOCKOUT = "lockout", "Locked out (too many attempts)"
        PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
        PASSWORD_RESET = "password_reset", "Password reset"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        ACCOUNT_EMAIL_ADDED = "account_email_added", "Account email added"
        ACCOUNT_EMAIL_CHANGED = "account_email_changed", "Sign-in email changed"
        ACCOUNT_EMAIL_REMOVED = "account_email_removed", "Account email removed"
        INVITATION_SENT = "invitation_sent", "Teammate invited"
        INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
        ROLE_CHANGED = "role_changed", "Role changed"
        MEMBER_REMOVED = "member_removed", "Member removed"
        API_KEY_CREATED = "api_key_created", "API key created"
        API_KEY_REVOKED = "api_key_revoked", "API key revoked"
        API_KEY_NEW_IP = "api_key_new_ip", "API key used from a new IP address"
        WEBHOOK_CREATED = "webhook_created", "Webhook endpoint added"
        WEBHOOK_CHANGED = "webhook_changed", "Webhook endpoint changed"
        WEBHOOK_DELETED = "webhook_deleted", "Webhook endpoint removed"
        ROOM_LINK_CREATED = "room_link_created", "Room link created"
        ROOM_LINK_REVOKED = "room_link_revoked", "Room link revoked"
        IDENTITY_CHANGED = "identity_changed", "Stakeholder email changed"
        STAKEHOLDER_REMOVED = "stakeholder_removed", "Stakeholder removed"
        SIGNATURES_REQUESTED = "signatures_requested", "Signature requested"
        SIGNING_CODE_SENT = "signing_code_sent", "Signing code sent"
        SIGNING_CODE_FAILED = "signing_code_failed", "Signing code failed"
        SIGNED = "signed", "Plan signed"
        SIGNATURE_DECLINED = "signature_declined", "Signature declined"

    # The groups an admin filters by (Settings → Security log). A lockout belongs to the
    # group of the limit that refused (details["limit"]).
    GROUPS = {
        "sign-in": (
            "Sign-in and passwords",
            [
                Kind.SIGN_IN,
                Kind.SIGN_IN_FAILED,
                Kind.PASSWORD_RESET_REQUESTED,
                Kind.PASSWORD_RESET,
                Kind.PASSWORD_CHANGED,
                Kind.ACCOUNT_EMAIL_ADDED,
                Kind.ACCOUNT_EMAIL_CHANGED,
                Kind.ACCOUNT_EMAIL_REMOVED,
            ],
            ["sign-in"],
        ),
        "members": (
            "Members",
            [
                Kind.INVITATION_SENT,
                Kind.INVITATION_REVOKED,
                Kind.INVITATION_ACCEPTED,
                Kind.ROLE_CHANGED,
                Kind.MEMBER_REMOVED,
            ],
            [],
        ),
        "api": (
            "API and webhooks",
            [
                Kind.API_KEY_CREATED,
                Kind.API_KEY_REVOKED,
                Kind.API_KEY_NEW_IP,
                Kind.WEBHOOK_CREATED,
                Kind.WEBHOOK_CHANGED,
                Kind.WEBHOOK_DELETED,
            ],
            [],
        ),
        "buyer-access": (
            "Buyer access",
            [
                Kind.ROOM_LINK_CREATED,
                Kind.ROOM_LINK_REVOKED,
                Kind.IDENTITY_CHANGED,
                Kind.STAKEHOLDER_REMOVED,
            ],
            ["room-link", "unsubscribe"],
        ),
        "signatures": (
            "Signatures",
            [
                Kind.SIGNATURES_REQUESTED,
                Kind.SIGNING_CODE_SENT,
                Kind.SIGNING_CODE_FAILED,
                Kind.SIGNED,
                Kind.SIGNATURE_DECLINED,
            ],
            ["signing-code"],
        ),
    }

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="security_events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # Who acted: a member (user), a buyer (name and email only), an API key or Tandem.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    # What it is about ("Initech — Platform / Bill Lumbergh"), in words, and as data.
    target = models.CharField(max_length=300, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = SecurityEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["organization", "kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Security log entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Security log entries are append-only (see retention).")

    @property
    def user_agent_summary(self) -> str:
        return user_agents.describe(self.user_agent)

    @classmethod
    def group_filter(cls, group: str) -> models.Q:
        _, kinds, limits = cls.GROUPS[group]
        condition = models.Q(kind__in=kinds)
        if limits:
            condition |= models.Q(kind=cls.Kind.LOCKOUT, details__limit__in=limits)
        return condition

    @classmethod
    def kind_choices(cls) -> list:
        """Choices of the log's "What" filter: the groups, then each kind."""
        return [
            ("Groups", [(f"group:{key}", label) for key, (label, _, _) in cls.GROUPS.items()]),
            ("Events", cls.Kind.choices),
        ]


class OutboxTask(models.Model):
    """A Celery task owed after a commit, kept until the broker has taken it.

    Written in the same transaction as the change that owes it (deals.outbox.enqueue), sent
    after the commit, and deleted once sent. When the broker cannot take it (Redis down), the
    row stays and the relay (`deals.relay_outbox`, beat) sends it when the broker is back:
    a saved change never fails because of the broker, and nothing owed is lost. Tasks are
    idempotent, so the rare second send (a crash between sending and deleting) is harmless.
    """

    task = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    # A countdown asked for: the task is not to run before this moment.
    not_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task}({self.kwargs})"
