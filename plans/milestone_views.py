"""The plan page's step fragments: add, show, edit, set status, move, delete; and a
step's discussion (thread, comments, files, date proposals)."""

from __future__ import annotations

import copy
import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from deals.tenancy import org_view

from . import rows, services
from .attachments import AttachmentRejected
from .forms import CommentForm, MilestoneAddForm, MilestoneForm, StatusForm
from .models import Attachment, DateProposal, Milestone
from .room import serve_attachment, thread_context
from .views import (
    PAGE,
    _actor,
    _milestone,
    _plan,
    _refuse_if_archived,
    _render_region,
    plan_context,
    with_counts,
)


@require_POST
@org_view
def milestone_add(request, deal_id):
    plan = _plan(request, deal_id)
    if refused := _refuse_if_archived(plan):
        return refused
    form = MilestoneAddForm(request.POST, plan=plan, prefix="add")
    after = None
    if after_id := request.POST.get("after"):
        after = (
            Milestone.objects.filter(plan=plan, public_id=after_id).first()
            if _uuid(after_id)
            else None
        )
    if not form.is_valid():
        # The form swaps the whole table region, so the table comes back with the errors.
        context = {**plan_context(request, plan), "add_form": form}
        template = f"{PAGE}#milestone-table" if request.htmx else PAGE
        return render(request, template, context, status=422)
    fields = {k: v for k, v in form.cleaned_data.items() if k not in {"version", "reason"}}
    services.add_milestone(plan, actor=_actor(request), after=after, **fields)
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    return _render_region(request, plan, "milestone-table")


def _uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@org_view
def milestone_row(request, milestone_id):
    """The read-only row (htmx: "Cancel" of an edit). Without htmx: the plan page."""
    milestone = _milestone(request, milestone_id)
    if not request.htmx:
        return redirect(milestone.plan.get_absolute_url())
    return _render_row(request, milestone)


