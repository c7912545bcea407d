"""The buyer's deal room: the same plan, seen and worked on from the buyer's side.

Buyers see shared steps only (never internal steps or the seller's internal notes), change
the status of buyer-side steps, add their own steps, propose dates, comment, attach files,
manage buyer-side stakeholders and (the champion) invite colleagues of their domain.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import Count
from django.http import FileResponse, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from stakeholders import access
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import BuyerRole, Side, Stakeholder

from . import materials, page_cache, rows, services, viewers
from .attachments import AttachmentRejected, serve_file
from .drafting.suggest import suggest_date
from .evidence import content_hash
from .forms import (
    BuyerMilestoneForm,
    BuyerSelfForm,
    BuyerStakeholderForm,
    CommentForm,
    ProposalForm,
    ShareLinkForm,
)
from .health import plan_health
from .models import Activity, Attachment, Milestone, Phase, Plan, Resource, Visibility
from .signing.signatures import signature_block
from .timeline import timeline_json

PAGE = "plans/room.html"
REGIONS = {
    "room-header",
    "room-summary",
    "room-materials",
    "room-milestones",
    "room-people",
    "activity-feed",
    "timeline",
}


def _plans(request, *, drafts: bool = False):
    """The room's plan, as a queryset (one plan per deal); a draft is not the buyers' yet
    (Plan.is_the_buyers), unless `drafts`."""
    plans = Plan.objects.filter(deal=request.deal, organization=request.organization)
    return plans if drafts else plans.exclude(status=Plan.Status.DRAFT)


def _plan(request) -> Plan:
    plan = get_object_or_404(_plans(request))
    plan.deal = request.deal
    return plan


def _milestone(request, milestone_id) -> Milestone:
    """A shared step of this room's plan, or 404 (internal steps do not exist for buyers)."""
    milestone = get_object_or_404(
        Milestone.objects.filter(plan__deal=request.deal, visibility=Visibility.SHARED)
        .exclude(plan__status=Plan.Status.DRAFT)
        .select_related("plan", "buyer_owner", "seller_owner"),
        public_id=milestone_id,
    )
    milestone.plan.deal = request.deal
    return milestone


def _refuse_if_archived(plan: Plan) -> HttpResponse | None:
    """An archived plan is read-only in the room (its page says so, and draws no form)."""
    if plan.is_archived:
        return HttpResponse(
            "This plan is archived: it can no longer be changed.",
            status=409,
            content_type="text/plain",
        )
    return None


def _annotated(queryset):
    return queryset.annotate(
        comment_count=Count("comments", distinct=True),
        attachment_count=Count("attachments", distinct=True),
    )


def first_screen(
    plan: Plan, milestones: list, stakeholders: list, *, seller_name: str, today
) -> dict:
    """What the room shows first (issue: the room as the buyer's home): each buyer's own
    open steps, overdue first then by date — drawn for every buyer and shown to its owner
    ({% viewer_only %}); the buyers with none ("Nothing is waiting on you"); progress per
    side; and the plan's health in plain words. From the shared steps already loaded: no
    query of its own.

    The health is the seller's rule (plans/health.py) over the shared steps as they stand;
    the date changes of the last 14 days, a seller's forecast signal, are left out."""
    buyers = [s for s in stakeholders if s.side == Side.BUYER]
    mine: dict[int, list] = {}
    for milestone in sorted(
        (m for m in milestones if m.buyer_owner_id and not m.is_closed),
        key=lambda m: (-m.overdue_days, m.due_date or date.max, m.phase, m.position),
    ):
        mine.setdefault(milestone.buyer_owner_id, []).append(milestone)
    sides = {Side.BUYER: [0, 0], Side.SELLER: [0, 0]}
    for milestone in milestones:
        side = sides[Side.BUYER if services.buyer_can_update(milestone) else Side.SELLER]
        side[0] += milestone.status == Milestone.Status.DONE
        side[1] += 1
    return {
        "next_steps": [(s.viewer_key, mine[s.pk]) for s in buyers if s.pk in mine],
        "idle_keys": [s.viewer_key for s in buyers if s.pk not in mine],
        "side_progress": [
            (plan.deal.account_name, *sides[Side.BUYER]),
            (seller_name, *sides[Side.SELLER]),
        ],
        "room_health": plan_health(plan, milestones, today=today, recent_slips=0),
        "days_past": max(0, (today - plan.target_signature_date).days),
    }


