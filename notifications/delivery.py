"""Sending one recorded email: claim its log row, build the message from fresh data, send
it with no transaction open, and mark it sent.

Exactly-once: the row exists before sending (digests.record); the claim is a conditional
UPDATE with a lease, so two workers (or a task redelivered after a crash) cannot both
send; a sender that dies leaves the row pending, and the next sweep re-queues it once the
lease has expired. The only window for a duplicate is a crash between the SMTP server's
acceptance and the UPDATE that marks the row sent (milliseconds); the Message-ID is
derived from the row, so such a duplicate is recognisable as the same message.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import date, datetime, timedelta
from smtplib import SMTPException
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from deals import retries
from deals.emails import render_email
from plans.health import plan_health
from plans.models import DateProposal, DueDateChange, Milestone, Plan, Visibility
from stakeholders import access
from stakeholders.models import Stakeholder
from stakeholders.services import issue_room_link

from . import inbound, services
from .models import Kind, Notification, SentNotification
from .timing import DUE_SOON_BUSINESS_DAYS, WEEKLY_LOOKBACK_DAYS, business_days_after, claim_lease

log = logging.getLogger(__name__)

# A builder's answer for "no email of its own: the in-app notification it made is emailed in
# the seller's next batch of notices" (services.batch_event_emails).
BATCHED = object()

# SMTP failures and network errors: retried (deals/retries.py), the row stays pending
# meanwhile.
SEND_ERRORS = (SMTPException, OSError)
MAX_ATTEMPTS = retries.MAX_ATTEMPTS


def deliver(sent_id: int) -> str:
    """Send the email of one log row, once. Returns "sent", "skipped" (nothing left to
    say, or the email is turned off: in-app notifications are still made), "batched" (the
    row's in-app notification waits for the seller's batched email) or "busy" (sent
    already, or claimed by another sender). Raises SEND_ERRORS after releasing the claim,
    so the caller can retry. Call it outside any transaction: sending holds none."""
    now = timezone.now()
    claimed = (
        SentNotification.objects.pending()
        .filter(pk=sent_id)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .update(claimed_until=now + claim_lease(), attempts=F("attempts") + 1)
    )
    if not claimed:
        return "busy"
    row = SentNotification.objects.select_related("organization").get(pk=sent_id)
    try:
        message = BUILDERS[row.kind](row)
    except Exception:
        _release(row, "could not build the email")
        raise
    if message is None or message is BATCHED:
        _mark(row, SentNotification.Status.SKIPPED)
        return "skipped" if message is None else "batched"
    try:
        message.send()
    except SEND_ERRORS as exc:
        _release(row, f"{type(exc).__name__}: {exc}")
        raise
    _mark(row, SentNotification.Status.SENT)
    return "sent"


def _mark(row: SentNotification, status: str) -> None:
    SentNotification.objects.filter(pk=row.pk).update(
        status=status,
        sent_at=timezone.now() if status == SentNotification.Status.SENT else None,
        claimed_until=None,
    )


def _release(row: SentNotification, error: str) -> None:
    """Give the claim back so a retry (or the next sweep) can send; give up after
    MAX_ATTEMPTS (the row stays in the log as failed)."""
    status = (
        SentNotification.Status.FAILED
        if row.attempts >= MAX_ATTEMPTS
        else SentNotification.Status.PENDING
    )
    SentNotification.objects.filter(pk=row.pk).update(
        claimed_until=None, last_error=error[:300], status=status
    )


# --- Building messages --------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


def _message(row: SentNotification, name: str, context: dict, *, reply_to=None):
    """The email of a row: template `name`, the unsubscribe link and headers, a Message-ID
    derived from the row."""
    organization = row.organization
    token = services.unsubscribe_token(
        organization_id=organization.pk, email=row.recipient, kind=row.kind
    )
    unsubscribe = _absolute(reverse("notification-unsubscribe", kwargs={"token": token}))
    domain = urlsplit(settings.SITE_URL).hostname or "tandem.invalid"
    context = {
        "organization": organization,
        "accent": organization.accent_color,
        "unsubscribe_url": unsubscribe,
        "preferences_url": _absolute(
            reverse("notification-preferences-token", kwargs={"token": token})
        ),
        "kind_label": Kind(row.kind).label,
        **context,
    }
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": f"<tandem.{row.kind}.{row.pk}@{domain}>",
        "Auto-Submitted": "auto-generated",
    }
    return render_email(name, context, to=[row.recipient], headers=headers, reply_to=reply_to)


def _in_app(
    row: SentNotification, *, text: str, url: str, plan=None, milestone=None, email_state=""
) -> None:
    """The seller's in-app notification of an alert row: at most one per row."""
    user_id = row.payload.get("user")
    if not user_id:
        return
    Notification.objects.get_or_create(
        source=row,
        defaults={
            "organization_id": row.organization_id,
            "user_id": user_id,
            "kind": row.kind,
            "plan": plan,
            "milestone": milestone,
            "text": text[:400],
            "url": url,
            "email_state": email_state,
        },
    )