def _render_row(request, milestone: Milestone) -> HttpResponse:
    counts = (
        with_counts(Milestone.objects.filter(pk=milestone.pk))
        .values("comment_count", "attachment_count", "pending_proposals")
        .get()
    )
    for name, value in counts.items():
        setattr(milestone, name, value)
    siblings = list(
        Milestone.objects.filter(plan_id=milestone.plan_id, phase=milestone.phase)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    milestone.is_first = siblings[:1] == [milestone.pk]
    milestone.is_last = siblings[-1:] == [milestone.pk]
    today = timezone.localdate()
    rows.prepare_rows([milestone], org_slug=request.organization.slug, today=today)
    rows.render_rows(request, [milestone], can_edit=not milestone.plan.is_archived)
    # Other regions (header, warnings, timeline, feed) come with the change's live push.
    return HttpResponse(milestone.row_html)


@org_view
def milestone_edit(request, milestone_id):
    """GET: the row as a form. POST: save; 409 with both values when it changed meanwhile."""
    milestone = _milestone(request, milestone_id)
    plan = milestone.plan
    if request.method == "GET":
        form = MilestoneForm(instance=milestone, plan=plan)
        context = {"milestone": milestone, "form": form, "plan": plan}
        return _edit_response(request, context, status=200)
    if refused := _refuse_if_archived(plan):
        return refused
    form = MilestoneForm(request.POST, instance=Milestone.objects.get(pk=milestone.pk), plan=plan)
    context = {"milestone": milestone, "form": form, "plan": plan}
    if not form.is_valid():
        return _edit_response(request, context, status=422)
    data = dict(form.cleaned_data)
    version, reason = data.pop("version"), data.pop("reason")
    try:
        updated = services.update_milestone(
            milestone, actor=_actor(request), expected_version=version, reason=reason or "", **data
        )
    except services.ConflictError as conflict:
        current = conflict.current
        # Compare before binding a form: validating a ModelForm writes the submitted values
        # into its instance, so it gets a copy and `current` keeps the saved values.
        rows = _conflict_rows(current, data)
        # The form keeps the editor's values and now carries the current version: saving
        # again means "keep mine".
        resubmit = request.POST.copy()
        resubmit["version"] = current.version
        fresh = MilestoneForm(resubmit, instance=copy.copy(current), plan=plan)
        fresh.is_valid()
        context.update(form=fresh, conflict=rows, milestone=current)
        return _edit_response(request, context, status=409)
    except services.ReasonRequired as exc:
        form.add_error("reason", str(exc))
        return _edit_response(request, context, status=422)
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    if updated.phase != milestone.phase:
        # The step moved to the other phase's table: send the whole table in its place.
        response = _render_region(request, plan, "milestone-table")
        return reswap(retarget(response, "#milestone-table"), "outerHTML")
    return _render_row(request, _milestone(request, milestone_id))


def _edit_response(request, context, *, status):
    if request.htmx:
        return render(request, f"{PAGE}#milestone-edit-row", context, status=status)
    return render(request, "plans/milestone_edit.html", context, status=status)


def _conflict_rows(current: Milestone, mine: dict) -> list[dict]:
    rows = []
    for name, value in mine.items():
        theirs = getattr(current, name)
        if theirs != value:
            field = Milestone._meta.get_field(name)
            rows.append(
                {
                    "label": field.verbose_name.capitalize(),
                    "theirs": _display(current, name, theirs),
                    "mine": _display(current, name, value),
                }
            )
    return rows


def _display(milestone: Milestone, name: str, value) -> str:
    if value in (None, ""):
        return "—"
    field = Milestone._meta.get_field(name)
    if field.choices:
        return str(dict(field.choices).get(value, value))
    return str(value)


@require_POST
@org_view
def milestone_status(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    if refused := _refuse_if_archived(milestone.plan):
        return refused
    form = StatusForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Unknown status.", status=422, content_type="text/plain")
    saved = services.set_milestone_status(
        milestone, actor=_actor(request), status=form.cleaned_data["status"]
    )
    if not request.htmx:
        return redirect(milestone.plan.get_absolute_url())
    # A status touches none of what was loaded with the step (plan, owners, the step it
    # depends on): the saved row's fields over the loaded one, instead of loading it again.
    for field in Milestone._meta.concrete_fields:
        setattr(milestone, field.attname, getattr(saved, field.attname))
    return _render_row(request, milestone)


@require_POST
@org_view
def milestone_move(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    plan = milestone.plan
    if refused := _refuse_if_archived(plan):
        return refused
    direction = request.POST.get("direction")
    if direction not in {"up", "down"}:
        return HttpResponse("Direction must be up or down.", status=422, content_type="text/plain")
    services.move_milestone(milestone, actor=_actor(request), direction=direction)
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    return _render_region(request, plan, "milestone-table")


@require_POST
@org_view
def milestone_delete(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    plan = milestone.plan
    if refused := _refuse_if_archived(plan):
        return refused
    services.delete_milestone(milestone, actor=_actor(request))
    if not request.htmx:
        messages.success(request, f"Step “{milestone.title}” deleted.")
        return redirect(plan.get_absolute_url())
    return _render_region(request, plan, "milestone-table")


# Stakeholders -------------------------------------------------------------------------


def render_thread(request, context: dict, *, status: int = 200, back_url: str, base: str):
    """The thread fragment for htmx; for a plain request the same inside a full page."""
    if request.htmx:
        return render(request, "plans/milestone_thread.html", context, status=status)
    context = {**context, "back_url": back_url, "base_template": base}
    return render(request, "plans/milestone_thread_page.html", context, status=status)


def _seller_thread(request, milestone, *, form=None, error="", status=200):
    context = {**thread_context(milestone, form=form, error=error), "side": "seller"}
    context["deal"] = milestone.plan.deal
    return render_thread(
        request,
        context,
        status=status,
        back_url=milestone.plan.get_absolute_url(),
        base="base.html",
    )


@org_view
def milestone_thread(request, milestone_id):
    return _seller_thread(request, _milestone(request, milestone_id))


@require_POST
@org_view
def milestone_comment(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _seller_thread(request, milestone, form=form, status=422)
    services.add_comment(milestone, actor=_actor(request), body=form.cleaned_data["body"])
    return _seller_thread(request, milestone)


@require_POST
@org_view
def milestone_attach(request, milestone_id):
    milestone = _milestone(request, milestone_id)
    upload = request.FILES.get("file")
    if upload is None:
        return _seller_thread(request, milestone, error="Choose a file to attach.", status=422)
    try:
        services.add_attachment(milestone, actor=_actor(request), upload=upload)
    except AttachmentRejected as exc:
        return _seller_thread(request, milestone, error=str(exc), status=422)
    return _seller_thread(request, milestone)


@org_view
def attachment_download(request, attachment_id):
    attachment = get_object_or_404(
        Attachment.objects.for_org(request.organization), public_id=attachment_id
    )
    return serve_attachment(attachment)


@require_POST
@org_view
def proposal_decide(request, proposal_id):
    proposal = get_object_or_404(
        DateProposal.objects.for_org(request.organization).select_related(
            "milestone", "milestone__plan", "milestone__plan__deal"
        ),
        public_id=proposal_id,
    )
    decision = request.POST.get("decision")
    if decision not in {"accept", "decline"}:
        return HttpResponse("Decide accept or decline.", status=422, content_type="text/plain")
    plan = proposal.milestone.plan
    if refused := _refuse_if_archived(plan):
        return refused
    services.decide_proposal(proposal, actor=_actor(request), accept=decision == "accept")
    messages.success(
        request,
        f"Date {decision}{'ed' if decision == 'accept' else 'd'} for “{proposal.milestone.title}”.",
    )
    return redirect(plan.get_absolute_url())
