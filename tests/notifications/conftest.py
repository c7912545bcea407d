"""Workspaces in two time zones, deals with a plan built step by step, and helpers to run
the reminder sweep as the worker does (in-process, sending after commit)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from deals.models import Membership
from notifications import digests
from plans.models import Milestone, Plan
from stakeholders.models import Stakeholder
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    add_buyer,
    make_deal,
    make_plan,
)

# Monday 10 March 2025. Tokyo is UTC+9; Los Angeles is UTC-7 (daylight saving time from 9 March).
MONDAY = date(2025, 3, 10)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_workspace(slug: str, time_zone: str, owner_email: str):
    organization = OrganizationFactory(name=slug.title(), slug=slug, time_zone=time_zone)
    owner = MembershipFactory(
        organization=organization,
        user=UserFactory(email=owner_email, full_name=f"{slug.title()} Seller"),
        role=Membership.Role.SELLER,
    ).user
    return organization, owner


class Room:
    """A deal of `owner` with an empty plan, its AE stakeholder and an invited champion (the
    plan shared with them, as their invitation does; `shared=False`: a draft)."""

    def __init__(self, organization, owner, *, account="Initech", buyer_email=None, shared=True):
        self.deal = make_deal(organization, owner, account_name=account)
        buyer_email = buyer_email or f"champion@{account.lower().replace(' ', '')}.test"
        self.buyer = add_buyer(self.deal, name=f"{account} Champion", email=buyer_email)
        Stakeholder.objects.filter(pk=self.buyer.pk).update(invited_at=timezone.now())
        self.buyer.refresh_from_db()
        self.plan: Plan = make_plan(self.deal, template=None, shared=shared)
        self.ae = self.deal.stakeholders.get(role="ae")
        self.owner = owner
        self._position = 0

    def step(self, title, due, *, buyer=True, seller=True, **fields) -> Milestone:
        self._position += 1
        return Milestone.objects.create(
            organization=self.plan.organization,
            plan=self.plan,
            title=title,
            position=self._position,
            due_date=due,
            baseline_date=due,
            buyer_owner=self.buyer if buyer else None,
            seller_owner=self.ae if seller else None,
            **fields,
        )


@pytest.fixture
def tokyo(db):
    return make_workspace("tokyo", "Asia/Tokyo", "ae@tokyo.test")


@pytest.fixture
def la(db):
    return make_workspace("la", "America/Los_Angeles", "ae@la.test")


def run_sweep(now: datetime | None = None, **kwargs):
    """The sweep as beat runs it, sending in-process after its commit (the locmem
    backend collects the messages)."""
    return digests.sweep(now, inline=True, **kwargs)


def outbox_to(email: str):
    return [m for m in mail.outbox if m.to == [email]]


def html_of(message) -> str:
    return next(body for body, kind in message.alternatives if kind == "text/html")


def links_in(text: str) -> list[str]:
    return re.findall(r"http://testserver(/[^\s\"'<>]+)", text)


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)
