"""Calendar feeds and single-step .ics files (plans/calendars.py): the secret feed URL any
calendar app reads, the pages where sellers and buyers make (and sellers revoke) their
feeds, and "Add to calendar" on one step."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from deals.tenancy import org_view
from stakeholders import access

from . import calendars
from .models import CalendarFeed, Milestone, Plan, Visibility
from .views import _milestone, _plan

FeedKind = CalendarFeed.Kind


def _ics(request, body: bytes, *, filename: str | None = None) -> HttpResponse:
    etag = calendars.etag(body)
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def calendar_feed(request, token):
    """The feed a calendar app subscribes to. Any token that does not open a feed gets the
    same 404. Only misses count against the client's budget of link attempts: calendar
    services poll many people's feeds from a few addresses."""
    feed = calendars.find_feed(token)
    if feed is None:
        if limited := access.link_rate_limit(request, token=token):
            return limited
        raise Http404("No such calendar.")
    body = calendars.calendar(
        calendars.feed_name(feed),
        calendars.feed_steps(feed),
        feed.organization,
        buyer=feed.kind == FeedKind.BUYER,
    )
    return _ics(request, body)


# --- Sellers ----------------------------------------------------------------------------------


def _my_feeds(request):
    return (
        CalendarFeed.objects.for_org(request.organization)
        .filter(user=request.user, revoked_at=None)
        .select_related("plan", "plan__deal")
    )


@org_view
def my_calendars(request):
    """GET: the seller's feeds. POST: a new feed of their steps across all deals (or, with
    `deal`, of every step of that deal's plan); its address is shown once."""
    new_url = None
    if request.method == "POST":
        plan = None
        if deal_id := request.POST.get("deal"):
            try:
                deal_id = uuid.UUID(deal_id)
            except ValueError:
                raise Http404("No such plan.") from None
            plan = _plan(request, deal_id)
        kind = FeedKind.PLAN if plan else FeedKind.SELLER
        _, token = calendars.create_feed(request.organization, kind, plan=plan, user=request.user)
        new_url = calendars.feed_url(token)
    context = {"feeds": list(_my_feeds(request)), "new_url": new_url, "nav": "deals"}
    return render(request, "plans/calendars.html", context, status=201 if new_url else 200)


@require_POST
@org_view
def calendar_revoke(request, feed_id):
    feed = get_object_or_404(_my_feeds(request), public_id=feed_id)
    calendars.revoke(feed)
    return redirect("plans:calendars", request.organization.slug)


@org_view
def milestone_ics(request, milestone_id):
    """ "Add to calendar": one step as an .ics file."""
    step = _milestone(request, milestone_id)
    step.moves = step.date_changes.count()
    if step.due_date is None:
        raise Http404("This step has no date yet.")
    body = calendars.calendar(step.title, [step], request.organization, buyer=False)
    return _ics(request, body, filename="step.ics")


# --- Buyers -----------------------------------------------------------------------------------


@access.buyer_view
def room_step_ics(request, milestone_id):
    step = get_object_or_404(
        Milestone.objects.filter(plan__deal=request.deal, visibility=Visibility.SHARED)
        .exclude(plan__status=Plan.Status.DRAFT)
        .select_related("plan", "plan__deal", "buyer_owner", "seller_owner"),
        public_id=milestone_id,
    )
    if step.due_date is None:
        raise Http404("This step has no date yet.")
    step.moves = step.date_changes.count()
    body = calendars.calendar(step.title, [step], request.organization, buyer=True)
    return _ics(request, body, filename="step.ics")


@require_GET
def link_step_ics(request, token, milestone_id):
    """A digest's date, for a buyer: their step as an .ics file, through their room link
    (the digest's link; it changes nothing, so a GET may serve it)."""
    if limited := access.link_rate_limit(request, token=token):
        return limited
    try:
        link = access.find_link(token)
    except access.LinkInvalid:
        # Its "Ask for a new link" posts to /r/<token>/request/, relative to this page.
        return access.invalid_link_page(request, request_url="../../request/")
    step = get_object_or_404(
        Milestone.objects.filter(
            plan__deal_id=link.stakeholder.deal_id, visibility=Visibility.SHARED
        )
        .exclude(plan__status=Plan.Status.DRAFT)
        .exclude(due_date=None)
        .select_related("plan", "plan__deal", "buyer_owner", "seller_owner"),
        public_id=milestone_id,
    )
    step.moves = step.date_changes.count()
    body = calendars.calendar(step.title, [step], link.organization, buyer=True)
    return _ics(request, body, filename="step.ics")


@require_POST
@access.buyer_view
def room_calendar(request):
    """A new feed of the visiting buyer's steps; its address is shown once."""
    get_object_or_404(Plan.objects.filter(deal=request.deal).exclude(status=Plan.Status.DRAFT))
    _, token = calendars.create_feed(
        request.organization, FeedKind.BUYER, stakeholder=request.buyer
    )
    context = {"new_url": calendars.feed_url(token), "deal": request.deal}
    return render(request, "plans/room.html#room-calendar", context)
