"""The seller's side of a plan's materials: the plan page's "Materials" region (sections,
files, links, with their engagement) and each resource's own page (edit, versions,
engagement per person and per page, share links, the viewer)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from deals.emails import unsent
from deals.tenancy import org_view

from . import materials
from .attachments import AttachmentRejected, serve_file
from .forms import ResourceForm, SectionForm, ShareLinkForm, VersionForm
from .models import Resource, ResourceSection, ResourceShareLink, ResourceVersion
from .views import PAGE, _actor, _plan, _refuse_if_archived, plan_context

REGION = "plan-materials"
RESOURCE_PAGE = "plans/resource_detail.html"


def _region(request, plan, *, status: int = 200, **forms) -> HttpResponse:
    """The region after a change (htmx), or the page: with a bound invalid form in place
    (422), or back to the page (a redirect, without htmx)."""
    if status == 200 and not request.htmx:
        return redirect(plan.get_absolute_url() + "#plan-materials")
    context = {**plan_context(request, plan, REGION), **forms}
    template = f"{PAGE}#{REGION}" if request.htmx else PAGE
    return render(request, template, context, status=status)


def _section(request, section_id) -> ResourceSection:
    section = get_object_or_404(
        ResourceSection.objects.for_org(request.organization).select_related(
            "plan", "plan__deal", "plan__deal__owner"
        ),
        public_id=section_id,
    )
    section.plan.organization = section.plan.deal.organization = request.organization
    return section


def _resource(request, resource_id) -> Resource:
    resource = get_object_or_404(
        Resource.objects.for_org(request.organization).select_related(
            "plan", "plan__deal", "plan__deal__owner", "section", "current", "milestone"
        ),
        public_id=resource_id,
    )
    resource.plan.organization = resource.plan.deal.organization = request.organization
    return resource


def _check_direction(direction: str) -> None:
    if direction not in ("up", "down"):
        raise Http404("Up or down.")


# --- Sections ---------------------------------------------------------------------------------


@require_POST
@org_view
def section_add(request, deal_id):
    plan = _plan(request, deal_id)
    if refused := _refuse_if_archived(plan):
        return refused
    form = SectionForm(request.POST, prefix="section")
    if not form.is_valid():
        return _region(request, plan, status=422, section_form=form)
    materials.add_section(plan, actor=_actor(request), **form.cleaned_data)
    return _region(request, plan)


@org_view
def section_edit(request, section_id):
    """GET: the section's form in place of its heading. POST: save it."""
    section = _section(request, section_id)
    plan = section.plan
    prefix = f"section-{section.public_id}"
    if request.method == "GET":
        form = SectionForm(instance=section, prefix=prefix)
        return render(request, f"{PAGE}#section-edit", {"section": section, "form": form})
    if refused := _refuse_if_archived(plan):
        return refused
    form = SectionForm(request.POST, instance=ResourceSection(), prefix=prefix)
    if not form.is_valid():
        context = {"section": section, "form": form}
        return render(request, f"{PAGE}#section-edit", context, status=422)
    materials.update_section(section, actor=_actor(request), **form.cleaned_data)
    return _region(request, plan)


@require_POST
@org_view
def section_remove(request, section_id):
    section = _section(request, section_id)
    if refused := _refuse_if_archived(section.plan):
        return refused
    try:
        materials.remove_section(section, actor=_actor(request))
    except materials.MaterialRefused as refused:
        return HttpResponse(str(refused), status=409, content_type="text/plain")
    return _region(request, section.plan)


@require_POST
@org_view
def section_move(request, section_id, direction):
    _check_direction(direction)
    section = _section(request, section_id)
    if refused := _refuse_if_archived(section.plan):
        return refused
    materials.move_section(section, actor=_actor(request), direction=direction)
    return _region(request, section.plan)


# --- Resources --------------------------------------------------------------------------------


@org_view
def resource_add(request, deal_id, kind):
    """GET: the form that adds a link or a file (drawn when the plan page opens it). POST:
    add it to one of the plan's sections."""
    if kind not in Resource.Kind.values:
        raise Http404("No such kind of resource.")
    plan = _plan(request, deal_id)
    if request.method == "GET":
        form = ResourceForm(plan=plan, kind=kind, prefix=kind)
        context = {"deal": plan.deal, "plan": plan, "kind": kind, "label": kind, "form": form}
        if request.htmx:
            return render(request, f"{PAGE}#resource-form", context)
        return render(request, "plans/resource_add.html", {**context, "nav": "deals"})
    if refused := _refuse_if_archived(plan):
        return refused
    form = ResourceForm(request.POST, request.FILES, plan=plan, kind=kind, prefix=kind)
    if form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("file", None)
        try:
            if kind == Resource.Kind.FILE:
                fields.pop("url", None)
                materials.add_file(plan, actor=_actor(request), upload=upload, **fields)
            else:
                materials.add_link(plan, actor=_actor(request), **fields)
        except AttachmentRejected as rejected:
            form.add_error("file", str(rejected))
        except materials.MaterialRefused as refused:
            form.add_error("milestone", str(refused))
    if form.errors:
        forms = [(k, k, form if k == kind else None) for k in ("file", "link")]
        return _region(request, plan, status=422, resource_forms=forms)
    return _region(request, plan)


