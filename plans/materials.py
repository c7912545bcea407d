"""A plan's shared materials: sections of files (with their versions) and links, shared with
the buyers or internal, optionally about one step; the buyers' own uploads to the sections
the seller opened for them; share links for one resource; and engagement (who opened what,
when, and for how long on each page of a PDF). Buyers never see engagement.

Every change is recorded in the plan's feed (record_activity), which moves the deal's
revision and tells the open pages: the rooms only of shared resources.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone

from deals.emails import send_after_commit
from deals.models import hash_token
from stakeholders import access
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import BuyerRole, Side, Stakeholder

from . import attachments
from .models import (
    Activity,
    Milestone,
    Plan,
    Resource,
    ResourceSection,
    ResourceShareLink,
    ResourceVersion,
    ResourceView,
    Visibility,
)
from .services import record_activity

Verb = Activity.Verb

# A person's openings of one resource within this long count as one in the feed.
VIEW_IDLE = timedelta(minutes=30)
# The most time one opening in the viewer may count, whatever the beacons say: a tab left
# open does not count hours (the viewer also stops counting after 2 idle minutes).
MAX_VIEW_SECONDS = 30 * 60
# Beacons may arrive a little after the moment they measured.
BEACON_SLACK_SECONDS = 5
MAX_PAGES = 2000
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,3}")  # ASCII digits only ("²".isdigit() is True)
SHARE_LINK_DAYS = 14
MAX_SHARE_LINK_DAYS = 90


class MaterialRefused(Exception):  # noqa: N818 - reads as the outcome
    """A change of the materials that the rules refuse, with the message to show."""


# --- Sections ---------------------------------------------------------------------------------


def _next(queryset) -> int:
    return (queryset.aggregate(top=Max("position"))["top"] or 0) + 1


def add_section(plan: Plan, *, actor: Actor, title: str, buyer_uploads: bool) -> ResourceSection:
    section = ResourceSection.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        title=title,
        buyer_uploads=buyer_uploads,
        position=_next(plan.resource_sections.all()),
    )
    record_activity(
        plan,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"added the section “{title}”",
        visibility=Visibility.INTERNAL,  # a section's name may be the seller's own
    )
    return section


def update_section(
    section: ResourceSection, *, actor: Actor, title: str, buyer_uploads: bool
) -> ResourceSection:
    ResourceSection.objects.filter(pk=section.pk).update(title=title, buyer_uploads=buyer_uploads)
    section.title, section.buyer_uploads = title, buyer_uploads
    record_activity(
        section.plan,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"edited the section “{title}”",
        visibility=Visibility.INTERNAL,  # a section's name may be the seller's own,
    )
    return section


def remove_section(section: ResourceSection, *, actor: Actor) -> None:
    """Only an empty section goes: its files are never deleted by the way."""
    if section.resources.exists():
        raise MaterialRefused("Move or remove this section's materials first.")
    section.delete()
    record_activity(
        section.plan,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"removed the section “{section.title}”",
        visibility=Visibility.INTERNAL,  # a section's name may be the seller's own,
    )


def move_section(section: ResourceSection, *, actor: Actor, direction: str) -> None:
    _swap(section, section.plan.resource_sections.all(), direction)
    record_activity(
        section.plan,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"reordered the section “{section.title}”",
        visibility=Visibility.INTERNAL,  # a section's name may be the seller's own,
    )


def _swap(item, siblings, direction: str) -> None:
    """Exchange `item`'s position with its neighbour's (up or down) among `siblings`."""
    ordered = list(siblings.order_by("position", "id"))
    index = next(i for i, other in enumerate(ordered) if other.pk == item.pk)
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(ordered):
        return
    ordered[index], ordered[other_index] = ordered[other_index], ordered[index]
    model = type(item)
    for position, row in enumerate(ordered, start=1):
        if row.position != position:
            model.objects.filter(pk=row.pk).update(position=position)


# --- Resources --------------------------------------------------------------------------------


def _resource_activity(
    resource: Resource, *, actor: Actor, verb: str, summary: str, **extra
) -> Activity:
    return record_activity(
        resource.plan,
        actor=actor,
        verb=verb,
        summary=summary,
        milestone=resource.milestone if resource.milestone_id else None,
        visibility=resource.visibility,
        resource=resource,
        **extra,
    )


def _check_step(plan: Plan, milestone: Milestone | None, visibility: str) -> None:
    if milestone is None:
        return
    if milestone.plan_id != plan.pk:
        raise MaterialRefused("Choose a step of this plan.")
    if visibility == Visibility.SHARED and milestone.visibility != Visibility.SHARED:
        raise MaterialRefused("A shared resource cannot be about an internal step.")


@transaction.atomic
def add_link(
    plan: Plan,
    *,
    actor: Actor,
    section: ResourceSection,
    title: str,
    url: str,
    note: str = "",
    visibility: str = Visibility.SHARED,
    milestone: Milestone | None = None,
) -> Resource:
    _check_step(plan, milestone, visibility)
    resource = Resource.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        section=section,
        milestone=milestone,
        kind=Resource.Kind.LINK,
        title=title,
        url=url,
        note=note,
        visibility=visibility,
        position=_next(section.resources.all()),
        added_by_name=actor.name,
        side=actor.side,
    )
    _resource_activity(
        resource, actor=actor, verb=Verb.RESOURCE_ADDED, summary=f"added the link “{title}”"
    )
    return resource


def _store_version(resource: Resource, *, actor: Actor, upload, content_type: str):
    number = (resource.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = ResourceVersion(
        organization_id=resource.organization_id,
        resource=resource,
        number=number,
        original_name=upload.name[:255],
        content_type=content_type,
        size=upload.size,
        uploaded_by_name=actor.name,
        side=actor.side,
    )
    version.file.save(upload.name, upload, save=False)
    version.save()
    Resource.objects.filter(pk=resource.pk).update(current=version, updated_at=timezone.now())
    resource.current = version
    return version


@transaction.atomic
def add_file(
    plan: Plan,
    *,
    actor: Actor,
    section: ResourceSection,
    upload,
    title: str = "",
    note: str = "",
    visibility: str = Visibility.SHARED,
    milestone: Milestone | None = None,
) -> Resource:
    """A new file resource (type checked by content, size limited: plans/attachments.py);
    raises attachments.AttachmentRejected or MaterialRefused with the message to show."""
    content_type = attachments.sniff(upload)
    _check_step(plan, milestone, visibility)
    if actor.is_buyer:
        if not section.buyer_uploads:
            raise MaterialRefused("This section does not take your files.")
        visibility, milestone = Visibility.SHARED, None
    resource = Resource.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        section=section,
        milestone=milestone,
        kind=Resource.Kind.FILE,
        title=(title or upload.name)[:200],
        note=note,
        visibility=visibility,
        position=_next(section.resources.all()),
        added_by_name=actor.name,
        added_by_stakeholder=actor.stakeholder if actor.is_buyer else None,
        side=actor.side,
    )
    _store_version(resource, actor=actor, upload=upload, content_type=content_type)
    _resource_activity(
        resource,
        actor=actor,
        verb=Verb.RESOURCE_ADDED,
        summary=f"added “{resource.title}” to {section.title}",
    )
    return resource


@transaction.atomic
def add_version(resource: Resource, *, actor: Actor, upload) -> ResourceVersion:
    """A new version of a file; the older ones stay listed and downloadable."""
    if resource.kind != Resource.Kind.FILE:
        raise MaterialRefused("A link has no versions: edit its address instead.")
    content_type = attachments.sniff(upload)
    version = _store_version(resource, actor=actor, upload=upload, content_type=content_type)
    _resource_activity(
        resource,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"uploaded version {version.number} of “{resource.title}”",
    )
    return version


EDITABLE = ("title", "note", "url", "visibility", "section", "milestone")


@transaction.atomic
def update_resource(resource: Resource, *, actor: Actor, **fields) -> Resource:
    fields = {name: value for name, value in fields.items() if name in EDITABLE}
    if resource.kind == Resource.Kind.FILE:
        fields.pop("url", None)
    visibility = fields.get("visibility", resource.visibility)
    _check_step(resource.plan, fields.get("milestone", resource.milestone), visibility)
    was_shared = resource.visibility == Visibility.SHARED
    for name, value in fields.items():
        setattr(resource, name, value)
    resource.save()
    # Made internal, it leaves the rooms: they are told (and the feed says only that it
    # went). Made shared, it arrives: an ordinary shared change.
    summary = f"edited “{resource.title}”"
    if was_shared and visibility == Visibility.INTERNAL:
        # Links sent out stop for good (sharing it again does not reopen them).
        ResourceShareLink.objects.filter(resource=resource, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        record_activity(
            resource.plan,
            actor=actor,
            verb=Verb.RESOURCE_REMOVED,
            summary="removed a resource from the room",
        )
        summary = f"made “{resource.title}” internal"
    _resource_activity(resource, actor=actor, verb=Verb.RESOURCE_UPDATED, summary=summary)
    return resource


def move_resource(resource: Resource, *, actor: Actor, direction: str) -> None:
    _swap(resource, resource.section.resources.all(), direction)
    _resource_activity(
        resource,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"reordered “{resource.title}”",
    )


@transaction.atomic
def remove_resource(resource: Resource, *, actor: Actor) -> None:
    """A resource and its versions go from the plan (their files stay in storage until a
    cleanup: a download under way finishes). Its engagement goes with it."""
    plan, title, visibility = resource.plan, resource.title, resource.visibility
    resource.delete()
    record_activity(
        plan,
        actor=actor,
        verb=Verb.RESOURCE_REMOVED,
        summary=f"removed “{title}”",
        visibility=visibility,
    )


def can_remove(resource: Resource, actor: Actor) -> bool:
    """Sellers remove any resource; a buyer only a file they added themselves."""
    if not actor.is_buyer:
        return True
    return (
        resource.side == Side.BUYER
        and actor.stakeholder is not None
        and resource.added_by_stakeholder_id == actor.stakeholder.pk
    )


# --- Reading ----------------------------------------------------------------------------------


def sections_of(plan: Plan, *, shared_only: bool, versions: bool = False) -> list[ResourceSection]:
    """The plan's sections with their resources (`section.items`), in order, and with
    `versions`, each file's earlier versions (`resource.earlier`). Two queries (three with
    versions), whatever the number of resources. A buyer's room loads shared ones only."""
    sections = list(ResourceSection.objects.filter(plan=plan))
    resources = Resource.objects.filter(plan=plan).select_related("current", "milestone")
    if shared_only:
        resources = resources.filter(visibility=Visibility.SHARED)
    resources = list(resources)
    if shared_only:
        for resource in resources:
            # The step a shared resource is about may have been made internal since.
            if (
                resource.milestone is not None
                and resource.milestone.visibility != Visibility.SHARED
            ):
                resource.milestone = None
    if versions:
        earlier: dict[int, list[ResourceVersion]] = {}
        for version in ResourceVersion.objects.filter(
            resource__in=[r.pk for r in resources if r.kind == Resource.Kind.FILE]
        ).exclude(pk__in=[r.current_id for r in resources if r.current_id]):
            earlier.setdefault(version.resource_id, []).append(version)
        for resource in resources:
            resource.earlier = earlier.get(resource.pk, [])
    by_section: dict[int, list[Resource]] = {}
    for resource in resources:
        by_section.setdefault(resource.section_id, []).append(resource)
    for section in sections:
        section.items = by_section.get(section.pk, [])
    if shared_only:
        # A section shows in the room when it has something to show or takes uploads.
        sections = [s for s in sections if s.items or s.buyer_uploads]
    return sections