def _email_wanted(row: SentNotification) -> bool:
    return row.payload.get("email", True)


def _room_link(stakeholder: Stakeholder) -> tuple[str, str]:
    """A fresh personal link to the stakeholder's room: (url, token)."""
    _, token = issue_room_link(stakeholder)
    return access.room_url(token), token


def _act_url(token: str, milestone: Milestone, action: str) -> str:
    return _absolute(
        reverse(
            "room-act",
            kwargs={"token": token, "milestone_id": milestone.public_id, "action": action},
        )
    )


def _is_open_deal(plan: Plan) -> bool:
    return plan.archived_at is None and not plan.deal.is_closed


def build_digest(row: SentNotification):
    """The daily digest: the recipient's open steps overdue or due soon, per deal."""
    if not _email_wanted(row):
        return None
    today = date.fromisoformat(row.period)
    horizon = business_days_after(today, DUE_SOON_BUSINESS_DAYS)
    steps = (
        Milestone.objects.open()
        .filter(
            organization_id=row.organization_id,
            id__in=row.payload.get("milestones", []),
            due_date__lte=horizon,
        )
        .select_related("plan__deal__owner", "plan__organization", "buyer_owner", "seller_owner")
        .order_by("due_date", "id")
    )
    buyers = {
        s.deal_id: s
        for s in Stakeholder.objects.filter(
            organization_id=row.organization_id, id__in=row.payload.get("buyers", [])
        )
    }
    deals: OrderedDict[int, dict] = OrderedDict()
    name = ""
    for step in steps:
        plan = step.plan
        if not _is_open_deal(plan):
            continue
        seller = step.seller_owner
        buyer = step.buyer_owner
        # Re-checked now: the recipient still owns it, and buyers never see internal steps.
        as_seller = seller is not None and seller.email.lower() == row.recipient
        as_buyer = (
            buyer is not None
            and buyer.email.lower() == row.recipient
            and step.visibility == Visibility.SHARED
            and buyer.deal_id in buyers
            and plan.is_the_buyers
        )
        if not (as_seller or as_buyer):
            continue
        name = name or (seller.name if as_seller else buyer.name)
        entry = deals.get(plan.deal_id)
        if entry is None:
            entry = deals[plan.deal_id] = {"deal": plan.deal, "plan": plan, "steps": []}
        if as_seller:
            entry["seller"] = True
        entry["steps"].append({"milestone": step, "as_buyer": as_buyer and not as_seller})
    if not deals:
        return None
    overdue = soon = 0
    for entry in deals.values():
        deal = entry["deal"]
        token = ""
        if entry.get("seller"):
            entry["url"] = _absolute(deal.get_absolute_url())
        else:
            entry["url"], token = _room_link(buyers[deal.pk])
        for item in entry["steps"]:
            step = item["milestone"]
            item["days_overdue"] = step.days_overdue(today)
            item["due_today"] = step.due_date == today
            overdue += 1 if item["days_overdue"] else 0
            soon += 0 if item["days_overdue"] else 1
            if item["as_buyer"] and token:
                item["done_url"] = _act_url(token, step, "done")
                item["more_time_url"] = _act_url(token, step, "more-time")
                ics = reverse(
                    "room-link-step-ics", kwargs={"token": token, "milestone_id": step.public_id}
                )
            else:
                item["url"] = entry["url"] + f"#milestone-{step.public_id}"
                slug = step.plan.organization.slug
                ics = reverse(
                    "plans:milestone-ics", kwargs={"org_slug": slug, "milestone_id": step.public_id}
                )
            # The date links to the step as an .ics file ("add to calendar").
            item["ics_url"] = _absolute(ics)
    first = next(iter(deals.values()))
    reply_to = None
    if not first.get("seller") and first["deal"].owner.email:
        reply_to = [first["deal"].owner.email]
        # A reply about a step ("another week for legal") reaches the plan too.
        if address := inbound.reply_address(buyers[first["deal"].pk]):
            reply_to.append(address)
    context = {
        "name": name,
        "deals": list(deals.values()),
        "today": today,
        "overdue": overdue,
        "soon": soon,
        "single_deal": first["deal"] if len(deals) == 1 else None,
    }
    return _message(row, "digest", context, reply_to=reply_to)


