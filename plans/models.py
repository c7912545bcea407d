"""Plans, milestones, slip history, activity and templates."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower, Trim
from django.urls import reverse

from deals.models import Deal, Organization, TenantQuerySet
from stakeholders.models import ROLE_CHOICES, Side, Stakeholder


class Phase(models.TextChoices):
    CLOSE = "close", "Close plan"
    POST = "post", "Post-signature execution"


class Risk(models.TextChoices):
    NONE = "", "—"
    LEGAL = "legal", "Legal"
    SECURITY = "security", "Security"
    PROCUREMENT = "procurement", "Procurement"
    EXECUTIVE = "executive", "Executive sign-off"


class Visibility(models.TextChoices):
    SHARED = "shared", "Shared with the buyer"
    INTERNAL = "internal", "Internal (seller team only)"


WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday")]


class PlanQuerySet(TenantQuerySet):
    def active(self):
        return self.filter(archived_at=None)


class Plan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SHARED = "shared", "Shared"
        SIGNED = "signed", "Signed"
        AMENDED = "amended", "Amended since signature"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deal = models.OneToOneField(Deal, on_delete=models.CASCADE, related_name="plan")
    business_outcome = models.CharField(max_length=300, blank=True)
    success_criteria = models.JSONField(default=list, blank=True)
    # The seller's word to the buyers at the top of their deal room (not signed content).
    welcome_note = models.TextField(max_length=1000, blank=True)
    welcome_video_url = models.URLField(max_length=500, blank=True)
    target_signature_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    review_weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, default=0)
    version = models.PositiveIntegerField(default=1)
    template_name = models.CharField(max_length=120, blank=True)
    # The signed content: set when every required signer has signed one version.
    signed_version = models.PositiveIntegerField(null=True, blank=True)
    signed_content_hash = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    shared_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["target_signature_date"]

    def __str__(self) -> str:
        return f"Plan for {self.deal}"

    def get_absolute_url(self) -> str:
        return reverse(
            "plans:plan-detail",
            kwargs={"org_slug": self.organization.slug, "deal_id": self.deal.public_id},
        )

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_the_buyers(self) -> bool:
        """Shared with the buyers: a draft reaches no room, no buyer's stream or email (a
        link may exist before the plan was made). Querysets say `~Q(status=DRAFT)`."""
        return self.status != self.Status.DRAFT


class MilestoneQuerySet(TenantQuerySet):
    def open(self):
        return self.exclude(status__in=Milestone.CLOSED_STATUSES)

    def overdue(self, today: date):
        return self.open().filter(due_date__lt=today)

    def visible_to_buyer(self):
        return self.filter(visibility=Visibility.SHARED)

    def for_page(self):
        return self.select_related("buyer_owner", "seller_owner", "depends_on").order_by(
            "phase", "position"
        )


class Milestone(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        BLOCKED = "blocked", "Blocked"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    CLOSED_STATUSES = (Status.DONE, Status.CANCELLED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.CLOSE)
    position = models.PositiveIntegerField(default=0)
    buyer_owner = models.ForeignKey(
        Stakeholder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    seller_owner = models.ForeignKey(
        Stakeholder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    # The first committed date: slips are measured against it.
    baseline_date = models.DateField(null=True, blank=True)
    duration_days = models.PositiveSmallIntegerField(default=1)
    # The template's default duration, to warn when a high-risk step is planned shorter.
    template_duration_days = models.PositiveSmallIntegerField(null=True, blank=True)
    is_signature_step = models.BooleanField(default=False)
    # The template's default owner roles: a stakeholder added later with that role fills the
    # gap of an open step that has no owner on that side.
    buyer_role_hint = models.CharField(max_length=24, choices=ROLE_CHOICES, blank=True)
    seller_role_hint = models.CharField(max_length=24, choices=ROLE_CHOICES, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by_name = models.CharField(max_length=150, blank=True)
    risk = models.CharField(max_length=12, choices=Risk.choices, blank=True, default="")
    shared_notes = models.TextField(blank=True)
    internal_note = models.TextField(blank=True)
    depends_on = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="dependents"
    )
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )
    created_by_side = models.CharField(max_length=8, choices=Side.choices, default=Side.SELLER)
    # The due date for which "milestone.overdue" was announced (a step moved and overdue
    # again is announced again).
    overdue_announced_for = models.DateField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "phase", "position"]
        indexes = [
            models.Index(fields=["plan", "phase", "position"]),
            # The reminder sweep reads open, dated steps by due date across workspaces.
            models.Index(
                fields=["due_date"],
                name="milestone_open_due_idx",
                condition=~models.Q(status__in=["done", "cancelled"]),
            ),
            # The dashboard's forecast walks the open close-plan steps (and the signature
            # steps) of many plans in plan and position order: this index holds exactly
            # those rows, with every column the walk reads (an index-only scan, no sort).
            models.Index(
                fields=[
                    "plan",
                    "position",
                    "id",
                    "organization",
                    "due_date",
                    "duration_days",
                    "status",
                    "is_signature_step",
                ],
                name="milestone_path_idx",
                condition=models.Q(phase="close")
                & (~models.Q(status__in=["done", "cancelled"]) | models.Q(is_signature_step=True)),
            ),
            # The dashboard recomputes its per-title rollup one title at a time
            # (TitleSummary): an index-only scan of that title's steps on PostgreSQL.
            models.Index(
                fields=["organization", "title"],
                include=["status", "due_date", "baseline_date", "duration_days", "completed_at"],
                name="milestone_title_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_high_risk(self) -> bool:
        return bool(self.risk)

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED_STATUSES

    @property
    def is_internal(self) -> bool:
        return self.visibility == Visibility.INTERNAL

    def is_overdue(self, today: date) -> bool:
        return not self.is_closed and self.due_date is not None and self.due_date < today

    def days_overdue(self, today: date) -> int:
        return (today - self.due_date).days if self.is_overdue(today) else 0

    @property
    def slip_days(self) -> int:
        """Calendar days the current date lies after the baseline (0 when not later)."""
        if self.due_date and self.baseline_date and self.due_date > self.baseline_date:
            return (self.due_date - self.baseline_date).days
        return 0

    @property
    def dom_id(self) -> str:
        return f"milestone-{self.public_id}"


class DueDateChange(models.Model):
    """Slip history: every move of a committed date, with who and why."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="date_changes")
    old_date = models.DateField(null=True, blank=True)
    new_date = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    changed_by_name = models.CharField(max_length=150)
    changed_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    side = models.CharField(max_length=8, choices=Side.choices, default=Side.SELLER)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dashboard recomputes its reasons one reason at a time (ReasonSummary).
            models.Index(
                models.F("organization"), Lower(Trim("reason")), name="date_change_reason_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id}: {self.old_date} → {self.new_date}"

    @property
    def delta_days(self) -> int:
        if self.old_date and self.new_date:
            return (self.new_date - self.old_date).days
        return 0


class Activity(models.Model):
    """Append-only feed of a plan: who did what, when."""

    class Verb(models.TextChoices):
        PLAN_CREATED = "plan_created", "created the plan"
        PLAN_EDITED = "plan_edited", "edited the plan"
        PLAN_SHARED = "plan_shared", "shared the plan"
        PLAN_RESCHEDULED = "plan_rescheduled", "rescheduled the plan"
        PLAN_ARCHIVED = "plan_archived", "archived the plan"
        SIGNATURES_REQUESTED = "signatures_requested", "sent the plan for signature"
        SIGNED = "signed", "signed the plan"
        DECLINED = "declined", "declined to sign"
        PLAN_SIGNED = "plan_signed", "the plan is signed"
        PLAN_AMENDED = "plan_amended", "the plan was amended since signature"
        PLAN_RESTORED = "plan_restored", "restored the plan"
        MILESTONE_CREATED = "milestone_created", "added a step"
        MILESTONE_EDITED = "milestone_edited", "edited a step"
        MILESTONE_COMPLETED = "milestone_completed", "completed a step"
        MILESTONE_REOPENED = "milestone_reopened", "reopened a step"
        MILESTONE_STATUS = "milestone_status", "changed the status of a step"
        MILESTONE_DELETED = "milestone_deleted", "deleted a step"
        MILESTONE_MOVED = "milestone_moved", "reordered a step"
        DATE_MOVED = "date_moved", "moved a date"
        DATE_PROPOSED = "date_proposed", "proposed a new date"
        PROPOSAL_ACCEPTED = "proposal_accepted", "accepted a proposed date"
        PROPOSAL_DECLINED = "proposal_declined", "declined a proposed date"
        COMMENTED = "commented", "commented"
        ATTACHED = "attached", "attached a file"
        RESOURCE_ADDED = "resource_added", "added a resource"
        RESOURCE_UPDATED = "resource_updated", "updated a resource"
        RESOURCE_REMOVED = "resource_removed", "removed a resource"
        RESOURCE_VIEWED = "resource_viewed", "viewed a resource"
        RESOURCE_SHARED = "resource_shared", "shared a resource by link"
        ROOM_VISITED = "room_visited", "opened the deal room"
        STAKEHOLDER_ADDED = "stakeholder_added", "added a stakeholder"
        STAKEHOLDER_INVITED = "stakeholder_invited", "invited a stakeholder"
        STAKEHOLDER_EDITED = "stakeholder_edited", "edited a stakeholder"
        STAKEHOLDER_REMOVED = "stakeholder_removed", "removed a stakeholder"
        EMAIL_CHANGED = "email_changed", "changed an email address"
        DEAL_TRANSFERRED = "deal_transferred", "transferred the deal"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="activities")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verb = models.CharField(max_length=24, choices=Verb.choices)
    actor_name = models.CharField(max_length=150)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    side = models.CharField(max_length=8, choices=Side.choices, default=Side.SELLER)
    summary = models.CharField(max_length=400)
    # Events about internal steps never reach a buyer's feed.
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["plan", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.get_verb_display()}"