def seller_sections(plan: Plan) -> list[ResourceSection]:
    """The plan's sections with every resource and its engagement figures
    (`resource.engagement`), for the seller's plan page. Three queries."""
    sections = sections_of(plan, shared_only=False)
    figures = engagement_by_resource(plan)
    for section in sections:
        for resource in section.items:
            resource.engagement = figures.get(resource.pk)
    return sections


def engagement_by_resource(plan: Plan) -> dict[int, dict]:
    """Per resource of the plan: openings, people, seconds in the viewer, the last one. One
    query."""
    rows = (
        ResourceView.objects.filter(resource__plan=plan)
        .values("resource_id")
        .annotate(
            opens=Count("id"),
            people=Count("stakeholder", distinct=True),
            forwarded=Count("share_link", distinct=True),
            seconds=Sum("seconds"),
            last=Max("last_seen_at"),
        )
    )
    return {row.pop("resource_id"): row for row in rows}


def engagement_by_person(plan: Plan) -> dict[int, dict]:
    """Per buyer of the plan: how many of its materials they opened, how often, their
    seconds in the viewer and their last opening. One query."""
    rows = (
        ResourceView.objects.filter(resource__plan=plan, stakeholder__isnull=False)
        .values("stakeholder_id")
        .annotate(
            resources=Count("resource", distinct=True),
            opens=Count("id"),
            seconds=Sum("seconds"),
            last=Max("last_seen_at"),
        )
    )
    return {row.pop("stakeholder_id"): row for row in rows}


