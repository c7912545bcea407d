"""The seller's plan page and the plan-level actions (create, overview, reschedule, share,
archive, transfer, save as template). One URL serves the page and, for an htmx request that
targets a region, just that region. The page's fragments live beside it: steps and their
discussion in milestone_views.py, the stakeholder panel in stakeholder_views.py, templates in
template_views.py; they share this module's loading helpers and plan_context."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Min, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from deals.forms import DealCloseForm, DealTransferForm, members_of
from deals.models import Deal
from deals.tenancy import org_view
from stakeholders.actors import Actor
from stakeholders.models import RoomLink, Side, Stakeholder

from . import materials, page_cache, plan_templates, rows, services, sheet_import, viewers
from .drafting import review as drafting_review
from .evidence import content_hash
from .forms import (
    MilestoneAddForm,
    PlanCreateForm,
    PlanOverviewForm,
    RescheduleForm,
    SectionForm,
    StakeholderForm,
    TemplateSaveForm,
)
from .health import plan_health, plan_warnings
from .models import Activity, DueDateChange, Milestone, Phase, Plan
from .signing.signatures import signature_block
from .timeline import timeline_json

PAGE = "plans/plan_detail.html"
# htmx targets that the plan page can answer with just that region.
REGIONS = {
    "plan-header",
    "plan-overview",
    "stakeholder-panel",
    "milestone-table",
    "plan-warnings",
    "plan-materials",
    "activity-feed",
    "timeline",
}


def _deal(request, deal_id) -> Deal:
    deal = get_object_or_404(
        Deal.objects.for_org(request.organization).select_related("owner"), public_id=deal_id
    )
    deal.organization = request.organization  # for URLs, without another query
    return deal


def _plan(request, deal_id) -> Plan:
    plan = get_object_or_404(
        Plan.objects.for_org(request.organization).select_related("deal", "deal__owner"),
        deal__public_id=deal_id,
    )
    plan.organization = plan.deal.organization = request.organization
    return plan


def _milestone(request, milestone_id) -> Milestone:
    milestone = get_object_or_404(
        Milestone.objects.for_org(request.organization).select_related(
            "plan", "plan__deal", "buyer_owner", "seller_owner", "depends_on"
        ),
        public_id=milestone_id,
    )
    milestone.organization = request.organization
    milestone.plan.organization = milestone.plan.deal.organization = request.organization
    return milestone


def _actor(request) -> Actor:
    return Actor.seller(request.user)


def _refuse_if_archived(plan: Plan) -> HttpResponse | None:
    if plan.is_archived:
        return HttpResponse(
            "This plan is archived: restore it before editing.",
            status=409,
            content_type="text/plain",
        )
    return None


def _attach_related(milestones: list[Milestone], stakeholders: list[Stakeholder]) -> None:
    """Set the owners and the step depended on from rows already loaded, instead of joining
    them into every milestone row (which builds three more model objects per step)."""
    people = {s.pk: s for s in stakeholders}
    steps = {m.pk: m for m in milestones}
    for milestone in milestones:
        Milestone.buyer_owner.field.set_cached_value(
            milestone, people.get(milestone.buyer_owner_id)
        )
        Milestone.seller_owner.field.set_cached_value(
            milestone, people.get(milestone.seller_owner_id)
        )
        Milestone.depends_on.field.set_cached_value(milestone, steps.get(milestone.depends_on_id))


class UnboundForm:
    """An unbound form built only when a template draws it: the page asks every form
    `is_bound`/`errors` (to open a popover on a bound invalid one), which this answers
    without building it, so a form inside a cached fragment or region costs nothing."""

    is_bound = False
    errors: dict = {}  # noqa: RUF012 - read-only, like an unbound form's

    def __init__(self, build):
        self._build, self._form = build, None

    def _get(self):
        if self._form is None:
            self._form = self._build()
        return self._form

    def __getattr__(self, name):
        return getattr(self._get(), name)

    def __getitem__(self, name):
        # The template engine tries form["errors"] before form.errors: answer that lookup
        # without building the form too.
        if name in ("is_bound", "errors"):
            raise KeyError(name)
        return self._get()[name]

    def __iter__(self):
        return iter(self._get())

    def __str__(self):
        return str(self._get())

    def __html__(self):
        return self._get().__html__()


def plan_context(
    request,
    plan: Plan,
    region: str | None = None,
    *,
    csrf_token: str | None = None,
    viewer=None,
) -> dict:
    """Everything the plan page and its regions need, in a constant number of queries. The
    milestone rows are rendered (or fetched from the cache) only for the page and the table,
    with this request's CSRF token (or `csrf_token`). Drawn for the signed-in user, or for
    `viewer` (plans/viewers.py: EVERYONE, for a fragment pushed to every seller's page)."""
    today = timezone.localdate()
    milestones = list(
        with_counts(Milestone.objects.filter(plan=plan)).order_by("phase", "position")
    )
    stakeholders = list(
        Stakeholder.objects.filter(deal_id=plan.deal_id).prefetch_related(
            Prefetch("links", queryset=RoomLink.objects.usable(), to_attr="active_links")
        )
    )
    _attach_related(milestones, stakeholders)
    # Options of two forms (transfer, stakeholder's user); loaded only if they are drawn.
    members = SimpleLazyObject(lambda: list(members_of(request.organization)))
    # Date changes of the last 14 days: annotated on the plan by plan_detail, else counted.
    recent_slips = getattr(plan, "recent_slips", None)
    if recent_slips is None:
        recent_slips = DueDateChange.objects.filter(
            milestone__plan=plan, created_at__gte=timezone.now() - SLIP_WINDOW
        ).count()
    close_steps = [m for m in milestones if m.phase == Phase.CLOSE]
    post_steps = [m for m in milestones if m.phase == Phase.POST]
    for group in (close_steps, post_steps):
        for index, milestone in enumerate(group):
            milestone.is_first = index == 0
            milestone.is_last = index == len(group) - 1
    rows.prepare_rows(milestones, org_slug=request.organization.slug, today=today)
    rows.prepare_stakeholders(stakeholders, org_slug=request.organization.slug)
    # What each buyer opened of the materials: read only where the panel is drawn.
    read = SimpleLazyObject(lambda: materials.engagement_by_person(plan))
    for stakeholder in stakeholders:
        stakeholder.materials_read = lambda pk=stakeholder.pk: read.get(pk)
    if region in (None, "milestone-table"):
        rows.render_rows(request, milestones, can_edit=not plan.is_archived, token=csrf_token)
    health = plan_health(plan, milestones, today=today, recent_slips=recent_slips)
    activities = list(Activity.objects.filter(plan=plan).order_by("-created_at", "-id")[:30])
    done = sum(1 for m in milestones if m.status == Milestone.Status.DONE)

    # The signature block needs the hash of the signed content: computed from the rows
    # loaded above, so it costs one query (the events), and only where a region draws it.
    block = SimpleLazyObject(
        lambda: signature_block(
            plan,
            current_hash=content_hash(plan, milestones=milestones, stakeholders=stakeholders),
            stakeholders=stakeholders,
        )
    )
    if viewer is None:
        viewer = viewers.user_keys(request.user)
    # The materials region (plans/material_views.py): loaded only where it is drawn.
    sections = SimpleLazyObject(lambda: materials.seller_sections(plan))
    return {
        "slips_recent": recent_slips,
        "members": SimpleLazyObject(lambda: [(u.pk, u.full_name, u.email) for u in members]),
        "signature_statuses": block,
        "viewer": viewer,
        "page_viewer": viewers.page_keys(viewer),
        # Who sees "Sign plan": the seller signers who have not signed this content.
        "sign_keys": SimpleLazyObject(
            lambda: sorted(
                key
                for status in block
                if status.stakeholder.side == Side.SELLER and not status.signed
                for key in viewers.seller_keys(status.stakeholder)
            )
        ),
        "all_signed": SimpleLazyObject(
            lambda: bool(block) and all(status.signed for status in block)
        ),
        "deal": plan.deal,
        "plan": plan,
        "milestones": milestones,
        "phases": [
            (Phase.CLOSE, Phase.CLOSE.label, close_steps),
            (Phase.POST, Phase.POST.label, post_steps),
        ],
        "buyers": [s for s in stakeholders if s.side == Side.BUYER],
        "sellers": [s for s in stakeholders if s.side == Side.SELLER],
        "health": health,
        "warnings": plan_warnings(plan, milestones),
        "activities": activities,
        "today": today,
        "days_left": (plan.target_signature_date - today).days,
        "progress": {"done": done, "total": len(milestones)},
        "timeline": timeline_json(plan, milestones),
        "can_edit": not plan.is_archived,
        "add_form": UnboundForm(
            lambda: MilestoneAddForm(plan=plan, stakeholders=stakeholders, prefix="add")
        ),
        "stakeholder_form": UnboundForm(
            lambda: StakeholderForm(deal=plan.deal, members=members, prefix="sh")
        ),
        "reschedule_form": UnboundForm(
            lambda: RescheduleForm(initial={"target_date": plan.target_signature_date})
        ),
        "close_form": UnboundForm(lambda: DealCloseForm(initial={"closed_date": today})),
        "transfer_form": UnboundForm(
            lambda: DealTransferForm(
                organization=request.organization,
                members=members,
                initial={"owner": plan.deal.owner},
            )
        ),
        "template_form": UnboundForm(
            lambda: TemplateSaveForm(
                prefix="template", initial={"name": f"{plan.deal.account_name} plan"}
            )
        ),
        "materials": sections,
        "section_form": UnboundForm(lambda: SectionForm(prefix="section")),
        # (kind, label, form): bound only after a refused add; drawn when opened otherwise.
        "resource_forms": [("file", "file", None), ("link", "link", None)],
        "nav": "deals",
    }


SLIP_WINDOW = timedelta(days=14)


def _recent_slips() -> dict:
    """Annotations of the plan's query (one query fewer than reading them apart): the
    number of its date changes of the last 14 days, and when the oldest of them was made
    (the page's health changes when it leaves the window)."""
    since = timezone.now() - SLIP_WINDOW
    changes = (
        DueDateChange.objects.filter(milestone__plan=OuterRef("pk"), created_at__gte=since)
        .order_by()
        .values("milestone__plan")
    )
    return {
        "recent_slips": Coalesce(Subquery(changes.annotate(n=Count("id")).values("n")[:1]), 0),
        "oldest_recent_slip": Subquery(
            changes.annotate(first=Min("created_at")).values("first")[:1]
        ),
    }


def _render_page(request, plan: Plan, *, status: int, **forms) -> HttpResponse:
    """The whole plan page, e.g. with a bound invalid form of the header in place."""
    return render(request, PAGE, {**plan_context(request, plan), **forms}, status=status)


def _plan_create_form(request, deal: Deal, data=None) -> PlanCreateForm:
    return PlanCreateForm(
        data, organization=request.organization, initial={"target_date": deal.target_close_date}
    )


def _render_region(request, plan: Plan, region: str, status: int = 200, **extra) -> HttpResponse:
    context = {**plan_context(request, plan, region), **extra}
    return render(request, f"{PAGE}#{region}", context, status=status)


@org_view
def plan_detail(request, deal_id):
    """The deal's plan page, or the form that creates its plan when it has none. An htmx
    request that targets a region gets just that region. The page's body is served from
    plans.page_cache while nothing it shows has changed (a warm page loads nothing of it)."""
    region = request.htmx.target if request.htmx and request.htmx.target in REGIONS else None
    if region is None and request.method in ("GET", "HEAD"):
        ref = page_cache.lookup(request.organization, deal_id)
        if ref is not None:
            return _whole_page(request, ref)
    plan = _plan_for_page(request, Q(deal__public_id=deal_id))
    if plan is None:
        deal = _deal(request, deal_id)
        context = {"deal": deal, "form": _plan_create_form(request, deal), "nav": "deals"}
        return render(request, "plans/plan_create.html", context)
    if region is None:
        return _render_page(request, plan, status=200)
    return render(request, f"{PAGE}#{region}", plan_context(request, plan, region))


def _plan_for_page(request, where: Q) -> Plan | None:
    plan = (
        Plan.objects.for_org(request.organization)
        .select_related("deal", "deal__owner")
        .filter(where)
        .annotate(**_recent_slips())
        .first()
    )
    if plan is not None:
        plan.organization = plan.deal.organization = request.organization
    return plan


def _whole_page(request, ref: page_cache.PageRef) -> HttpResponse:
    """The page around its body: from the cache, or rendered (regions from their caches)
    and cached until something it shows changes. The body is cached with a CSRF
    placeholder; this request's token is put in on the way out."""
    key = page_cache.body_key(request, ref)  # the revisions, read before loading
    body = page_cache.get(key)
    if body is None:
        plan = _plan_for_page(request, Q(pk=ref.plan_id))
        if plan is None:  # deleted since the lookup
            raise Http404("No such plan.")
        token = rows.CSRF_PLACEHOLDER
        context = plan_context(request, plan, csrf_token=token)
        body = render_to_string(f"{PAGE}#plan-body", {**context, "csrf_token": token}, request)
        page_cache.put(key, body, valid_until=_valid_until(context))
    # The body is our template's output (escaped when rendered).
    html = mark_safe(body.replace(rows.CSRF_PLACEHOLDER, get_token(request)))  # noqa: S308
    context = {"page_body": html, "deal": {"account_name": ref.account_name}, "nav": "deals"}
    return render(request, PAGE, context)


def _valid_until(context: dict):
    """When the clock alone changes the page: the midnight that ends the day it was drawn
    for, the first active room link to expire, the first date change to leave the health's
    14-day window (any of them may have passed while the page was drawn)."""
    oldest_slip = getattr(context["plan"], "oldest_recent_slip", None)
    people = (*context["buyers"], *context["sellers"])
    links = [link.expires_at for person in people for link in person.active_links]
    return page_cache.valid_until(
        timezone.now(),
        [*links, oldest_slip + SLIP_WINDOW if oldest_slip else None],
        today=context["today"],
    )


@require_POST
@org_view
def plan_create(request, deal_id):
    deal = _deal(request, deal_id)
    if Plan.objects.filter(deal=deal).exists():
        messages.info(request, "This deal already has a plan.")
        return redirect(deal.get_absolute_url())
    form = _plan_create_form(request, deal, request.POST)
    form.files = request.FILES
    table = None
    if form.is_valid() and (sheet := form.cleaned_data.get("sheet")):
        try:
            table = sheet_import.read_upload(sheet)
        except sheet_import.ImportRefused as refused:
            form.add_error("sheet", str(refused))
    if not form.is_valid():
        context = {"deal": deal, "form": form, "nav": "deals"}
        return render(request, "plans/plan_create.html", context, status=422)
    with transaction.atomic():
        plan = services.create_plan_from_template(
            deal,
            template=None if table is not None else form.cleaned_data["template"],
            target_date=form.cleaned_data["target_date"],
            business_outcome=form.cleaned_data["business_outcome"],
            actor=_actor(request),
        )
        if table is not None:
            # The plan starts blank; its steps come from the spreadsheet, once previewed.
            draft = sheet_import.keep_for_preview(
                table, plan, user=request.user, source=form.cleaned_data["sheet"].name
            )
    if table is not None:
        return redirect("plans:plan-import-preview", request.organization.slug, draft.public_id)
    if conversation := form.cleaned_data["conversation"]:
        plan.organization = request.organization
        return drafting_review.review(
            request,
            plan,
            {"plan": plan, "deal": deal, "nav": "deals"},
            text=conversation,
            call_date=form.cleaned_data["call_date"] or drafting_review.today_of(plan),
            source="pasted text",
        )
    messages.success(request, "Plan created. Assign owners and share it with the buyer.")
    return redirect(deal.get_absolute_url())


@org_view
def plan_overview(request, deal_id):
    """GET: the edit form of outcome and criteria; POST: save them."""
    plan = _plan(request, deal_id)
    if request.method == "GET":
        form = PlanOverviewForm(
            initial={
                "business_outcome": plan.business_outcome,
                "success_criteria": "\n".join(plan.success_criteria),
                "review_weekday": plan.review_weekday,
                "welcome_note": plan.welcome_note,
                "welcome_video_url": plan.welcome_video_url,
            }
        )
        template = f"{PAGE}#plan-overview-form" if request.htmx else "plans/plan_overview_edit.html"
        return render(request, template, {"plan": plan, "form": form})
    if refused := _refuse_if_archived(plan):
        return refused
    form = PlanOverviewForm(request.POST)
    if not form.is_valid():
        status = 422
        if not request.htmx:
            return render(
                request,
                "plans/plan_overview_edit.html",
                {"plan": plan, "form": form},
                status=status,
            )
        return render(
            request, f"{PAGE}#plan-overview-form", {"plan": plan, "form": form}, status=status
        )
    services.update_plan_overview(plan, actor=_actor(request), **form.cleaned_data)
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    return _render_region(request, plan, "plan-overview")


@require_POST
@org_view
def plan_reschedule(request, deal_id):
    plan = _plan(request, deal_id)
    if refused := _refuse_if_archived(plan):
        return refused
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(
                request,
                f"{PAGE}#reschedule-form",
                {"plan": plan, "reschedule_form": form},
                status=422,
            )
        return _render_page(request, plan, status=422, reschedule_form=form)
    moved = services.reschedule_plan(
        plan,
        actor=_actor(request),
        target_date=form.cleaned_data["target_date"],
        reason=form.cleaned_data["reason"],
    )
    messages.success(request, f"Rescheduled: {len(moved)} step(s) moved.")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return redirect(plan.get_absolute_url())


@require_POST
@org_view
def plan_share(request, deal_id):
    plan = _plan(request, deal_id)
    if refused := _refuse_if_archived(plan):
        return refused
    services.share_plan(plan, actor=_actor(request))
    messages.success(request, "Plan marked as shared with the buyer.")
    return redirect(plan.get_absolute_url())


@require_POST
@org_view
def plan_archive(request, deal_id):
    plan = _plan(request, deal_id)
    archived = request.POST.get("archived", "1") == "1"
    services.archive_plan(plan, actor=_actor(request), archived=archived)
    messages.success(request, "Plan archived." if archived else "Plan restored.")
    return redirect(plan.get_absolute_url())


@require_POST
@org_view
def deal_transfer(request, deal_id):
    deal = _deal(request, deal_id)
    form = DealTransferForm(request.POST, organization=request.organization)
    if not form.is_valid():
        plan = Plan.objects.filter(deal=deal).first()
        if plan is None:
            messages.error(request, "Choose a member of this workspace.")
            context = {"deal": deal, "form": _plan_create_form(request, deal), "nav": "deals"}
            return render(request, "plans/plan_create.html", context, status=422)
        plan.deal = deal
        return _render_page(request, plan, status=422, transfer_form=form)
    services.transfer_deal(deal, actor=_actor(request), new_owner=form.cleaned_data["owner"])
    messages.success(request, f"Deal transferred to {form.cleaned_data['owner'].display_name}.")
    return redirect(deal.get_absolute_url())


@require_POST
@org_view
def plan_save_template(request, deal_id):
    plan = _plan(request, deal_id)
    form = TemplateSaveForm(request.POST, prefix="template")
    if not form.is_valid():
        return _render_page(request, plan, status=422, template_form=form)
    template = plan_templates.save_plan_as_template(
        plan, organization=request.organization, **form.cleaned_data
    )
    messages.success(request, f"Saved as template “{template.name}”.")
    return redirect(plan.get_absolute_url())


# Milestones ---------------------------------------------------------------------------


def with_counts(queryset):
    """Comments, files and pending date proposals per step, in the same query."""
    return queryset.annotate(
        comment_count=Count("comments", distinct=True),
        attachment_count=Count("attachments", distinct=True),
        pending_proposals=Count("proposals", filter=Q(proposals__status="pending"), distinct=True),
    )