def build_weekly_review(row: SentNotification):
    """The weekly MAP review of one plan, for its AE or its champion (shared steps only)."""
    if not _email_wanted(row):
        return None
    plan = (
        Plan.objects.select_related("deal__owner", "organization")
        .filter(organization_id=row.organization_id, pk=row.payload["plan"])
        .first()
    )
    if plan is None or not _is_open_deal(plan):
        return None
    buyer = None
    if row.payload.get("buyer"):
        buyer = Stakeholder.objects.filter(
            pk=row.payload["buyer"], deal_id=plan.deal_id, email__iexact=row.recipient
        ).first()
        if buyer is None or not plan.is_the_buyers:
            return None
    today = date.fromisoformat(row.payload["today"])
    since = timezone.now() - timedelta(days=WEEKLY_LOOKBACK_DAYS)
    milestones = plan.milestones.select_related("buyer_owner", "seller_owner").order_by(
        "due_date", "phase", "position"
    )
    changes = DueDateChange.objects.filter(
        milestone__plan=plan, created_at__gte=timezone.now() - timedelta(days=14)
    ).select_related("milestone")
    proposals = DateProposal.objects.filter(
        milestone__plan=plan, status=DateProposal.Status.PENDING
    ).select_related("milestone")
    if buyer is not None:
        milestones = milestones.filter(visibility=Visibility.SHARED)
        changes = changes.filter(milestone__visibility=Visibility.SHARED)
        proposals = proposals.filter(milestone__visibility=Visibility.SHARED)
    milestones = list(milestones)
    changes = list(changes)
    week_end = today + timedelta(days=6)
    open_steps = [m for m in milestones if not m.is_closed]
    for m in open_steps:
        m.overdue_days = m.days_overdue(today)
    context = {
        "plan": plan,
        "deal": plan.deal,
        "buyer": buyer,
        "name": buyer.name if buyer else plan.deal.owner.display_name,
        "today": today,
        "done": [
            m
            for m in milestones
            if m.status == Milestone.Status.DONE and m.completed_at and m.completed_at >= since
        ],
        "due_this_week": [m for m in open_steps if m.due_date and today <= m.due_date <= week_end],
        "overdue": [m for m in open_steps if m.overdue_days],
        "changes": [c for c in changes if c.created_at >= since],
        "proposals": list(proposals),
        "health": plan_health(plan, milestones, today=today, recent_slips=len(changes)),
    }
    if buyer is not None:
        context["url"], _ = _room_link(buyer)
        reply_to = [plan.deal.owner.email] if plan.deal.owner.email else None
    else:
        context["url"] = _absolute(plan.get_absolute_url())
        reply_to = None
    return _message(row, "weekly-review", context, reply_to=reply_to)


def build_stale_plan(row: SentNotification):
    """A plan with no activity for 14 days: the AE's in-app notification and email."""
    plan = (
        Plan.objects.select_related("deal__owner", "organization")
        .filter(organization_id=row.organization_id, pk=row.payload["plan"])
        .first()
    )
    if plan is None or not _is_open_deal(plan):
        return None
    last = plan.activities.order_by("-created_at").first()
    decided_at = datetime.fromisoformat(row.payload["last_activity"])
    if last is not None and last.created_at > decided_at:
        return None  # something happened since the sweep decided: no longer stale
    url = plan.get_absolute_url()
    days = (timezone.now() - last.created_at).days if last else None
    text = f"No activity on {plan.deal} for {days} days" if days else f"No activity on {plan.deal}"
    _in_app(row, text=text, url=url, plan=plan)
    if not _email_wanted(row):
        return None
    today = timezone.localdate(timezone=_zone(plan))
    milestones = list(plan.milestones.open())
    context = {
        "plan": plan,
        "deal": plan.deal,
        "days": days,
        "last": last,
        "open_count": len(milestones),
        "overdue_count": sum(1 for m in milestones if m.is_overdue(today)),
        "url": _absolute(url),
    }
    return _message(row, "stale-plan", context)


def _zone(plan: Plan):
    return ZoneInfo(plan.organization.time_zone)