def recent_engagement(plan_ids, *, since) -> dict[int, dict]:
    """Per plan of `plan_ids`: the openings of its materials since `since` and how many
    people opened them (buyers, and recipients of share links). One query (the dashboard's
    engagement column)."""
    rows = (
        ResourceView.objects.filter(resource__plan_id__in=list(plan_ids), started_at__gte=since)
        .values("resource__plan_id")
        .annotate(
            opens=Count("id"),
            people=Count("stakeholder", distinct=True) + Count("share_link", distinct=True),
        )
    )
    return {row.pop("resource__plan_id"): row for row in rows}


def engagement_of(resource: Resource) -> dict:
    """One resource's engagement per person (first, last, openings, seconds) and per page
    of its PDF (seconds, all people). Two queries."""
    people = list(
        ResourceView.objects.filter(resource=resource)
        .values("stakeholder_id", "share_link_id")
        .annotate(
            opens=Count("id"),
            downloads=Count("id", filter=Q(kind=ResourceView.Kind.DOWNLOAD)),
            first=Min("started_at"),
            last=Max("last_seen_at"),
            seconds=Sum("seconds"),
        )
        .order_by("-last")
    )
    names = dict(
        Stakeholder.objects.filter(
            pk__in=[p["stakeholder_id"] for p in people if p["stakeholder_id"]]
        ).values_list("pk", "name")
    )
    links = dict(
        ResourceShareLink.objects.filter(
            pk__in=[p["share_link_id"] for p in people if p["share_link_id"]]
        ).values_list("pk", "recipient_email")
    )
    for person in people:
        if person["stakeholder_id"]:
            person["name"] = names.get(person["stakeholder_id"], "Someone removed")
        else:
            person["name"] = f"{links.get(person['share_link_id'], 'a colleague')} (share link)"
    pages: dict[int, int] = {}
    for page_times in ResourceView.objects.filter(resource=resource, kind="viewer").values_list(
        "pages", flat=True
    ):
        for page, seconds in (page_times or {}).items():
            pages[int(page)] = pages.get(int(page), 0) + int(seconds)
    most = max(pages.values(), default=0)
    return {
        "people": people,
        "pages": [
            (page, seconds, round(100 * seconds / most) if most else 0)
            for page, seconds in sorted(pages.items())
        ],
    }


