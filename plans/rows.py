"""Milestone rows of the plan page, rendered once per content and then served from the cache.

The rows are most of the plan page (40 rows ≈ 70% of its HTML) and rendering them with the
template engine was most of its time. A row's HTML depends only on what the cache key lists
(the step's version and last save, its owners' names, today, the position flags, edit
rights, the workspace and the release: settings.RELEASE), so a cached row is never stale: anything
that changes what a row shows changes its key. The CSRF token differs per request: rows are
rendered with a placeholder that is replaced on the way out.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import cache

from django.conf import settings
from django.core.cache import cache as django_cache
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from .models import Milestone

ROW_TEMPLATE = "plans/plan_detail.html#milestone-row"
# The angle brackets make it a string no escaped text can contain: a buyer's step titled
# like the placeholder must show as typed, not as the seller's CSRF token. It reaches the
# template as safe text, so {% csrf_token %} writes it as it is.
CSRF_PLACEHOLDER = mark_safe("<csrf-placeholder-7d1f0c5e>")  # noqa: S308 - a constant
ROW_CACHE_SECONDS = 60 * 60 * 24
_ANY_UUID = "00000000-0000-0000-0000-000000000000"


@cache
def status_options(status: str) -> SafeString:
    """The <option>s of the status control with `status` selected (five variants)."""
    return mark_safe(  # noqa: S308 - built with format_html
        "".join(
            format_html(
                '<option value="{}"{}>{}</option>',
                value,
                " selected" if value == status else "",
                label,
            )
            for value, label in Milestone.Status.choices
        )
    )


@cache
def _url_prefix(name: str, id_kwarg: str, org_slug: str) -> str:
    """The part of URL `name` before the id: /o/<slug>/milestones/ for the row URL and its
    edit/, status/, move/, delete/ children. Reversing once per page instead of per row and
    link saves most of the time of a long table."""
    url = reverse(name, kwargs={"org_slug": org_slug, id_kwarg: _ANY_UUID})
    return url[: url.index(_ANY_UUID)]


def prepare_rows(milestones: list[Milestone], *, org_slug: str, today: date) -> None:
    """Attach what the row partial shows beyond the model: URL, status options, overdue days.
    (is_first/is_last are set by the caller, who knows the siblings.)"""
    prefix = _url_prefix("plans:milestone-row", "milestone_id", org_slug)
    for milestone in milestones:
        milestone.url = f"{prefix}{milestone.public_id}/"
        milestone.status_options = status_options(milestone.status)
        milestone.overdue_days = milestone.days_overdue(today)


def prepare_stakeholders(stakeholders: list, *, org_slug: str) -> None:
    """Attach `url` (/o/<slug>/stakeholders/<id>/, parent of edit/ and remove/)."""
    prefix = _url_prefix("plans:stakeholder-edit", "stakeholder_id", org_slug)
    for stakeholder in stakeholders:
        stakeholder.url = f"{prefix}{stakeholder.public_id}/"


def _row_key(milestone: Milestone, *, can_edit: bool, org_slug: str) -> str:
    buyer, seller = milestone.buyer_owner, milestone.seller_owner
    parts = (
        settings.RELEASE,
        org_slug,
        milestone.pk,
        milestone.version,
        milestone.updated_at.isoformat() if milestone.updated_at else "",
        milestone.buyer_owner_id,
        buyer.name if buyer else "",
        milestone.seller_owner_id,
        seller.name if seller else "",
        milestone.is_first,
        milestone.is_last,
        milestone.overdue_days,
        can_edit,
        # The row shows how many comments, files and pending date proposals the step has.
        getattr(milestone, "comment_count", 0),
        getattr(milestone, "attachment_count", 0),
        getattr(milestone, "pending_proposals", 0),
    )
    return "plans:row:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def render_rows(
    request, milestones: list[Milestone], *, can_edit: bool, token: str | None = None
) -> None:
    """Set `row_html` on each (prepared) milestone: cached rows with this request's CSRF
    token (or `token`: the placeholder, for a page body that is cached whole), and the
    missing ones rendered and cached. One cache round trip each way."""
    org_slug = request.organization.slug
    keys = {
        milestone.pk: _row_key(milestone, can_edit=can_edit, org_slug=org_slug)
        for milestone in milestones
    }
    cached = django_cache.get_many(list(keys.values())) if keys else {}
    template = get_template(ROW_TEMPLATE)
    token = token or get_token(request)
    rendered = {}
    for milestone in milestones:
        key = keys[milestone.pk]
        html = cached.get(key)
        if html is None:
            context = {"milestone": milestone, "can_edit": can_edit, "csrf_token": CSRF_PLACEHOLDER}
            html = rendered[key] = template.render(context, request)
        milestone.row_html = mark_safe(html.replace(CSRF_PLACEHOLDER, token))  # noqa: S308
    if rendered:
        django_cache.set_many(rendered, timeout=ROW_CACHE_SECONDS)
