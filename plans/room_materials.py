"""The buyers' side of a plan's materials: opening, downloading and reading them in the deal
room (each opening counted, the viewer's time per page taken from its beacons), their own
uploads to the sections that take them, the champion forwarding one within their company;
and the share link that opens one resource outside the room."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from stakeholders import access
from stakeholders.actors import Actor

from . import materials
from .attachments import AttachmentRejected, serve_file
from .forms import BuyerUploadForm, ShareLinkForm
from .models import (
    Plan,
    Resource,
    ResourceSection,
    ResourceShareLink,
    ResourceVersion,
    Visibility,
)
from .models import ResourceView as View
from .room import PAGE, _plan, _refuse_if_archived, _region, room_context

SESSION_SHARED = "shared_resources"


def _resource(request, resource_id) -> Resource:
    """A shared resource of this room's plan (not a draft), or 404: internal resources do
    not exist for buyers."""
    resource = get_object_or_404(
        Resource.objects.filter(plan__deal=request.deal, visibility=Visibility.SHARED)
        .exclude(plan__status=Plan.Status.DRAFT)
        .select_related("plan", "current", "section"),
        public_id=resource_id,
    )
    resource.plan.deal = request.deal
    return resource


def _version(resource: Resource, version_id) -> ResourceVersion:
    if version_id is None:
        if resource.current is None:
            raise Http404("This resource has no file.")
        return resource.current
    versions = ResourceVersion.objects.filter(resource=resource)
    return get_object_or_404(versions, public_id=version_id)


def _download(resource: Resource, version: ResourceVersion, **who) -> HttpResponse:
    materials.record_open(resource, kind=View.Kind.DOWNLOAD, version=version, **who)
    return serve_file(version.file, name=version.original_name, content_type=version.content_type)


def _open(request, resource: Resource, *, viewer_page, **who) -> HttpResponse:
    """A link is followed, a PDF opens in the viewer, any other file is downloaded; each
    counts as an opening."""
    if resource.kind == Resource.Kind.LINK:
        materials.record_open(resource, kind=View.Kind.LINK, **who)
        return HttpResponseRedirect(resource.url)
    if not resource.is_pdf:
        return _download(resource, resource.current, **who)
    view = materials.record_open(resource, kind=View.Kind.VIEWER, **who)
    return viewer_page(view)


def _beacon(request, view: View) -> HttpResponse:
    pages = materials.parse_beacon(request.POST.get("pages", ""))
    if pages is None:
        return HttpResponse("Not a beacon.", status=400, content_type="text/plain")
    materials.record_time(view, pages)
    return HttpResponse(status=204)


# --- In the room ------------------------------------------------------------------------------


@never_cache
@access.buyer_view
def room_resource(request, resource_id):
    resource = _resource(request, resource_id)
    deal_id = request.deal.public_id

    def viewer_page(view):
        context = {
            "base_template": "base_room.html",
            "resource": resource,
            "deal": request.deal,
            "buyer": request.buyer,
            "room_organization": request.organization,
            "src": reverse("room-resource-content", args=[deal_id, resource.public_id]),
            "download": reverse("room-resource-download", args=[deal_id, resource.public_id]),
            "beacon": reverse("room-resource-time", args=[deal_id, view.public_id]),
            "session": view.public_id,
            "back": reverse("room", args=[deal_id]) + "#room-materials",
            "back_label": "Back to the deal room",
        }
        return render(request, "plans/resource_viewer.html", context)

    return _open(request, resource, viewer_page=viewer_page, stakeholder=request.buyer)


@access.buyer_view
def room_resource_download(request, resource_id, version_id=None):
    resource = _resource(request, resource_id)
    return _download(resource, _version(resource, version_id), stakeholder=request.buyer)


@access.buyer_view
def room_resource_content(request, resource_id):
    """The PDF's bytes, for the viewer (its opening was counted when the viewer opened)."""
    resource = _resource(request, resource_id)
    version = _version(resource, None)
    return serve_file(version.file, name=version.original_name, content_type=version.content_type)


@require_POST
@access.buyer_view
def room_resource_time(request, view_id):
    """The viewer's beacon: only for an opening of this buyer."""
    view = get_object_or_404(
        View.objects.filter(stakeholder=request.buyer, kind=View.Kind.VIEWER), public_id=view_id
    )
    return _beacon(request, view)


def _section(request, section_id) -> ResourceSection:
    section = get_object_or_404(
        ResourceSection.objects.filter(plan__deal=request.deal)
        .exclude(plan__status=Plan.Status.DRAFT)
        .select_related("plan"),
        public_id=section_id,
    )
    section.plan.deal = request.deal
    return section


def _materials_region(request, *, status: int = 200, **extra):
    """After a change: the region (htmx), or the room (a redirect; after a refusal, the
    whole page with the message in place)."""
    plan = _plan(request)
    if request.htmx:
        return _region(request, plan, "room-materials", status=status, **extra)
    if status == 200:
        return redirect(reverse("room", args=[request.deal.public_id]) + "#room-materials")
    return render(request, PAGE, {**room_context(request, plan), **extra}, status=status)