# --- Engagement -------------------------------------------------------------------------------


def record_open(
    resource: Resource,
    *,
    kind: str,
    stakeholder: Stakeholder | None = None,
    share_link: ResourceShareLink | None = None,
    version: ResourceVersion | None = None,
) -> ResourceView:
    """Count one opening (the viewer, a download, a link followed). The seller's feed (and
    the `resource.viewed` webhook) hears of a person's first opening in VIEW_IDLE."""
    now = timezone.now()
    who = Q(stakeholder=stakeholder) if stakeholder else Q(share_link=share_link)
    recent = ResourceView.objects.filter(
        who, resource=resource, last_seen_at__gte=now - VIEW_IDLE
    ).exists()
    with transaction.atomic():
        view = ResourceView.objects.create(
            organization_id=resource.organization_id,
            resource=resource,
            version=version or resource.current,
            stakeholder=stakeholder,
            share_link=share_link,
            kind=kind,
            started_at=now,
            last_seen_at=now,
        )
        if not recent:
            if stakeholder is not None:
                actor = Actor(name=stakeholder.name, side=stakeholder.side, stakeholder=stakeholder)
            else:
                actor = Actor(name=share_link.recipient_email, side=Side.BUYER)
            verb = {"viewer": "opened", "download": "downloaded", "link": "followed"}[kind]
            record_activity(
                resource.plan,
                actor=actor,
                verb=Verb.RESOURCE_VIEWED,
                summary=f"{verb} “{resource.title}”" + (" (shared by link)" if share_link else ""),
                visibility=Visibility.INTERNAL,  # engagement is the seller's
                resource=resource,
                stakeholder=stakeholder,
                view=view,
            )
    return view


