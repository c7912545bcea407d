"""Calendar feeds (RFC 5545, written with the `icalendar` library): a dated step is an
all-day event in its owners' calendars, without anyone copying it.

Three feeds, each at a secret, revocable URL (/cal/<token>.ics: 256 random bits, only the
SHA-256 stored, redacted from logs like room links): every step of one plan (for its
sellers), a seller's own steps across the workspace's deals, and a buyer's own steps in
their room (shared steps only; it works while their room links do). Each event's UID is
the step's and its SEQUENCE the number of times its date moved, so calendar apps update an
event instead of adding another; a cancelled step stays, as STATUS:CANCELLED. A feed is
a constant number of queries, and answers If-None-Match with 304.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from deals.models import Membership, hash_token
from stakeholders import access
from stakeholders.models import RoomLink

from .models import CalendarFeed, Milestone, Plan, Visibility

PRODID = "-//Tandem//Mutual action plans//EN"


# --- Feeds ------------------------------------------------------------------------------------


def create_feed(organization, kind: str, *, plan=None, user=None, stakeholder=None):
    """A new feed and its clear token (shown once; only its hash is kept)."""
    token = access.new_token()
    feed = CalendarFeed.objects.create(
        organization=organization,
        kind=kind,
        token_hash=hash_token(token),
        plan=plan,
        user=user,
        stakeholder=stakeholder,
    )
    return feed, token


def feed_url(token: str) -> str:
    return settings.SITE_URL + reverse("calendar-feed", kwargs={"token": token})


def revoke(feed: CalendarFeed) -> None:
    CalendarFeed.objects.filter(pk=feed.pk, revoked_at=None).update(revoked_at=timezone.now())


def find_feed(token: str) -> CalendarFeed | None:
    """The feed of `token` while it may be read: not revoked; a seller's while they are an
    active member of its workspace; a buyer's while one of their room links opens the room
    (revoking their access revokes their feed) and their plan is shared. Else None."""
    if not access.looks_like_token(token):
        return None
    feed = (
        CalendarFeed.objects.select_related(
            "organization", "plan", "plan__deal", "user", "stakeholder", "stakeholder__deal"
        )
        .filter(token_hash=hash_token(token), revoked_at=None)
        .first()
    )
    if feed is None:
        return None
    if feed.kind == CalendarFeed.Kind.BUYER:
        buyer = feed.stakeholder
        plan = Plan.objects.filter(deal_id=buyer.deal_id).first()
        opens = RoomLink.objects.usable().filter(stakeholder=buyer).exists()
        return feed if opens and plan is not None and plan.is_the_buyers else None
    user = feed.user
    member = Membership.objects.filter(user=user, organization_id=feed.organization_id)
    return feed if user.is_active and member.exists() else None


def feed_steps(feed: CalendarFeed):
    """The steps a feed shows, with what their events need, in one query."""
    steps = Milestone.objects.filter(organization_id=feed.organization_id)
    if feed.kind == CalendarFeed.Kind.PLAN:
        steps = steps.filter(plan_id=feed.plan_id)
    elif feed.kind == CalendarFeed.Kind.SELLER:
        user = feed.user
        steps = steps.filter(
            Q(seller_owner__user=user) | Q(seller_owner__email__iexact=user.email)
        ).exclude(plan__archived_at__isnull=False)
    else:
        steps = steps.filter(buyer_owner=feed.stakeholder, visibility=Visibility.SHARED).exclude(
            plan__status=Plan.Status.DRAFT
        )
    return steps.select_related("plan", "plan__deal", "buyer_owner", "seller_owner").annotate(
        moves=Count("date_changes")
    )


def feed_name(feed: CalendarFeed) -> str:
    if feed.kind == CalendarFeed.Kind.PLAN:
        return f"{feed.plan.deal.account_name} — mutual action plan"
    if feed.kind == CalendarFeed.Kind.SELLER:
        return f"My steps — {feed.organization.name}"
    deal = feed.stakeholder.deal
    return f"My steps — {deal.account_name} × {feed.organization.name}"


# --- iCalendar --------------------------------------------------------------------------------


def step_link(step: Milestone, organization, *, buyer: bool) -> str:
    deal = step.plan.deal
    if buyer:
        return settings.SITE_URL + reverse("room", kwargs={"deal_id": deal.public_id})
    return settings.SITE_URL + reverse(
        "plans:plan-detail", kwargs={"org_slug": organization.slug, "deal_id": deal.public_id}
    )


def calendar(name: str, steps, organization, *, buyer: bool) -> bytes:
    """An iCalendar of one all-day event per dated step."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for step in steps:
        if step.due_date is not None:
            cal.add_component(event(step, organization, buyer=buyer))
    return cal.to_ical()


def event(step: Milestone, organization, *, buyer: bool) -> Event:
    deal = step.plan.deal
    link = step_link(step, organization, buyer=buyer)
    owners = [
        f"Owner ({deal.account_name}): {step.buyer_owner.name if step.buyer_owner else '—'}",
        f"Owner ({organization.name}): " + (step.seller_owner.name if step.seller_owner else "—"),
    ]
    cancelled = step.status == Milestone.Status.CANCELLED
    item = Event()
    item.add("uid", f"step-{step.public_id}@tandem")
    item.add("sequence", getattr(step, "moves", 0))
    item.add("dtstamp", _utc(step.updated_at))
    item.add("last-modified", _utc(step.updated_at))
    item.add("dtstart", step.due_date)
    item.add("dtend", step.due_date + timedelta(days=1))
    item.add("summary", f"{step.title} — {deal.account_name}")
    item.add(
        "description",
        "\n".join(
            [f"{deal.account_name} — {deal.name}", *owners, f"Status: {step.get_status_display()}"]
            + [link]
        ),
    )
    item.add("url", link)
    item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    item.add("transp", "TRANSPARENT")
    return item


def _utc(moment: datetime | None) -> datetime:
    return (moment or timezone.now()).astimezone(UTC)


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