def _resource_page(request, resource: Resource, *, status: int = 200, **forms) -> HttpResponse:
    plan = resource.plan
    context = {
        "resource": resource,
        "plan": plan,
        "deal": plan.deal,
        "versions": list(resource.versions.all()),
        "engagement": materials.engagement_of(resource),
        "share_links": list(resource.share_links.all()),
        "can_edit": not plan.is_archived,
        "form": ResourceForm(instance=resource, plan=plan, prefix="edit"),
        "version_form": VersionForm(prefix="version"),
        "share_form": ShareLinkForm(prefix="share"),
        "nav": "deals",
        **forms,
    }
    return render(request, RESOURCE_PAGE, context, status=status)


@org_view
def resource_detail(request, resource_id):
    return _resource_page(request, _resource(request, resource_id))


@require_POST
@org_view
def resource_edit(request, resource_id):
    resource = _resource(request, resource_id)
    if refused := _refuse_if_archived(resource.plan):
        return refused
    form = ResourceForm(request.POST, instance=resource, plan=resource.plan, prefix="edit")
    if form.is_valid():
        try:
            materials.update_resource(
                _resource(request, resource_id), actor=_actor(request), **form.cleaned_data
            )
        except materials.MaterialRefused as refused:
            form.add_error("milestone", str(refused))
    if form.errors:
        # The form changed the instance it validated: show the stored one beside it.
        return _resource_page(request, _resource(request, resource_id), status=422, form=form)
    messages.success(request, "Saved.")
    return redirect("plans:resource-detail", request.organization.slug, resource.public_id)


@require_POST
@org_view
def resource_version(request, resource_id):
    resource = _resource(request, resource_id)
    if refused := _refuse_if_archived(resource.plan):
        return refused
    form = VersionForm(request.POST, request.FILES, prefix="version")
    if form.is_valid():
        try:
            version = materials.add_version(
                resource, actor=_actor(request), upload=form.cleaned_data["file"]
            )
        except (AttachmentRejected, materials.MaterialRefused) as rejected:
            form.add_error("file", str(rejected))
    if form.errors:
        return _resource_page(request, resource, status=422, version_form=form)
    messages.success(request, f"Version {version.number} uploaded; the older ones stay listed.")
    return redirect("plans:resource-detail", request.organization.slug, resource.public_id)


@require_POST
@org_view
def resource_move(request, resource_id, direction):
    _check_direction(direction)
    resource = _resource(request, resource_id)
    if refused := _refuse_if_archived(resource.plan):
        return refused
    materials.move_resource(resource, actor=_actor(request), direction=direction)
    return _region(request, resource.plan)


@require_POST
@org_view
def resource_remove(request, resource_id):
    resource = _resource(request, resource_id)
    plan = resource.plan
    if refused := _refuse_if_archived(plan):
        return refused
    materials.remove_resource(resource, actor=_actor(request))
    if request.htmx and request.htmx.target == REGION:
        return _region(request, plan)
    messages.success(request, f"“{resource.title}” was removed.")
    return redirect(plan.get_absolute_url() + "#plan-materials")


@org_view
def resource_file(request, resource_id, version_id=None):
    """A version of a file (the newest by default), downloaded by a seller (not counted as
    engagement)."""
    resource = _resource(request, resource_id)
    versions = ResourceVersion.objects.filter(resource=resource)
    version = get_object_or_404(versions, public_id=version_id) if version_id else None
    version = version or resource.current
    if version is None:
        return HttpResponse("This resource has no file.", status=404, content_type="text/plain")
    return serve_file(version.file, name=version.original_name, content_type=version.content_type)


@org_view
def resource_viewer(request, resource_id):
    """The PDF viewer, for the seller to see what the buyers see (not counted)."""
    resource = _resource(request, resource_id)
    if not resource.is_pdf:
        return redirect("plans:resource-detail", request.organization.slug, resource.public_id)
    context = {
        "resource": resource,
        "src": reverse("plans:resource-file", args=[request.organization.slug, resource.public_id]),
        "back": reverse(
            "plans:resource-detail", args=[request.organization.slug, resource.public_id]
        ),
        "download": reverse(
            "plans:resource-file", args=[request.organization.slug, resource.public_id]
        ),
        "nav": "deals",
    }
    return render(request, "plans/resource_viewer.html", context)


@require_POST
@org_view
def resource_share(request, resource_id):
    """Send one resource by link to someone who is not on the plan."""
    resource = _resource(request, resource_id)
    if refused := _refuse_if_archived(resource.plan):
        return refused
    form = ShareLinkForm(request.POST, prefix="share")
    if form.is_valid():
        try:
            materials.share_resource(
                resource,
                actor=_actor(request),
                email=form.cleaned_data["email"],
                days=form.cleaned_data["days"],
                message=form.cleaned_data["message"],
            )
        except materials.MaterialRefused as refused:
            form.add_error("email", str(refused))
    if form.errors:
        return _resource_page(request, resource, status=422, share_form=form)
    email = form.cleaned_data["email"]
    if email.lower() in [address.lower() for address in unsent(request)]:
        messages.error(request, f"The link could not be emailed to {email}; try again later.")
    else:
        messages.success(request, f"A link to “{resource.title}” was emailed to {email}.")
    return redirect("plans:resource-detail", request.organization.slug, resource.public_id)


@require_POST
@org_view
def share_link_revoke(request, link_id):
    link = get_object_or_404(
        ResourceShareLink.objects.for_org(request.organization).select_related(
            "resource", "resource__plan", "resource__plan__deal"
        ),
        public_id=link_id,
    )
    materials.revoke_share_link(link, actor=_actor(request))
    messages.success(request, f"The link sent to {link.recipient_email} no longer opens.")
    return redirect("plans:resource-detail", request.organization.slug, link.resource.public_id)