def record_time(view: ResourceView, pages: dict, *, now=None) -> bool:
    """Take a viewer's beacon: the cumulative seconds it measured per page in this opening.
    Beacons repeat their totals, so a lost one loses nothing and an old one changes nothing
    (the larger figure wins). The total is bounded by the time since the opening, by
    MAX_VIEW_SECONDS, and with the same person's overlapping openings of the resource by
    the time since the first of them. One read (locking that person's openings of the
    resource: concurrent beacons take turns), at most one write. False: nothing to
    record."""
    now = now or timezone.now()
    who = (
        Q(stakeholder_id=view.stakeholder_id)
        if view.stakeholder_id
        else Q(share_link_id=view.share_link_id)
    )
    with transaction.atomic():
        rows = list(
            ResourceView.objects.select_for_update()
            .filter(who, resource_id=view.resource_id)
            .values("pk", "started_at", "last_seen_at", "seconds", "pages")
        )
        mine = next((row for row in rows if row["pk"] == view.pk), None)
        if mine is None:
            return False
        # Tabs open side by side share the time that passed: nobody reads two copies at once.
        others = [
            row for row in rows if row["pk"] != view.pk and row["last_seen_at"] > mine["started_at"]
        ]
        window_start = min([mine["started_at"], *(row["started_at"] for row in others)])
        bound = min(
            MAX_VIEW_SECONDS,
            int((now - mine["started_at"]).total_seconds()) + BEACON_SLACK_SECONDS,
            int((now - window_start).total_seconds())
            + BEACON_SLACK_SECONDS
            - sum(row["seconds"] for row in others),
        )
        merged = {str(page): int(seconds) for page, seconds in (mine["pages"] or {}).items()}
        total = sum(merged.values())
        changed = False
        for page, seconds in sorted(pages.items(), key=lambda item: item[0]):
            gain = min(seconds - merged.get(page, 0), bound - total)
            if gain <= 0:
                continue
            merged[page] = merged.get(page, 0) + gain
            total += gain
            changed = True
        if not changed:
            return False
        ResourceView.objects.filter(pk=view.pk).update(
            pages=merged, seconds=total, last_seen_at=now
        )
    view.pages, view.seconds, view.last_seen_at = merged, total, now
    return True