@require_POST
@access.buyer_view
def room_upload(request, section_id):
    """A buyer's file, in a section the seller opened for uploads."""
    section = _section(request, section_id)
    if refused := _refuse_if_archived(section.plan):
        return refused
    if not section.buyer_uploads:
        raise Http404("This section does not take files.")
    form = BuyerUploadForm(request.POST, request.FILES, prefix=f"upload-{section.public_id}")
    if form.is_valid():
        try:
            materials.add_file(
                section.plan,
                actor=Actor.buyer(request.buyer),
                section=section,
                upload=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
            )
        except (AttachmentRejected, materials.MaterialRefused) as rejected:
            form.add_error("file", str(rejected))
    if form.errors:
        errors = [error for errors in form.errors.values() for error in errors]
        return _materials_region(
            request, status=422, upload_section=section.pk, upload_errors=errors
        )
    return _materials_region(request)


@require_POST
@access.buyer_view
def room_resource_remove(request, resource_id):
    """A buyer removes a file they added; anything else is the seller's (403)."""
    resource = _resource(request, resource_id)
    if refused := _refuse_if_archived(resource.plan):
        return refused
    actor = Actor.buyer(request.buyer)
    if not materials.can_remove(resource, actor):
        return HttpResponse(
            "Only the person who added this file can remove it.",
            status=403,
            content_type="text/plain",
        )
    materials.remove_resource(resource, actor=actor)
    return _materials_region(request)


@require_POST
@access.buyer_view
def room_forward(request):
    """The champion sends one shared resource to a colleague of their own company."""
    plan = _plan(request)
    if refused := _refuse_if_archived(plan):
        return refused
    form = ShareLinkForm(request.POST, prefix="forward")
    resource = Resource.objects.filter(
        plan=plan, visibility=Visibility.SHARED, public_id=_uuid(request.POST.get("resource"))
    ).first()
    if resource is None:
        form.add_error(None, "Choose a document to forward.")
    if form.is_valid():
        resource.plan = plan
        try:
            materials.share_resource(
                resource,
                actor=Actor.buyer(request.buyer),
                email=form.cleaned_data["email"],
                days=form.cleaned_data["days"],
                message=form.cleaned_data["message"],
            )
        except materials.MaterialRefused as refused:
            form.add_error("email", str(refused))
    if form.errors:
        return _materials_region(request, status=422, forward_form=form)
    return _materials_region(
        request, forwarded=f"“{resource.title}” was sent to {form.cleaned_data['email']}."
    )


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- Share links ------------------------------------------------------------------------------


@never_cache
def share_link(request, token):
    """GET: a page naming the document and who sent it, with an "Open" button (mail scanners
    prefetch links: opening changes nothing). POST: let this browser open that one resource
    and go there. A link that does not open gets the one invalid-link page."""
    if limited := access.link_rate_limit(request, token=token):
        return limited
    link = materials.find_share_link(token)
    if link is None:
        return access.invalid_link_page(request)
    if request.method == "POST":
        with transaction.atomic():
            materials.mark_share_link_used(link)
            shared = dict(request.session.get(SESSION_SHARED, {}))
            shared[str(link.public_id)] = link.pk
            request.session.cycle_key()
            request.session[SESSION_SHARED] = shared
        return redirect("shared-resource", link_id=link.public_id)
    context = {
        "link": link,
        "resource": link.resource,
        "deal": link.resource.plan.deal,
        "room_organization": link.organization,
    }
    return render(request, "plans/share_landing.html", context)


def _shared(request, link_id) -> ResourceShareLink:
    """The share link this browser opened, still usable, or 404."""
    pk = request.session.get(SESSION_SHARED, {}).get(str(link_id))
    if pk is None:
        raise Http404("No access to this document.")
    link = (
        ResourceShareLink.objects.select_related(
            "resource",
            "resource__current",
            "resource__plan",
            "resource__plan__deal",
            "organization",
        )
        .filter(pk=pk, public_id=link_id)
        .first()
    )
    if link is None or not materials.is_usable(link):
        raise Http404("This link no longer opens the document.")
    return link


@never_cache
def shared_resource(request, link_id):
    link = _shared(request, link_id)
    resource = link.resource

    def viewer_page(view):
        context = {
            "base_template": "base_room.html",
            "resource": resource,
            "deal": resource.plan.deal,
            "room_organization": link.organization,
            "src": reverse("shared-resource-content", args=[link.public_id]),
            "download": reverse("shared-resource-download", args=[link.public_id]),
            "beacon": reverse("shared-resource-time", args=[link.public_id, view.public_id]),
            "session": view.public_id,
            "back": reverse("shared-resource-download", args=[link.public_id]),
            "back_label": "Download instead",
        }
        return render(request, "plans/resource_viewer.html", context)

    return _open(request, resource, viewer_page=viewer_page, share_link=link)


def shared_resource_download(request, link_id):
    link = _shared(request, link_id)
    return _download(link.resource, _version(link.resource, None), share_link=link)


def shared_resource_content(request, link_id):
    link = _shared(request, link_id)
    version = _version(link.resource, None)
    return serve_file(version.file, name=version.original_name, content_type=version.content_type)


@require_POST
def shared_resource_time(request, link_id, view_id):
    link = _shared(request, link_id)
    view = get_object_or_404(
        View.objects.filter(share_link=link, kind=View.Kind.VIEWER), public_id=view_id
    )
    return _beacon(request, view)
