"""The fragments a change pushes to open pages: after a change, each changed fragment of the
plan page (sellers) or of the deal room (buyers) is rendered once, for every viewer of that
audience, and sent in the pages' event streams (plans/live.py), where htmx's `sse-swap`
puts it in place. An edit costs the same renders whatever the number of open pages.

Which fragments an event changes: SELLER_REGIONS, ROOM_REGIONS, and the row of a step
("milestone-<id>"). Fragments are drawn for everyone (plans/viewers.py: what only some
viewers see is marked and shown by static/js/live.js) with the CSRF placeholder of
plans/rows.py, which static/js/live.js replaces with the page's own token. The room's
fragments are drawn from the room's context, which never loads internal steps or notes.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from . import room, rows, views
from .models import Plan
from .viewers import EVERYONE

SELLER, BUYER = "seller", "buyer"
AUDIENCES = (SELLER, BUYER)

# Event → the ids of the fragments it changes (each page's element with that id has
# sse-swap="<id>").
SELLER_REGIONS = {
    "plan": ("plan-header", "plan-warnings", "timeline", "activity-feed"),
    "structure": ("milestone-table",),
    "stakeholders": ("stakeholder-panel",),
    "materials": ("plan-materials",),
}
ROOM_REGIONS = {
    "plan": ("room-header", "room-summary", "timeline", "activity-feed"),
    "structure": ("room-milestones",),
    "stakeholders": ("room-people",),
    "materials": ("room-materials",),
}
ROW_EVENT = "milestone-"


def render(plan_key: str, audience: str, events: list[str]) -> list[tuple[str, str]]:
    """[(fragment id, HTML)] of what `events` changed on the pages of `audience` (none if
    the plan is gone). A constant number of queries."""
    plan = (
        Plan.objects.select_related("organization", "deal", "deal__owner")
        .filter(public_id=plan_key)
        .first()
    )
    if plan is None:
        return []
    organization = plan.deal.organization = plan.organization
    # Fragments draw no one's session, account or token: a bare request names the workspace.
    request = HttpRequest()
    request.organization, request.user = organization, AnonymousUser()
    regions = SELLER_REGIONS if audience == SELLER else ROOM_REGIONS
    ids = [region for event in events for region in regions.get(event, ())]
    steps = {event.removeprefix(ROW_EVENT) for event in events if event.startswith(ROW_EVENT)}
    with timezone.override(ZoneInfo(organization.time_zone)):
        if audience == SELLER:
            return _seller(request, plan, ids, steps)
        return _buyer(request, plan, ids, steps)


def _seller(request, plan: Plan, ids: list[str], steps: set[str]) -> list[tuple[str, str]]:
    token = rows.CSRF_PLACEHOLDER
    # The context renders every row only for the table; a row alone is rendered below.
    region = "milestone-table" if "milestone-table" in ids else "plan-header"
    context = views.plan_context(request, plan, region, csrf_token=token, viewer=EVERYONE)
    context["csrf_token"] = token
    fragments = [(id, render_to_string(f"{views.PAGE}#{id}", context, request)) for id in ids]
    if region == "milestone-table":
        return fragments  # the rows are in it
    changed = [m for m in context["milestones"] if str(m.public_id) in steps]
    rows.render_rows(request, changed, can_edit=context["can_edit"], token=token)
    # The changed steps first: what was changed shows before what follows from it.
    return [(f"{ROW_EVENT}{m.public_id}", str(m.row_html)) for m in changed] + fragments


def _buyer(request, plan: Plan, ids: list[str], steps: set[str]) -> list[tuple[str, str]]:
    context = room.room_context(request, plan, viewer=EVERYONE)
    context["csrf_token"] = rows.CSRF_PLACEHOLDER
    fragments = [(id, render_to_string(f"{room.PAGE}#{id}", context, request)) for id in ids]
    if "room-milestones" in ids:
        return fragments  # the rows are in it
    # Shared steps only (the room's context loads no other), first like the seller's.
    changed = [
        (
            f"{ROW_EVENT}{milestone.public_id}",
            render_to_string(
                f"{room.PAGE}#room-milestone-row", {**context, "milestone": milestone}, request
            ),
        )
        for milestone in context["milestones"]
        if str(milestone.public_id) in steps
    ]
    return changed + fragments