WHATS_NEW_SHOWN = 5


def whats_new(request, activities: list) -> dict:
    """ "What's new since your last visit", for the visiting buyer's page (not a pushed
    fragment: it is theirs, and stays as it was when the page was drawn): what others did
    since the end of their previous visit, among the room's recent activity (`activities`:
    the latest shared ones). Nothing on a first visit. One query."""
    buyer = request.buyer
    since = access.previous_visit_end(request, buyer)
    if since is None:
        return {}
    new = [
        activity
        for activity in activities
        if activity.created_at > since
        and not (activity.side == Side.BUYER and activity.actor_name == buyer.name)
    ]
    return {
        "whats_new": {
            "since": since,
            "shown": new[:WHATS_NEW_SHOWN],
            "count": len(new),
            # Every loaded activity is new: there may be more than were loaded.
            "at_least": bool(activities) and len(new) == len(activities),
        }
    }


def room_context(request, plan: Plan, *, viewer=None) -> dict:
    """Everything the room and its regions need, drawn for the buyer of the request, or for
    `viewer` (plans/viewers.py: EVERYONE, for a fragment pushed to every buyer's page)."""
    if viewer is None:
        viewer = frozenset({viewers.buyer_key(request.buyer)})
    today = timezone.localdate()
    milestones = list(
        _annotated(Milestone.objects.filter(plan=plan, visibility=Visibility.SHARED)).for_page()
    )
    read_only = plan.is_archived
    for milestone in milestones:
        milestone.overdue_days = milestone.days_overdue(today)
        milestone.buyer_can_update = services.buyer_can_update(milestone) and not read_only
    stakeholders = list(Stakeholder.objects.filter(deal_id=plan.deal_id))
    for stakeholder in stakeholders:
        stakeholder.viewer_key = viewers.buyer_key(stakeholder)
    activities = list(
        Activity.objects.filter(plan=plan, visibility=Visibility.SHARED).order_by(
            "-created_at", "-id"
        )[:30]
    )

    sections = materials.sections_of(plan, shared_only=True, versions=True)
    keys = {s.pk: s.viewer_key for s in stakeholders}
    about: dict[int, list] = {}
    for section in sections:
        for resource in section.items:
            # Who may remove it: the buyer who added it (plans/materials.py can_remove).
            resource.owner_key = keys.get(resource.added_by_stakeholder_id)
            if resource.milestone_id:
                about.setdefault(resource.milestone_id, []).append(resource)
    for milestone in milestones:
        milestone.shared_resources = about.get(milestone.pk, [])

    # Internal steps are not loaded here, and they are not part of the signed content.
    block = signature_block(
        plan,
        current_hash=content_hash(plan, milestones=milestones, stakeholders=stakeholders),
        stakeholders=stakeholders,
    )
    return {
        "signature_statuses": block,
        "viewer": viewer,
        "page_viewer": viewers.page_keys(viewer),
        # Who sees "Sign plan": the buyer signers who have not signed this content.
        "sign_keys": [
            status.stakeholder.viewer_key
            for status in block
            if status.stakeholder.side == Side.BUYER and not status.signed
        ],
        "plan": plan,
        "read_only": read_only,
        "deal": plan.deal,
        # The page around the body names the buyer ("Signed in as"); a fragment does not.
        "buyer": getattr(request, "buyer", None),
        "room_organization": request.organization,
        "milestones": milestones,
        "phases": [
            (Phase.CLOSE, Phase.CLOSE.label, [m for m in milestones if m.phase == Phase.CLOSE]),
            (Phase.POST, Phase.POST.label, [m for m in milestones if m.phase == Phase.POST]),
        ],
        "buyers": [s for s in stakeholders if s.side == Side.BUYER],
        "sellers": [s for s in stakeholders if s.side == Side.SELLER],
        "signers": [s for s in stakeholders if s.is_required_signer],
        "activities": activities,
        "timeline": timeline_json(plan, milestones),
        "today": today,
        "days_left": (plan.target_signature_date - today).days,
        "add_form": BuyerMilestoneForm(plan=plan, prefix="add"),
        "stakeholder_form": BuyerStakeholderForm(prefix="sh"),
        # Who sees the invitation form: the buyer's champions.
        "champion_keys": [
            s.viewer_key
            for s in stakeholders
            if s.side == Side.BUYER and s.role == BuyerRole.CHAMPION
        ],
        "buyer_domains": sorted(stakeholder_services.buyer_domains(plan.deal)),
        "status_choices": [c for c in Milestone.Status.choices if c[0] in services.BUYER_STATUSES],
        **first_screen(
            plan, milestones, stakeholders, seller_name=request.organization.name, today=today
        ),
        "events_url": f"/events/plans/{plan.public_id}/",
        # Shared materials only; the upload and forward forms are drawn per section / for
        # the champions (plans/room_materials.py takes them).
        "materials": sections,
        "forward_form": ShareLinkForm(prefix="forward"),
    }