def parse_beacon(raw: str) -> dict[str, int] | None:
    """The pages of a beacon ({"3": 41}) or None when it is not one: page numbers 1 to
    MAX_PAGES, whole seconds from 0 to MAX_VIEW_SECONDS."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or len(data) > MAX_PAGES:
        return None
    pages = {}
    for page, seconds in data.items():
        if not (isinstance(page, str) and PAGE_NUMBER.fullmatch(page)):
            return None
        if int(page) > MAX_PAGES:
            return None
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            return None
        if not 0 <= seconds <= MAX_VIEW_SECONDS:
            return None
        pages[str(int(page))] = seconds
    return pages


# --- Share links ------------------------------------------------------------------------------


def share_url(token: str) -> str:
    return settings.SITE_URL + reverse("resource-share-link", kwargs={"token": token})


@transaction.atomic
def share_resource(
    resource: Resource, *, actor: Actor, email: str, days: int = SHARE_LINK_DAYS, message=""
) -> tuple[ResourceShareLink, str]:
    """A link to one shared resource for one address, emailed to it. A buyer may forward
    only as the room's champion and only within the buyer's domains (as for invitations).
    Returns the link and its clear token (only its hash is stored)."""
    if resource.visibility != Visibility.SHARED:
        raise MaterialRefused("Only a shared resource can be sent by link.")
    email = email.strip().lower()
    deal = resource.plan.deal
    if actor.is_buyer:
        champion = actor.stakeholder
        if champion is None or champion.role != BuyerRole.CHAMPION:
            raise MaterialRefused("Only the champion can forward materials.")
        allowed = stakeholder_services.buyer_domains(deal)
        domain = email.rsplit("@", 1)[-1]
        if domain not in allowed:
            raise MaterialRefused(
                f"You can forward to colleagues at {', '.join(sorted(allowed)) or 'your company'}"
                f"; ask {deal.owner.display_name} to send it to someone at {domain}."
            )
    days = max(1, min(days, MAX_SHARE_LINK_DAYS))
    token = access.new_token()
    link = ResourceShareLink.objects.create(
        organization_id=resource.organization_id,
        resource=resource,
        token_hash=hash_token(token),
        recipient_email=email,
        created_by_name=actor.name,
        side=actor.side,
        expires_at=timezone.now() + timedelta(days=days),
    )
    record_activity(
        resource.plan,
        actor=actor,
        verb=Verb.RESOURCE_SHARED,
        summary=f"sent “{resource.title}” to {email}",
        visibility=Visibility.INTERNAL,  # who receives what is the seller's to know
        resource=resource,
    )
    context = {
        "resource": resource,
        "deal": deal,
        "organization": deal.organization,
        "accent": deal.organization.accent_color,
        "sender": actor.name,
        "message": message,
        "url": share_url(token),
        "expires_at": link.expires_at,
    }
    send_after_commit("resource-shared", context, to=[email])
    return link, token


def find_share_link(token: str) -> ResourceShareLink | None:
    """The usable share link of `token` (not expired, not revoked, its resource still
    shared, its plan not archived and its room not closed), or None. A draft plan's
    resource may be sent: the seller chose to send that one document (the room stays
    unshared)."""
    if not access.looks_like_token(token):
        return None
    link = (
        ResourceShareLink.objects.select_related(
            "resource",
            "resource__current",
            "resource__plan",
            "resource__plan__deal",
            "resource__plan__deal__owner",
            "organization",
        )
        .filter(token_hash=hash_token(token))
        .first()
    )
    return link if link is not None and is_usable(link) else None


def is_usable(link: ResourceShareLink) -> bool:
    plan = link.resource.plan
    return (
        link.revoked_at is None
        and link.expires_at > timezone.now()
        and link.resource.visibility == Visibility.SHARED
        and not plan.is_archived
        and not plan.deal.room_closed()
    )


def revoke_share_link(link: ResourceShareLink, *, actor: Actor) -> None:
    ResourceShareLink.objects.filter(pk=link.pk, revoked_at=None).update(revoked_at=timezone.now())
    record_activity(
        link.resource.plan,
        actor=actor,
        verb=Verb.RESOURCE_UPDATED,
        summary=f"revoked the link to “{link.resource.title}” sent to {link.recipient_email}",
        visibility=Visibility.INTERNAL,
    )


def mark_share_link_used(link: ResourceShareLink) -> None:
    ResourceShareLink.objects.filter(pk=link.pk, first_used_at=None).update(
        first_used_at=timezone.now()
    )