class PlanTemplateQuerySet(models.QuerySet):
    def available_to(self, organization: Organization):
        """Built-in templates and the workspace's own."""
        return self.filter(models.Q(organization=None) | models.Q(organization=organization))


class PlanTemplate(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # None: a built-in template, shared by every workspace and read-only.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PlanTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["organization_id", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_built_in(self) -> bool:
        return self.organization_id is None


class TemplateStep(models.Model):
    template = models.ForeignKey(PlanTemplate, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.CLOSE)
    duration_days = models.PositiveSmallIntegerField(default=1)
    buyer_role = models.CharField(max_length=24, choices=ROLE_CHOICES, blank=True)
    seller_role = models.CharField(max_length=24, choices=ROLE_CHOICES, blank=True)
    risk = models.CharField(max_length=12, choices=Risk.choices, blank=True, default="")
    is_signature_step = models.BooleanField(default=False)

    class Meta:
        ordering = ["template", "position"]

    def __str__(self) -> str:
        return self.title


class DateProposal(models.Model):
    """A buyer proposes a new date for a step; the seller accepts or declines."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="proposals")
    proposed_date = models.DateField()
    reason = models.CharField(max_length=300)
    proposed_by = models.ForeignKey(
        Stakeholder, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    proposed_by_name = models.CharField(max_length=150)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.proposed_by_name} proposes {self.proposed_date} for {self.milestone_id}"


class Comment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="comments")
    author_name = models.CharField(max_length=150)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_stakeholder = models.ForeignKey(
        Stakeholder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    side = models.CharField(max_length=8, choices=Side.choices)
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.body[:40]}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # A random name on disk: the original name is kept in the row, never used as a path.
    return f"attachments/{instance.organization_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by_name = models.CharField(max_length=150)
    side = models.CharField(max_length=8, choices=Side.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name


def resource_path(instance: ResourceVersion, filename: str) -> str:
    # A random name on disk, as for attachments: the original name is kept in the row.
    return f"resources/{instance.organization_id}/{uuid.uuid4().hex}"


class ResourceSection(models.Model):
    """A group of a plan's shared materials ("Proposal", "Security & legal"). A section the
    seller opened for uploads takes the buyers' files too ("Your documents")."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="resource_sections")
    title = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    buyer_uploads = models.BooleanField(
        "Buyers may add files",
        default=False,
        help_text="Buyers can upload their own documents to this section.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class Resource(models.Model):
    """One of a plan's materials: a file (with its versions) or a link, in a section,
    shared with the buyers or internal, optionally about one step."""

    class Kind(models.TextChoices):
        FILE = "file", "File"
        LINK = "link", "Link"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="resources")
    section = models.ForeignKey(ResourceSection, on_delete=models.CASCADE, related_name="resources")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="resources"
    )
    kind = models.CharField(max_length=4, choices=Kind.choices)
    title = models.CharField(max_length=200)
    url = models.URLField("URL", max_length=500, blank=True)
    note = models.CharField(max_length=500, blank=True)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )
    position = models.PositiveIntegerField(default=0)
    # The newest version of a file (None for a link).
    current = models.ForeignKey(
        "ResourceVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_by_name = models.CharField(max_length=150)
    # The buyer who uploaded it (they may remove it); None for the seller's.
    added_by_stakeholder = models.ForeignKey(
        Stakeholder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    side = models.CharField(max_length=8, choices=Side.choices, default=Side.SELLER)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_pdf(self) -> bool:
        return self.current is not None and self.current.content_type == "application/pdf"


class ResourceVersion(models.Model):
    """A file of a resource. A new upload adds a version; the old ones stay listed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to=resource_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by_name = models.CharField(max_length=150)
    side = models.CharField(max_length=8, choices=Side.choices, default=Side.SELLER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "number"], name="resource_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.original_name} (v{self.number})"


class ResourceView(models.Model):
    """One opening of a resource by one person: in the PDF viewer (with the seconds spent on
    each page, sent by the viewer in batches: plans/materials.py record_time), a download,
    or a link followed. By a buyer of the room, or by whoever opened a share link. What the
    engagement figures add up; never shown to buyers."""

    class Kind(models.TextChoices):
        VIEWER = "viewer", "Opened in the viewer"
        DOWNLOAD = "download", "Downloaded"
        LINK = "link", "Followed the link"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="views")
    version = models.ForeignKey(
        ResourceVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stakeholder = models.ForeignKey(
        Stakeholder, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    share_link = models.ForeignKey(
        "ResourceShareLink", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    seconds = models.PositiveIntegerField(default=0)
    pages = models.JSONField(default=dict, blank=True)  # {"3": 41}: seconds on page 3

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["resource", "stakeholder"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.resource_id}"


class ResourceShareLink(models.Model):
    """A link to one resource, outside the room, for a colleague who is not on the plan:
    sent by email to one address, expiring, revocable; the token is stored hashed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)
    recipient_email = models.EmailField()
    created_by_name = models.CharField(max_length=150)
    side = models.CharField(max_length=8, choices=Side.choices, default=Side.SELLER)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    first_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Share link of {self.resource_id} for {self.recipient_email}"


def template_resource_path(instance: TemplateResource, filename: str) -> str:
    return f"template-resources/{instance.section.template.organization_id}/{uuid.uuid4().hex}"


class TemplateSection(models.Model):
    """A section of materials that plans made from the template start with."""

    template = models.ForeignKey(PlanTemplate, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=120)
    buyer_uploads = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class TemplateResource(models.Model):
    """A file or link of a template's section, copied into each plan made from it (the file
    too: a plan's materials never depend on the template staying as it is). `step_title`
    names the step it is about: the plan's step of that title, if any."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    section = models.ForeignKey(TemplateSection, on_delete=models.CASCADE, related_name="resources")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=4, choices=Resource.Kind.choices)
    title = models.CharField(max_length=200)
    url = models.URLField(max_length=500, blank=True)
    note = models.CharField(max_length=500, blank=True)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )
    step_title = models.CharField(max_length=200, blank=True)
    file = models.FileField(upload_to=template_resource_path, blank=True, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class CalendarFeed(models.Model):
    """A secret, revocable iCalendar feed of dated steps (plans/calendars.py): every step of
    one plan (for its sellers), a seller's own steps across the workspace's deals, or a
    buyer's own steps in their room. Only the token's SHA-256 is stored."""

    class Kind(models.TextChoices):
        PLAN = "plan", "Every step of the plan"
        SELLER = "seller", "My steps across all deals"
        BUYER = "buyer", "My steps in this room"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The seller who made it (plan and seller feeds): it works while they are a member.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The buyer whose steps it shows: it works while they may open the room.
    stakeholder = models.ForeignKey(
        Stakeholder, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} feed"


class SheetImport(models.Model):
    """A table read for import into a plan (plans/sheet_import.py), kept between its
    preview and its application: the cells (dates as ISO text) and the column mapping."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=255)
    table = models.JSONField()
    mapping = models.JSONField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Import of {self.source}"


class Conversation(models.Model):
    """A call transcript, call notes or an email thread a plan was drafted from
    (plans/drafting/), kept only when the seller chose to keep it. Sellers only: never
    shown in the room, the API or an export."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="conversations")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    source = models.CharField(max_length=255, blank=True)
    call_date = models.DateField(null=True, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Conversation of {self.call_date or self.created_at:%Y-%m-%d}"


class SignatureEvent(models.Model):
    """The append-only, hash-chained log of a plan's signature ritual.

    Each event stores the hash of the previous event of the same plan; its own hash covers
    its fields and that link, so a removed or altered event breaks the chain. Rows are never
    updated or deleted by the application.
    """

    class Kind(models.TextChoices):
        REQUESTED = "requested", "Asked to sign"
        SIGNED = "signed", "Signed"
        DECLINED = "declined", "Declined"
        # The signer's email changed (or they were removed): outstanding requests are void.
        IDENTITY_CHANGED = "identity_changed", "Signer's email changed"
        REMOVED = "removed", "Signer removed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="signature_events")
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    signer = models.ForeignKey(
        Stakeholder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signer_name = models.CharField(max_length=150)  # the stakeholder's name at the time
    typed_name = models.CharField(max_length=150, blank=True)
    signer_email = models.EmailField(blank=True)
    # Signed: the address the request being answered was sent to (signer_email is the
    # address the signer proved at signing). Identity changed: the address before.
    requested_email = models.EmailField(blank=True)
    previous_email = models.EmailField(blank=True)
    signer_role = models.CharField(max_length=40, blank=True)
    signer_side = models.CharField(max_length=8, choices=Side.choices)
    plan_version = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    auth_method = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    event_hash = models.CharField(max_length=64, unique=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "sequence"], name="signature_event_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.signer_name} {self.kind} v{self.plan_version}"


class SigningCode(models.Model):
    """A 6-digit code emailed to a buyer whose room session is not fresh enough to sign."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    stakeholder = models.ForeignKey(Stakeholder, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    # The address the code was sent to: it is accepted only while that is still the
    # signer's address.
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    burned_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Signing code of {self.stakeholder_id}"


class SealCertificate(models.Model):
    """A workspace's seal key and certificate. The private key is stored encrypted with a
    key derived from SECRET_KEY (see plans/signing/seal.py); it is never served."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="seal_certificate"
    )
    certificate_pem = models.TextField()
    encrypted_key_pem = models.TextField()
    source = models.CharField(max_length=12, default="generated")  # generated | installed
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Seal of {self.organization_id}"


def document_path(instance: PlanDocument, filename: str) -> str:
    return f"documents/{instance.organization_id}/{uuid.uuid4().hex}.pdf"


class PlanDocument(models.Model):
    """The PDF of one version of a plan: rendered, and sealed when that version is signed.
    Stored, so the same file is downloaded again and its hash matches."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="documents")
    plan_version = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    # The canonical content rendered, captured when the document was asked for.
    content = models.JSONField(default=dict)
    sealed = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=document_path, blank=True, max_length=255)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "content_hash", "sealed"], name="one_document_per_content"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"

    @property
    def reference(self) -> str:
        return f"TDM-{str(self.plan.public_id)[:8].upper()}-V{self.plan_version}"


