"""Stakeholders of a deal on both sides."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from deals.models import Deal, Organization, TenantQuerySet


class Side(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"


class BuyerRole(models.TextChoices):
    CHAMPION = "champion", "Champion"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    TECHNICAL_EVALUATOR = "technical_evaluator", "Technical evaluator"
    SECURITY_REVIEWER = "security_reviewer", "Security reviewer"
    PROCUREMENT = "procurement", "Procurement contact"
    LEGAL_REVIEWER = "legal_reviewer", "Legal reviewer"
    OTHER = "buyer_other", "Other"


class SellerRole(models.TextChoices):
    AE = "ae", "Account executive"
    SE = "se", "Sales engineer"
    CSM = "csm", "Customer success owner"
    LEGAL = "seller_legal", "Legal contact"
    EXEC_SPONSOR = "exec_sponsor", "Executive sponsor"
    OTHER = "seller_other", "Other"


ROLE_CHOICES = BuyerRole.choices + SellerRole.choices
ROLE_LABELS = dict(ROLE_CHOICES)
# Required signers by default: the buyer's economic buyer and the seller's AE.
DEFAULT_SIGNER_ROLES = {BuyerRole.ECONOMIC_BUYER, SellerRole.AE}


def side_of_role(role: str) -> str:
    return Side.BUYER if role in BuyerRole.values else Side.SELLER


class StakeholderQuerySet(TenantQuerySet):
    def buyers(self):
        return self.filter(side=Side.BUYER)

    def sellers(self):
        return self.filter(side=Side.SELLER)


class Stakeholder(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stakeholders")
    side = models.CharField(max_length=8, choices=Side.choices)
    name = models.CharField(max_length=150)
    title = models.CharField(max_length=150, blank=True)
    # The address every link of this person is sent to: their identity. Only the seller's
    # side changes it (plans.identity.change_email), never the buyer's room.
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    role = models.CharField(max_length=24, choices=ROLE_CHOICES)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stakeholder_roles",
    )
    is_required_signer = models.BooleanField("required signer", default=False)
    # Buyer engagement with the deal room.
    invited_at = models.DateTimeField(null=True, blank=True)
    first_visit_at = models.DateTimeField(null=True, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    visit_count = models.PositiveIntegerField(default=0)
    added_by_buyer = models.BooleanField(default=False)
    # When this buyer last asked the seller for a new link (the seller is emailed at most
    # once an hour per stakeholder).
    link_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StakeholderQuerySet.as_manager()

    class Meta:
        ordering = ["side", "name"]
        indexes = [models.Index(fields=["deal", "side"])]

    def __str__(self) -> str:
        return self.name

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def is_buyer(self) -> bool:
        return self.side == Side.BUYER


class RoomLinkQuerySet(TenantQuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(
            models.Q(stakeholder__deal__room_closes_at=None)
            | models.Q(stakeholder__deal__room_closes_at__gt=now),
            revoked_at=None,
            expires_at__gt=now,
            email__iexact=models.F("stakeholder__email"),
        )


class RoomLink(models.Model):
    """A buyer's personal link to one deal room. Only the token's SHA-256 is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    stakeholder = models.ForeignKey(Stakeholder, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    # The address the link was issued for: a link works only while it is still the
    # stakeholder's address (changing someone's email voids their links).
    email = models.EmailField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    first_used_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = RoomLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Room link of {self.stakeholder}"

    def is_usable(self, now=None) -> bool:
        """Not revoked, not expired, still addressed to the stakeholder's current email (a
        link sent to an address that is no longer theirs proves nothing), and its room not
        closed (Deal.room_closes_at)."""
        now = now or timezone.now()
        return (
            self.revoked_at is None
            and self.expires_at > now
            and self.email.casefold() == self.stakeholder.email.casefold()
            and not self.stakeholder.deal.room_closed(now)
        )

    def usable_until(self):
        """When the link stops opening the room, whatever else happens first."""
        closes_at = self.stakeholder.deal.room_closes_at
        return min(self.expires_at, closes_at) if closes_at else self.expires_at


class RoomVisit(models.Model):
    """One buyer session in a deal room (engagement: visits, last seen)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    stakeholder = models.ForeignKey(Stakeholder, on_delete=models.CASCADE, related_name="visits")
    link = models.ForeignKey(RoomLink, on_delete=models.SET_NULL, null=True, related_name="visits")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.stakeholder} at {self.started_at:%Y-%m-%d %H:%M}"
