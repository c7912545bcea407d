"""The reminder sweep: decide, for all workspaces at once, who gets which email now, and
record each decision as a unique row of the sent-notification log before anything is sent.

Cross-organization on purpose: this is the reminder sweep. Every decision is a handful of
set-based queries over all workspaces (ids and a few columns, never full objects): the
number of queries does not depend on the number of milestones, plans or workspaces.

Times: a workspace's emails go out in its own time zone, on weekdays, from DIGEST_HOUR
(08:00) until LATEST_HOUR (18:00); the first sweep after 08:00 sends them and the unique
log keeps later sweeps of the same day from sending them again. Alerts that fire when a
threshold is crossed (escalation, stale plan, unopened invitation) are looked for during
CATCH_UP_DAYS after the crossing, so a worker that was down for a while catches up.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, Subquery
from django.utils import timezone

from deals import outbox
from deals.models import Deal, Organization
from plans.models import Activity, Milestone, Plan, Visibility
from stakeholders.models import BuyerRole, Side, Stakeholder

from . import delivery, services
from .models import Kind, Notification, NotificationPreference, SentNotification
from .timing import DUE_SOON_BUSINESS_DAYS, business_days_after, claim_lease
from .webhooks import announce_overdue

log = logging.getLogger(__name__)

DIGEST_HOUR = 8
LATEST_HOUR = 18
STALE_DAYS = 14
ESCALATE_DAYS = 7
INVITE_REMINDER_DAYS = 3
CATCH_UP_DAYS = 7


# --- Local time of every workspace --------------------------------------------------------


@dataclass(frozen=True)
class LocalDay:
    time_zone: str
    now: datetime  # aware, in the workspace's time zone
    today: date

    @property
    def is_business_hours(self) -> bool:
        return self.today.weekday() < 5 and DIGEST_HOUR <= self.now.hour < LATEST_HOUR


def local_days(now: datetime) -> list[LocalDay]:
    """The local date and time of every time zone in use by a workspace (one query)."""
    zones = Organization.objects.order_by().values_list("time_zone", flat=True).distinct()
    result = []
    for name in zones:
        local = now.astimezone(ZoneInfo(name))
        result.append(LocalDay(name, local, local.date()))
    return result


def _by_date(days: list[LocalDay], key) -> dict:
    """Group the time zones by key(day) (e.g. their date): {key: [time zones]}."""
    groups: dict = defaultdict(list)
    for day in days:
        groups[key(day)].append(day.time_zone)
    return groups


def _zones_q(groups: dict, build) -> Q:
    """OR of build(value, time_zones) over the groups; matches nothing when empty."""
    q = Q(pk__in=[])
    for value, zones in groups.items():
        q |= build(value, zones)
    return q


# --- What the sweep decides ---------------------------------------------------------------


@dataclass
class Planned:
    """One email decided on: its unique key and what the sender needs to build it."""

    organization_id: int
    kind: str
    recipient: str
    scope_id: int
    period: str
    payload: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return (self.organization_id, self.kind, self.recipient, self.scope_id, self.period)


def _existing_keys(kind: str, *, periods=None, scope_ids=None) -> set[tuple]:
    """Keys already in the log for `kind` (limited to some periods or scopes)."""
    rows = SentNotification.objects.filter(kind=kind)
    if periods is not None:
        rows = rows.filter(period__in=list(periods))
    if scope_ids is not None:
        rows = rows.filter(scope_id__in=list(scope_ids))
    return {
        (org, kind, recipient, scope, period)
        for org, recipient, scope, period in rows.values_list(
            "organization_id", "recipient", "scope_id", "period"
        )
    }


def _opted_out(kind: str) -> set[tuple[int, str]]:
    """(workspace, email) pairs that turned `kind` off."""
    return set(
        NotificationPreference.objects.filter(kind=kind, enabled=False).values_list(
            "organization_id", "email"
        )
    )


def _finish(planned: list[Planned], kind: str, existing: set[tuple]) -> list[Planned]:
    """Drop what was already decided; turned-off emails are dropped, except that sellers
    still get the in-app notification of alerts (payload "user"), without the email."""
    opted_out = _opted_out(kind)
    result = []
    seen = set()
    for item in planned:
        if item.key in existing or item.key in seen:
            continue
        seen.add(item.key)
        if (item.organization_id, item.recipient) in opted_out:
            if not item.payload.get("user"):
                continue
            item.payload["email"] = False
        result.append(item)
    return result


def _open_deals_q(plan: str, deal: str) -> Q:
    """Plans that are not archived, of deals that are not closed (`plan`/`deal`: the
    lookup prefixes that reach them)."""
    return Q(**{f"{plan}archived_at": None}) & ~Q(**{f"{deal}stage__in": Deal.CLOSED_STAGES})


def digest_rows(by_horizon: dict[date, list[str]]):
    """(milestone, workspace, visibility, buyer owner id, buyer owner email, buyer invited,
    seller owner email) of every open step due by its workspace's horizon date.

    One query; on PostgreSQL an index-only scan of the open steps by due date (the
    covering index of migration 0001_reminders), joined to the small tables. The owners'
    invitation is read as a boolean: converting 10^5 timestamps costs more than the scan."""
    return (
        Milestone.objects.open()
        .filter(
            _zones_q(
                by_horizon,
                lambda horizon, zones: Q(due_date__lte=horizon, organization__time_zone__in=zones),
            )
        )
        .filter(_open_deals_q("plan__", "plan__deal__"))
        .filter(Q(buyer_owner__isnull=False) | Q(seller_owner__isnull=False))
        .annotate(
            # Invited, and the plan is theirs: a draft is not the buyers' yet (its sellers
            # still get their steps).
            buyer_invited=ExpressionWrapper(
                Q(buyer_owner__invited_at__isnull=False) & ~Q(plan__status=Plan.Status.DRAFT),
                output_field=BooleanField(),
            )
        )
        .order_by()
        .values_list(
            "id",
            "organization_id",
            "visibility",
            "buyer_owner_id",
            "buyer_owner__email",
            "buyer_invited",
            "seller_owner__email",
        )
    )


def decide_digests(now: datetime, days: list[LocalDay] | None = None) -> list[Planned]:
    """Daily owner digests: every owner (buyer or seller stakeholder) of open steps that
    are overdue or due within DUE_SOON_BUSINESS_DAYS business days, once per local day.

    Buyers get shared steps only, and only once they were invited to the room (a digest
    is no way to learn of a deal room); sellers get internal steps too."""
    days = [d for d in (days or local_days(now)) if d.is_business_hours]
    if not days:
        return []
    by_horizon = _by_date(days, lambda d: business_days_after(d.today, DUE_SOON_BUSINESS_DAYS))
    today_of = {d.time_zone: d.today.isoformat() for d in days}
    period_of = {
        org: today_of[zone]
        for org, zone in Organization.objects.filter(time_zone__in=list(today_of)).values_list(
            "id", "time_zone"
        )
    }
    rows = digest_rows(by_horizon)
    steps: dict[tuple[int, str], list[int]] = defaultdict(list)
    buyers: dict[tuple[int, str], list[int]] = defaultdict(list)
    shared = Visibility.SHARED
    for milestone_id, org, visibility, buyer_id, buyer_email, invited, seller_email in rows:
        if invited and buyer_email and visibility == shared:
            key = (org, buyer_email.lower())
            steps[key].append(milestone_id)
            buyers[key].append(buyer_id)
        if seller_email:
            steps[(org, seller_email.lower())].append(milestone_id)
    planned = [
        Planned(
            org,
            Kind.DIGEST,
            email,
            0,
            period_of[org],
            {"milestones": sorted(set(ids)), "buyers": sorted(set(buyers.get((org, email), ())))},
        )
        for (org, email), ids in steps.items()
    ]
    existing = _existing_keys(Kind.DIGEST, periods={d.today.isoformat() for d in days})
    return _finish(planned, Kind.DIGEST, existing)


def _champions(deals_filter: Q) -> dict[int, tuple[int, str]]:
    """The champion of each deal matching `deals_filter`: {deal id: (stakeholder id, email)}.
    Only champions invited to the room (they know it)."""
    rows = (
        Stakeholder.objects.filter(deals_filter, side=Side.BUYER, role=BuyerRole.CHAMPION)
        .exclude(email="")
        .exclude(invited_at=None)
        .order_by("deal_id", "id")
        .values_list("deal_id", "id", "email")
    )
    result: dict[int, tuple[int, str]] = {}
    for deal_id, stakeholder_id, email in rows:
        result.setdefault(deal_id, (stakeholder_id, email.lower()))
    return result


def decide_weekly_reviews(now: datetime, days: list[LocalDay] | None = None) -> list[Planned]:
    """On each plan's review weekday, its AE (the deal owner) and its champion get the
    weekly MAP review of that plan."""
    days = [d for d in (days or local_days(now)) if d.is_business_hours]
    if not days:
        return []
    by_weekday = _by_date(days, lambda d: d.today.weekday())
    today_of = {d.time_zone: d.today for d in days}
    plans_q = _zones_q(
        by_weekday,
        lambda weekday, zones: Q(review_weekday=weekday, organization__time_zone__in=zones),
    ) & _open_deals_q("", "deal__")
    plans = list(
        Plan.objects.filter(plans_q)
        .order_by()
        .values_list(
            "id",
            "organization_id",
            "organization__time_zone",
            "deal_id",
            "deal__owner_id",
            "deal__owner__email",
        )
    )
    # The champion hears of a plan once it is theirs (not a draft); the AE of every plan.
    champions = _champions(
        Q(deal__plan__in=Plan.objects.filter(plans_q).exclude(status=Plan.Status.DRAFT))
    )
    planned = []
    for plan_id, org, zone, deal_id, owner_id, owner_email in plans:
        period = today_of[zone].isoformat()
        payload = {"plan": plan_id, "today": period}
        if owner_email:
            planned.append(
                Planned(
                    org,
                    Kind.WEEKLY_REVIEW,
                    owner_email.lower(),
                    plan_id,
                    period,
                    {**payload, "user": owner_id},
                )
            )
        if deal_id in champions:
            buyer_id, email = champions[deal_id]
            planned.append(
                Planned(
                    org, Kind.WEEKLY_REVIEW, email, plan_id, period, {**payload, "buyer": buyer_id}
                )
            )
    existing = _existing_keys(Kind.WEEKLY_REVIEW, periods={d.today.isoformat() for d in days})
    return _finish(planned, Kind.WEEKLY_REVIEW, existing)


def decide_stale_plans(now: datetime, days: list[LocalDay] | None = None) -> list[Planned]:
    """A plan with no activity for STALE_DAYS alerts its AE once per stale period (the
    period is keyed by the time of the last activity: new activity starts a new one)."""
    zones = [d.time_zone for d in (days or local_days(now)) if d.is_business_hours]
    if not zones:
        return []
    threshold = now - timedelta(days=STALE_DAYS)
    last_activity = Subquery(
        Activity.objects.filter(plan=OuterRef("pk"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    plans = list(
        Plan.objects.filter(_open_deals_q("", "deal__"), organization__time_zone__in=zones)
        .annotate(last_activity=last_activity)
        .filter(
            last_activity__lte=threshold,
            last_activity__gt=threshold - timedelta(days=CATCH_UP_DAYS),
        )
        .order_by()
        .values_list(
            "id", "organization_id", "deal__owner_id", "deal__owner__email", "last_activity"
        )
    )
    planned = [
        Planned(
            org,
            Kind.STALE_PLAN,
            email.lower(),
            plan_id,
            last.isoformat(timespec="seconds"),
            {"plan": plan_id, "user": owner_id, "last_activity": last.isoformat()},
        )
        for plan_id, org, owner_id, email, last in plans
        if email
    ]
    existing = _existing_keys(Kind.STALE_PLAN, scope_ids={p[0] for p in plans})
    return _finish(planned, Kind.STALE_PLAN, existing)


def decide_escalations(now: datetime, days: list[LocalDay] | None = None) -> list[Planned]:
    """A buyer-side step (a buyer owns it, or a buyer added it) overdue by ESCALATE_DAYS
    notifies the AE, and the champion where the workspace enables it. Once per step and
    due date (a step moved and overdue again escalates again)."""
    days = [d for d in (days or local_days(now)) if d.is_business_hours]
    if not days:
        return []
    by_today = _by_date(days, lambda d: d.today)
    today_of = {d.time_zone: d.today for d in days}

    def band(today: date, zones: list[str]) -> Q:
        latest = today - timedelta(days=ESCALATE_DAYS)
        return Q(
            due_date__lte=latest,
            due_date__gt=latest - timedelta(days=CATCH_UP_DAYS),
            organization__time_zone__in=zones,
        )

    steps_q = (
        _zones_q(by_today, band)
        & _open_deals_q("plan__", "plan__deal__")
        & Q(visibility=Visibility.SHARED)
        & (Q(buyer_owner__isnull=False) | Q(created_by_side=Side.BUYER))
    )
    steps = list(
        Milestone.objects.open()
        .filter(steps_q)
        .order_by()
        .values_list(
            "id",
            "organization_id",
            "organization__time_zone",
            "organization__escalate_to_champion",
            "plan_id",
            "plan__deal_id",
            "plan__deal__owner_id",
            "plan__deal__owner__email",
            "due_date",
        )
    )
    champions = {}
    if any(step[3] for step in steps):
        champions = _champions(
            Q(deal_id__in=Milestone.objects.open().filter(steps_q).values("plan__deal_id"))
            & Q(organization__escalate_to_champion=True)
        )
    planned = []
    for step_id, org, zone, to_champion, plan_id, deal_id, owner_id, owner_email, due in steps:
        payload = {"milestone": step_id, "plan": plan_id, "today": today_of[zone].isoformat()}
        if owner_email:
            planned.append(
                Planned(
                    org,
                    Kind.ESCALATION,
                    owner_email.lower(),
                    step_id,
                    due.isoformat(),
                    {**payload, "user": owner_id},
                )
            )
        if to_champion and deal_id in champions:
            buyer_id, email = champions[deal_id]
            planned.append(
                Planned(
                    org,
                    Kind.ESCALATION,
                    email,
                    step_id,
                    due.isoformat(),
                    {**payload, "buyer": buyer_id},
                )
            )
    existing = _existing_keys(Kind.ESCALATION, scope_ids={s[0] for s in steps})
    return _finish(planned, Kind.ESCALATION, existing)


def decide_invitation_reminders(now: datetime, days: list[LocalDay] | None = None) -> list[Planned]:
    """A buyer invited INVITE_REMINDER_DAYS ago who never opened the room gets one friendly
    reminder (per invitation), and the AE is told."""
    zones = [d.time_zone for d in (days or local_days(now)) if d.is_business_hours]
    if not zones:
        return []
    latest = now - timedelta(days=INVITE_REMINDER_DAYS)
    buyers = list(
        Stakeholder.objects.filter(
            _open_deals_q("deal__plan__", "deal__"),
            deal__plan__isnull=False,
            side=Side.BUYER,
            first_visit_at=None,
            invited_at__lte=latest,
            invited_at__gt=latest - timedelta(days=CATCH_UP_DAYS),
            organization__time_zone__in=zones,
        )
        .exclude(email="")
        .order_by()
        .values_list(
            "id", "organization_id", "email", "invited_at", "deal__owner_id", "deal__owner__email"
        )
    )
    planned = []
    for buyer_id, org, email, invited_at, owner_id, owner_email in buyers:
        period = invited_at.isoformat(timespec="seconds")
        planned.append(
            Planned(org, Kind.INVITE_REMINDER, email.lower(), buyer_id, period, {"buyer": buyer_id})
        )
        if owner_email:
            planned.append(
                Planned(
                    org,
                    Kind.INVITE_UNOPENED,
                    owner_email.lower(),
                    buyer_id,
                    period,
                    {"buyer": buyer_id, "user": owner_id},
                )
            )
    scope_ids = {b[0] for b in buyers}
    reminders = _finish(
        [p for p in planned if p.kind == Kind.INVITE_REMINDER],
        Kind.INVITE_REMINDER,
        _existing_keys(Kind.INVITE_REMINDER, scope_ids=scope_ids),
    )
    notices = _finish(
        [p for p in planned if p.kind == Kind.INVITE_UNOPENED],
        Kind.INVITE_UNOPENED,
        _existing_keys(Kind.INVITE_UNOPENED, scope_ids=scope_ids),
    )
    return reminders + notices


# Which decisions each beat task makes.
FREQUENT = (decide_digests, decide_escalations, decide_invitation_reminders)
HOURLY = (decide_weekly_reviews, decide_stale_plans)


def decide(now: datetime, deciders=FREQUENT + HOURLY) -> list[Planned]:
    """Everything due now, for all workspaces (reads only)."""
    days = local_days(now)
    planned: list[Planned] = []
    for decider in deciders:
        planned.extend(decider(now, days))
    return planned


# --- Recording decisions and queueing the sending ----------------------------------------


def record(planned: list[Planned]) -> list[int]:
    """Insert the decisions as pending rows of the log; a row whose key exists is left
    alone (the unique constraint decides, so concurrent sweeps cannot both insert it).
    Returns the ids of the rows this call inserted. Run inside a transaction."""
    if not planned:
        return []
    # A stamp unique to this call marks the rows it inserted: bulk_create with
    # ignore_conflicts cannot say which rows were new. The random microseconds keep two
    # sweeps started at the same instant apart.
    stamp = timezone.now() + timedelta(microseconds=secrets.randbelow(1_000_000))
    while SentNotification.objects.filter(queued_at=stamp).exists():
        stamp += timedelta(microseconds=1)
    SentNotification.objects.bulk_create(
        [
            SentNotification(
                organization_id=item.organization_id,
                kind=item.kind,
                recipient=item.recipient,
                scope_id=item.scope_id,
                period=item.period,
                payload=item.payload,
                queued_at=stamp,
            )
            for item in planned
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return list(
        SentNotification.objects.pending().filter(queued_at=stamp).values_list("id", flat=True)
    )


def requeue_pending(now_real: datetime) -> list[int]:
    """Pending rows whose sending did not happen (a crash, a lost task, a failed SMTP
    server): queued longer than a lease ago and not claimed right now. They are stamped
    queued again and returned. Two sweeps may both return a row: the sender's claim
    makes sure only one sends it."""
    lease = claim_lease()
    stale = (
        SentNotification.objects.pending()
        .filter(queued_at__lt=now_real - lease)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now_real))
    )
    ids = list(stale.values_list("id", flat=True)[:10000])
    if ids:
        SentNotification.objects.filter(id__in=ids).update(queued_at=now_real)
    return ids


@dataclass
class SweepResult:
    decided: int = 0
    queued: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    event_batches: list[tuple[int, int]] = field(default_factory=list)
    overdue_announced: int = 0  # milestone.overdue webhook events
    # Filled only when sending in-process: what delivery returned, per status.
    outcomes: dict[str, int] = field(default_factory=dict)


def sweep(now: datetime | None = None, *, deciders=FREQUENT + HOURLY, inline: bool = False):
    """Decide, record, queue. Each new or re-queued row is sent by the Celery task
    `notifications.deliver`, queued after the transaction commits; waiting event notices
    whose throttle expired are flushed the same way. `inline` sends in this process
    instead, after the commit (`manage.py send_reminders`). Idempotent: running it again
    finds nothing new, and two sweeps at once record each email once.
    """
    now = now or timezone.now()
    planned = decide(now, deciders)
    result = SweepResult(decided=len(planned))
    with transaction.atomic():
        result.queued = record(planned)
        result.requeued = requeue_pending(timezone.now())
        if decide_digests in deciders:
            result.event_batches = pending_event_batches()
    if decide_digests in deciders:
        result.overdue_announced = announce_overdue(now)
    ids = result.queued + result.requeued
    if inline:
        _send_inline(ids, result)
    else:
        # Queued after the commit above (we are outside any transaction of ours here; if a
        # caller wraps the sweep in one, on_commit waits for it).
        for sent_id in ids:
            outbox.enqueue("notifications.deliver", sent_id=sent_id)
        for user_id, organization_id in result.event_batches:
            outbox.enqueue(
                "notifications.send_event_emails", user_id=user_id, organization_id=organization_id
            )
    if planned:
        log.info("reminder sweep at %s: %d decided, %d new", now, len(planned), len(result.queued))
    return result


def _send_inline(ids: list[int], result: SweepResult) -> None:
    def send(sent_id: int) -> None:
        try:
            outcome = delivery.deliver(sent_id)
        except delivery.SEND_ERRORS as exc:
            log.warning("could not send notification %s (left pending): %s", sent_id, exc)
            outcome = "failed"
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1

    for sent_id in ids:
        send(sent_id)
    if result.outcomes.get("batched"):
        # Notices made while sending (unopened invitations) join the seller's batched email.
        result.event_batches = pending_event_batches()
    for user_id, organization_id in result.event_batches:
        state, value = services.batch_event_emails(user_id=user_id, organization_id=organization_id)
        if state == "sent":
            send(value)


def pending_event_batches() -> list[tuple[int, int]]:
    """(user, workspace) pairs with event notices still waiting for their email: a lost or
    throttled batch task is picked up here."""
    return list(
        Notification.objects.filter(email_state=Notification.EmailState.PENDING)
        .order_by()
        .values_list("user_id", "organization_id")
        .distinct()
    )