def _region(request, plan: Plan, region: str, *, status: int = 200, **extra):
    context = {**room_context(request, plan), **extra}
    return render(request, f"{PAGE}#{region}", context, status=status)


@access.buyer_view
def room(request):
    """The room, or (htmx) one region of it. The page's body is served from plans.page_cache
    while nothing it shows has changed: the same revisions as the seller's page, for this
    buyer (the body names them and offers them their own edits)."""
    if request.htmx and request.htmx.target in REGIONS:
        plan = _plan(request)
        return render(request, f"{PAGE}#{request.htmx.target}", room_context(request, plan))
    deal = request.deal
    # The deal and the workspace were loaded (with their revisions) by the access check; a
    # body is cached only for a deal that has a plan (plans are not deleted).
    organization = request.organization
    ref = page_cache.PageRef(
        None, deal.pk, organization.pk, deal.account_name, deal.revision, organization.revision
    )
    # Per visit: "What's new since your last visit" is this visit's.
    visit = access.current_visit(request, deal.public_id)
    key = page_cache.body_key(request, ref, viewer=("room", request.buyer.pk, visit))
    body = page_cache.get(key)
    if body is None:
        # Loaded after the revisions were read (so a change committed meanwhile cannot be
        # cached under them): the buyer, the deal and the workspace too.
        request.buyer = Stakeholder.objects.select_related(
            "deal", "deal__owner", "deal__organization"
        ).get(pk=request.buyer.pk)
        request.deal = request.buyer.deal
        request.organization = request.deal.organization
        plan = get_object_or_404(_plans(request, drafts=True))
        token = rows.CSRF_PLACEHOLDER
        if not plan.is_the_buyers:
            # Not shared yet: the room says so (its page changes when it is shared).
            context = {
                "deal": request.deal,
                "room_organization": request.organization,
                "today": timezone.localdate(),
            }
            body = render_to_string(f"{PAGE}#room-not-shared", context, request)
        else:
            plan.deal = request.deal
            context = room_context(request, plan)
            context.update(whats_new(request, context["activities"]))
            body = render_to_string(f"{PAGE}#room-body", {**context, "csrf_token": token}, request)
        valid_until = page_cache.valid_until(timezone.now(), [], today=context["today"])
        page_cache.put(key, body, valid_until=valid_until)
    # The body is our template's output (escaped when rendered).
    html = mark_safe(body.replace(rows.CSRF_PLACEHOLDER, get_token(request)))  # noqa: S308
    context = {
        "page_body": html,
        "deal": request.deal,
        "buyer": request.buyer,
        "room_organization": request.organization,
    }
    return render(request, PAGE, context)