class PlanSummary(models.Model):
    """The manager dashboard's figures of one plan's steps (plans.dashboard.summaries): the
    components of its critical path to signature, its open close-plan steps without a buyer
    owner, its undated open steps, its last buyer visit, and its overdue steps as of one date.

    Database triggers (migration 0007) bump `stamp` on every insert, update or delete of the
    plan's steps, of its steps' date changes and of its buyer-side activities, on the plan's
    creation and on the rename of a seller owner of its steps, whatever the code path
    (QuerySet.update, bulk_create, cascades and raw SQL included), and delete the row with
    the plan. The figures are current when
    `computed == stamp`, the oldest recent date change is still recent and the overdue steps
    counted as of `overdue_on` are today's (dashboard.summaries._plans_behind); the
    dashboard recomputes the other rows before reading them.
    Never written by application code otherwise."""

    plan = models.OneToOneField(
        Plan,
        on_delete=models.DO_NOTHING,  # the plan's delete trigger removes the row
        db_constraint=False,
        primary_key=True,
        related_name="dashboard_summary",
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    stamp = models.BigIntegerField(db_default=0)
    computed = models.BigIntegerField(db_default=-1)
    # The critical path (see dashboard.forecast_check), in business days. Over the open
    # close-plan steps up to the signature step, with S(i) the durations of the open steps
    # up to step i: the projection is path_total + max(due_term, today + start_term).
    path_total = models.IntegerField(null=True)  # durations of the open steps on the path
    due_term = models.IntegerField(null=True)  # max of due date - S(i), dated open steps
    start_term = models.IntegerField(null=True)  # max of earliest end offset - S(i)
    signature_bd = models.IntegerField(null=True)  # the signature step's due date
    remaining = models.IntegerField(db_default=0)  # open steps on the path
    missing_buyer_owner = models.IntegerField(db_default=0)  # open close-plan steps
    undated = models.IntegerField(db_default=0)  # open steps without a due date
    last_buyer_visit = models.DateTimeField(null=True)
    # Date changes of the plan's steps in the RECENT_DAYS before `computed`, and the oldest
    # of them: the count holds until that one leaves the window (then the row is behind).
    recent_changes = models.IntegerField(db_default=0)
    recent_oldest = models.DateTimeField(null=True)
    # The overdue steps (open, due before `overdue_on`) as of the date `overdue_on`, the
    # workspace's "today" when the row was computed. They hold on later days until an open
    # step falls due (`next_due`: the earliest due date of the open steps not overdue then)
    # or a close-plan step becomes more than LATE_DAYS late (`next_late`: the earliest due
    # date of the open close-plan steps not late then); the row is behind after that.
    overdue_on = models.DateField(null=True)
    next_due = models.DateField(null=True)
    next_late = models.DateField(null=True)
    overdue = models.IntegerField(db_default=0)
    overdue_buyer = models.IntegerField(db_default=0)  # with a buyer owner
    overdue_seller = models.IntegerField(db_default=0)  # with a seller owner
    late_close = models.IntegerField(db_default=0)  # close-plan steps > LATE_DAYS overdue
    # The same steps per owner: the plan's OverdueGroup rows.

    class Meta:
        indexes = [
            # The rows to recompute: few, found without reading the others.
            models.Index(
                fields=["organization"],
                condition=~models.Q(computed=models.F("stamp")),
                name="plan_summary_behind_idx",
            ),
            models.Index(fields=["organization", "recent_oldest"], name="plan_summary_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"Dashboard summary of plan {self.plan_id}"


class OverdueGroup(models.Model):
    """The overdue steps of a plan (those its PlanSummary counts as of `overdue_on`) with one
    buyer owner and one seller owner, and that seller owner's name: what the dashboard's
    owners panel adds up (dashboard.panels.overdue_owners) without reading a step or naming
    each seller owner. Written with the plan's PlanSummary row, in the same statement and
    under the same compare-and-set (dashboard.summaries.refresh_plans): a plan's rows are
    current when its summary row is. The name is the seller owner's when the row was
    written: renaming a stakeholder bumps the summaries of the plans whose steps they own
    on the seller side (a trigger, see plans.dashboard.summaries). Deleted with the plan by its
    delete trigger. Never written by application code otherwise."""

    plan = models.ForeignKey(
        Plan, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    buyer_owner = models.ForeignKey(
        Stakeholder,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    seller_name = models.CharField(max_length=150)  # "" without a seller owner
    steps = models.IntegerField()
    oldest_due = models.DateField()

    def __str__(self) -> str:
        return f"Overdue steps of plan {self.plan_id}"


class TitleSummary(models.Model):
    """The dashboard's per-title rollup of a whole workspace's steps (slip_summary,
    step_durations): sums, so that the averages are sum ÷ done. Triggers bump `stamp` of the
    old and new title of every inserted, updated or deleted step; rows whose `computed` is
    behind, or computed in another time zone than the workspace's, are recomputed before
    being read. Filtered dashboards compute the rollup from the steps."""

    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    title = models.CharField(max_length=200)
    stamp = models.BigIntegerField(db_default=0)
    computed = models.BigIntegerField(db_default=-1)
    time_zone = models.CharField(max_length=64, db_default="")
    steps = models.IntegerField(db_default=0)
    dated = models.IntegerField(db_default=0)
    slipped = models.IntegerField(db_default=0)
    slip_days = models.IntegerField(null=True)
    done = models.IntegerField(db_default=0)
    planned_sum = models.IntegerField(null=True)
    actual_sum = models.IntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "title"], name="title_summary_key")
        ]

    def __str__(self) -> str:
        return self.title


class ReasonSummary(models.Model):
    """The dashboard's slip reasons of a whole workspace (slip_reasons), per reason ignoring
    case and surrounding spaces: the date moves to a later date and the days they added.
    Triggers bump `stamp` of the old and new reason of every inserted, updated or deleted
    date change; rows whose `computed` is behind are recomputed before being read."""

    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    key = models.TextField()  # lower(trim(reason)), as the database computes it
    stamp = models.BigIntegerField(db_default=0)
    computed = models.BigIntegerField(db_default=-1)
    reason = models.TextField(db_default="")  # the first spelling, trimmed
    count = models.IntegerField(db_default=0)
    days = models.IntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="reason_summary_key")
        ]

    def __str__(self) -> str:
        return self.reason
