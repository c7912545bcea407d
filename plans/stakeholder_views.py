"""The plan page's stakeholder panel: add, edit, remove, invite a buyer, revoke a room
link."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from deals import emails
from deals.tenancy import org_view
from stakeholders import services as stakeholder_services
from stakeholders.models import RoomLink, Stakeholder

from . import services
from .forms import StakeholderForm
from .models import Plan
from .views import PAGE, _actor, _plan, _refuse_if_archived, _render_region, plan_context

SENT = "Invitation sent to {email}. Their link:"
NOT_EMAILED = (
    "The invitation could not be emailed to {email} (the mail server did not answer): "
    "copy their link and send it yourself, or invite again later. Their link:"
)


@require_POST
@org_view
def stakeholder_add(request, deal_id):
    plan = _plan(request, deal_id)
    if refused := _refuse_if_archived(plan):
        return refused
    form = StakeholderForm(request.POST, deal=plan.deal, prefix="sh")
    if not form.is_valid():
        context = {**plan_context(request, plan), "stakeholder_form": form}
        template = f"{PAGE}#stakeholder-panel" if request.htmx else PAGE
        return render(request, template, context, status=422)
    data = dict(form.cleaned_data)
    if data.get("is_required_signer") is None:
        data.pop("is_required_signer")  # "by role": the service decides
    stakeholder_services.add_stakeholder(plan.deal, actor=_actor(request), **data)
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    return _render_stakeholder_panel(request, plan)


def _render_stakeholder_panel(request, plan: Plan) -> HttpResponse:
    """The panel after a change of stakeholders. Owners of steps may have changed with it
    (gaps filled by role, owners removed): the milestone table comes with the change's live
    push (plans/fragments.py), like every other page's."""
    return _render_region(request, plan, "stakeholder-panel")


def _stakeholder(request, stakeholder_id) -> Stakeholder:
    return get_object_or_404(
        Stakeholder.objects.for_org(request.organization).select_related("deal"),
        public_id=stakeholder_id,
    )


@org_view
def stakeholder_edit(request, stakeholder_id):
    stakeholder = _stakeholder(request, stakeholder_id)
    plan = get_object_or_404(Plan, deal=stakeholder.deal)
    if request.method == "GET":
        form = StakeholderForm(
            instance=stakeholder, deal=stakeholder.deal, prefix=f"sh-{stakeholder.public_id}"
        )
        template = f"{PAGE}#stakeholder-edit" if request.htmx else "plans/stakeholder_edit.html"
        context = {"stakeholder": stakeholder, "form": form, "plan": plan, "deal": stakeholder.deal}
        return render(request, template, context)
    if refused := _refuse_if_archived(plan):
        return refused
    form = StakeholderForm(
        request.POST,
        instance=Stakeholder.objects.get(pk=stakeholder.pk),
        deal=stakeholder.deal,
        prefix=f"sh-{stakeholder.public_id}",
    )
    if not form.is_valid():
        context = {"stakeholder": stakeholder, "form": form, "plan": plan, "deal": stakeholder.deal}
        template = f"{PAGE}#stakeholder-edit" if request.htmx else "plans/stakeholder_edit.html"
        return render(request, template, context, status=422)
    stakeholder_services.update_stakeholder(stakeholder, actor=_actor(request), **form.cleaned_data)
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    # The edit form targets its own list item; a saved edit may change the side, so the
    # whole panel comes back in place of the panel.
    response = _render_stakeholder_panel(request, plan)
    return reswap(retarget(response, "#stakeholder-panel"), "outerHTML")


@require_POST
@org_view
def stakeholder_remove(request, stakeholder_id):
    stakeholder = _stakeholder(request, stakeholder_id)
    plan = get_object_or_404(Plan, deal=stakeholder.deal)
    if refused := _refuse_if_archived(plan):
        return refused
    stakeholder_services.remove_stakeholder(stakeholder, actor=_actor(request))
    if not request.htmx:
        return redirect(plan.get_absolute_url())
    return _render_stakeholder_panel(request, plan)


# Templates ----------------------------------------------------------------------------


@require_POST
@org_view
def stakeholder_invite(request, stakeholder_id):
    """Email a buyer their personal room link (a new link each time); show it to copy."""
    stakeholder = _stakeholder(request, stakeholder_id)
    plan = get_object_or_404(Plan, deal=stakeholder.deal)
    try:
        _, url = stakeholder_services.invite_buyer(stakeholder, actor=_actor(request))
    except stakeholder_services.InviteRefused as exc:
        if request.htmx:
            return _render_region(request, plan, "stakeholder-panel", invite_error=str(exc))
        messages.error(request, str(exc))
        return redirect(plan.get_absolute_url())
    # The invitation's email has been sent (or refused) by now: the service has committed.
    emailed = not emails.unsent(request)
    notice = SENT if emailed else NOT_EMAILED
    notice = notice.format(email=stakeholder.email)
    # Inviting a buyer shares a draft plan with them.
    services.share_plan(plan, actor=_actor(request))
    if request.htmx:
        new_link = {"stakeholder": stakeholder, "url": url, "notice": notice}
        return _render_region(request, plan, "stakeholder-panel", new_link=new_link)
    (messages.success if emailed else messages.warning)(request, f"{notice} {url}")
    return redirect(plan.get_absolute_url())


@require_POST
@org_view
def room_link_revoke(request, link_id):

    link = get_object_or_404(
        RoomLink.objects.for_org(request.organization).select_related("stakeholder"),
        public_id=link_id,
    )
    stakeholder_services.revoke_room_link(link, actor=_actor(request))
    plan = get_object_or_404(Plan, deal_id=link.stakeholder.deal_id)
    if request.htmx:
        return _render_region(request, plan, "stakeholder-panel")
    messages.success(request, f"Link of {link.stakeholder.name} revoked.")
    return redirect(plan.get_absolute_url())