def _row(request, milestone: Milestone, *, status: int = 200):
    today = timezone.localdate()
    milestone = _annotated(Milestone.objects.filter(pk=milestone.pk)).for_page().get()
    milestone.plan.deal = request.deal
    milestone.overdue_days = milestone.days_overdue(today)
    read_only = milestone.plan.is_archived
    milestone.buyer_can_update = services.buyer_can_update(milestone) and not read_only
    milestone.shared_resources = list(
        Resource.objects.filter(milestone=milestone, visibility=Visibility.SHARED)
    )
    context = {
        "milestone": milestone,
        "plan": milestone.plan,
        "read_only": read_only,
        "deal": request.deal,
        "buyer": request.buyer,
        "today": today,
        "status_choices": [c for c in Milestone.Status.choices if c[0] in services.BUYER_STATUSES],
    }
    # Other regions (header, timeline, feed) come with the change's live push.
    return render(request, f"{PAGE}#room-milestone-row", context, status=status)


@access.buyer_view
def room_milestone_row(request, milestone_id):
    return _row(request, _milestone(request, milestone_id))


@require_POST
@access.buyer_view
def room_milestone_status(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    if refused := _refuse_if_archived(milestone.plan):
        return refused
    if not services.buyer_can_update(milestone):
        return HttpResponse(
            "This step is owned by the seller's team: only they can change it.",
            status=403,
            content_type="text/plain",
        )
    status = request.POST.get("status")
    if status not in services.BUYER_STATUSES:
        return HttpResponse("Choose done, in progress, blocked or not started.", status=422)
    services.set_milestone_status(milestone, actor=Actor.buyer(request.buyer), status=status)
    if not request.htmx:
        return redirect("room", deal_id=request.deal.public_id)
    return _row(request, milestone)


@require_POST
@access.buyer_view
def room_milestone_add(request):
    plan = _plan(request)
    if refused := _refuse_if_archived(plan):
        return refused
    form = BuyerMilestoneForm(request.POST, plan=plan, prefix="add")
    if not form.is_valid():
        if request.htmx:
            return _region(request, plan, "room-add-step", status=422, add_form=form)
        return render(request, PAGE, {**room_context(request, plan), "add_form": form}, status=422)
    services.add_milestone(
        plan,
        actor=Actor.buyer(request.buyer),
        visibility=Visibility.SHARED,
        **form.cleaned_data,
    )
    if not request.htmx:
        return redirect("room", deal_id=request.deal.public_id)
    return _region(request, plan, "room-milestones")


@access.buyer_view
def room_propose(request, milestone_id):
    """GET: the proposal form in place of the row. POST: propose a new date with a reason."""
    milestone = _milestone(request, milestone_id)
    if request.method == "GET":
        form = ProposalForm(initial={"proposed_date": milestone.due_date})
        return render(
            request,
            f"{PAGE}#room-propose-row",
            {"milestone": milestone, "form": form, "deal": request.deal},
        )
    if refused := _refuse_if_archived(milestone.plan):
        return refused
    form = ProposalForm(request.POST)
    if not form.is_valid():
        context = {"milestone": milestone, "form": form, "deal": request.deal}
        return render(request, f"{PAGE}#room-propose-row", context, status=422)
    services.propose_date(milestone, buyer=request.buyer, **form.cleaned_data)
    if not request.htmx:
        return redirect("room", deal_id=request.deal.public_id)
    return _row(request, milestone)


def thread_context(milestone: Milestone, *, form=None, error: str = "") -> dict:
    return {
        "milestone": milestone,
        "comments": list(milestone.comments.all()),
        "attachments": list(milestone.attachments.all()),
        "proposals": list(milestone.proposals.filter(status="pending")),
        "comment_form": form or CommentForm(),
        "attachment_error": error,
    }


@access.buyer_view
def room_thread(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    context = {
        **thread_context(milestone),
        "side": "buyer",
        "deal": request.deal,
        "read_only": milestone.plan.is_archived,
    }
    return render(request, "plans/milestone_thread.html", context)


@require_POST
@access.buyer_view
def room_comment(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    if refused := _refuse_if_archived(milestone.plan):
        return refused
    form = CommentForm(request.POST)
    status, suggestion = 200, None
    if form.is_valid():
        body = form.cleaned_data["body"]
        services.add_comment(milestone, actor=Actor.buyer(request.buyer), body=body)
        form = None
        suggestion = _suggested_proposal(milestone, body)
    else:
        status = 422
    context = {
        **thread_context(milestone, form=form),
        "side": "buyer",
        "deal": request.deal,
        "suggestion": suggestion,
    }
    return render(request, "plans/milestone_thread.html", context, status=status)


def _suggested_proposal(milestone: Milestone, body: str) -> dict | None:
    """A comment that asks for more time ("we'll need another week") offers the buyer the
    date proposal it implies, filled in: they confirm it, the seller decides."""
    if milestone.status in (Milestone.Status.DONE, Milestone.Status.CANCELLED):
        return None
    zone = ZoneInfo(milestone.plan.organization.time_zone)
    day = suggest_date(
        body,
        due=milestone.due_date,
        today=timezone.now().astimezone(zone).date(),
        day_first=not milestone.plan.organization.time_zone.startswith("America/"),
    )
    return {"date": day, "reason": body.strip()[:300]} if day else None


@require_POST
@access.buyer_view
def room_attach(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    if refused := _refuse_if_archived(milestone.plan):
        return refused
    error, status = "", 200
    upload = request.FILES.get("file")
    if upload is None:
        error, status = "Choose a file to attach.", 422
    else:
        try:
            services.add_attachment(milestone, actor=Actor.buyer(request.buyer), upload=upload)
        except AttachmentRejected as exc:
            error, status = str(exc), 422
    context = {**thread_context(milestone, error=error), "side": "buyer", "deal": request.deal}
    return render(request, "plans/milestone_thread.html", context, status=status)


@access.buyer_view
def room_attachment(request, attachment_id):
    attachment = get_object_or_404(
        Attachment.objects.filter(
            milestone__plan__deal=request.deal, milestone__visibility=Visibility.SHARED
        ).exclude(milestone__plan__status=Plan.Status.DRAFT),
        public_id=attachment_id,
    )
    return serve_attachment(attachment)


def serve_attachment(attachment: Attachment) -> FileResponse:
    return serve_file(
        attachment.file, name=attachment.original_name, content_type=attachment.content_type
    )


@require_POST
@access.buyer_view
def room_stakeholder_add(request):
    """The champion invites a colleague of the buyer's own email domain(s)."""
    plan = _plan(request)
    if refused := _refuse_if_archived(plan):
        return refused
    form = BuyerStakeholderForm(request.POST, prefix="sh")
    if form.is_valid():
        try:
            stakeholder_services.invite_colleague(request.buyer, **form.cleaned_data)
        except stakeholder_services.InviteRefused as exc:
            form.add_error("email", str(exc))
    if form.errors:
        if request.htmx:
            return _region(request, plan, "room-people", status=422, stakeholder_form=form)
        return render(
            request, PAGE, {**room_context(request, plan), "stakeholder_form": form}, status=422
        )
    if not request.htmx:
        return redirect("room", deal_id=request.deal.public_id)
    return _region(request, plan, "room-people")


@access.buyer_view
def room_stakeholder_edit(request, stakeholder_id):
    """A buyer edits their own name, title and phone. Anyone else's record — and every
    address, which is who receives a person's links — is the seller's to change (404)."""
    stakeholder = get_object_or_404(
        Stakeholder.objects.filter(deal=request.deal, pk=request.buyer.pk),
        public_id=stakeholder_id,
    )
    plan = _plan(request)
    if request.method == "GET":
        form = BuyerSelfForm(instance=stakeholder, prefix=f"sh-{stakeholder.public_id}")
        return render(
            request,
            f"{PAGE}#room-person-edit",
            {"person": stakeholder, "form": form, "deal": request.deal},
        )
    if refused := _refuse_if_archived(plan):
        return refused
    form = BuyerSelfForm(
        request.POST,
        instance=Stakeholder.objects.get(pk=stakeholder.pk),
        prefix=f"sh-{stakeholder.public_id}",
    )
    if not form.is_valid():
        context = {"person": stakeholder, "form": form, "deal": request.deal}
        return render(request, f"{PAGE}#room-person-edit", context, status=422)
    stakeholder_services.update_stakeholder(
        stakeholder, actor=Actor.buyer(request.buyer), **form.cleaned_data
    )
    if not request.htmx:
        return redirect("room", deal_id=request.deal.public_id)
    return _region(request, plan, "room-people")
