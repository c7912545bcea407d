"""Stakeholders of a deal on both sides."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

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
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=24, choices=ROLE_CHOICES)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stakeholder_roles",
    )
    is_required_signer = models.BooleanField("required signer", default=False)
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