def build_escalation(row: SentNotification):
    """A buyer-side step overdue by 7 days: the AE (in-app and email) or the champion."""
    step = (
        Milestone.objects.open()
        .select_related("plan__deal__owner", "plan__organization", "buyer_owner")
        .filter(organization_id=row.organization_id, pk=row.payload["milestone"])
        .first()
    )
    if step is None or step.due_date is None or step.due_date.isoformat() != row.period:
        return None  # done, cancelled or moved since: nothing to escalate
    if not _is_open_deal(step.plan):
        return None
    today = date.fromisoformat(row.payload["today"])
    deal = step.plan.deal
    days = step.days_overdue(today)
    url = deal.get_absolute_url() + f"#milestone-{step.public_id}"
    owner = step.buyer_owner.name if step.buyer_owner else "the buyer"
    _in_app(
        row,
        text=f"“{step.title}” ({deal.account_name}, {owner}) is {days} days overdue",
        url=url,
        plan=step.plan,
        milestone=step,
    )
    if not _email_wanted(row):
        return None
    context = {"milestone": step, "deal": deal, "days": days, "owner": owner}
    reply_to = None
    if row.payload.get("buyer"):
        champion = Stakeholder.objects.filter(
            pk=row.payload["buyer"], deal_id=deal.pk, email__iexact=row.recipient
        ).first()
        if champion is None:
            return None
        context["url"], _ = _room_link(champion)
        context["champion"] = champion
        reply_to = [deal.owner.email] if deal.owner.email else None
    else:
        context["url"] = _absolute(url)
    return _message(row, "escalation", context, reply_to=reply_to)


def build_events(row: SentNotification):
    """The batch email of buyer event notices for one seller."""
    notifications = list(
        Notification.objects.filter(
            organization_id=row.organization_id,
            id__in=row.payload.get("notifications", []),
        )
        .select_related("plan__deal")
        .order_by("created_at", "id")
    )
    if not notifications:
        return None
    for notification in notifications:
        notification.absolute_url = _absolute(notification.url) if notification.url else ""
    context = {"notifications": notifications, "first": notifications[0]}
    return _message(row, "buyer-activity", context)


def build_invite_reminder(row: SentNotification):
    """One friendly reminder to a buyer who has not opened the room, with a fresh link."""
    buyer = (
        Stakeholder.objects.select_related("deal__owner", "deal__plan")
        .filter(organization_id=row.organization_id, pk=row.payload["buyer"])
        .first()
    )
    if not _still_unopened(row, buyer) or not _email_wanted(row):
        return None
    url, _ = _room_link(buyer)
    deal = buyer.deal
    context = {"stakeholder": buyer, "deal": deal, "url": url, "seller": deal.owner.display_name}
    reply_to = [deal.owner.email] if deal.owner.email else None
    return _message(row, "invitation-reminder", context, reply_to=reply_to)


def build_invite_unopened(row: SentNotification):
    """The AE is told that a buyer has not opened the room and was reminded: an in-app
    notification that is emailed with the seller's batched notices (a whole buying committee
    invited at once makes one email, not one per buyer)."""
    buyer = (
        Stakeholder.objects.select_related("deal__owner", "deal__plan", "deal__organization")
        .filter(organization_id=row.organization_id, pk=row.payload["buyer"])
        .first()
    )
    if not _still_unopened(row, buyer):
        return None
    deal = buyer.deal
    days = (timezone.now() - buyer.invited_at).days
    _in_app(
        row,
        text=f"{buyer.name} ({deal.account_name}) has not opened the deal room in {days} days; "
        "we sent them a reminder",
        url=deal.get_absolute_url(),
        plan=deal.plan,
        email_state=Notification.EmailState.PENDING
        if _email_wanted(row)
        else Notification.EmailState.NONE,
    )
    return BATCHED if _email_wanted(row) else None


def _still_unopened(row: SentNotification, buyer: Stakeholder | None) -> bool:
    return (
        buyer is not None
        and buyer.first_visit_at is None
        and buyer.invited_at is not None
        and buyer.invited_at.isoformat(timespec="seconds") == row.period
        and not buyer.deal.is_closed
    )


BUILDERS = {
    Kind.DIGEST: build_digest,
    Kind.WEEKLY_REVIEW: build_weekly_review,
    Kind.STALE_PLAN: build_stale_plan,
    Kind.ESCALATION: build_escalation,
    Kind.EVENTS: build_events,
    Kind.INVITE_REMINDER: build_invite_reminder,
    Kind.INVITE_UNOPENED: build_invite_unopened,
}
