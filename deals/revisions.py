"""Revisions: what keys the cached pages.

A deal's `revision` moves with every change of what its pages show (the seller's plan page,
the buyer's room): the deal, its plan and steps, their comments, files and date proposals,
the feed, signatures, its stakeholders, their room links and visits. A workspace's moves
with the workspace, its members and their names (owners and members are named on every
deal page).

The services that make a change bump them, in the change's own transaction — never model
signals: the service is the one place that knows a change happened. A reader therefore sees
a new revision exactly when it sees the change, whatever the cache is doing (a Redis outage
cannot leave an old page served after a saved change). Pages read the revisions with the
query that finds what they show (it runs anyway), before loading anything else, and store
their body under them (plans/page_cache.py).

A write path that forgets to bump serves a stale page until PAGE_CACHE_SECONDS:
tests/plans/test_page_cache.py compares the cached page with a fresh one after every kind of
change, made the way the product makes it.
"""

from __future__ import annotations

from django.db.models import F, Q

from .models import Deal, Organization


def bump_deal(deal_id: int | None) -> None:
    """Something the deal's pages show changed (in the current transaction)."""
    if deal_id is not None:
        Deal.objects.filter(pk=deal_id).update(revision=F("revision") + 1)


def bump_workspace(organization_id: int | None) -> None:
    """The workspace, its members or their roles changed."""
    if organization_id is not None:
        Organization.objects.filter(pk=organization_id).update(revision=F("revision") + 1)


def bump_workspaces_of(user) -> None:
    """A person's name (or anything else pages show of them) changed, or they are about to
    be deleted: every workspace that shows them — those they belong to, and those whose
    deals they still own after leaving."""
    Organization.objects.filter(
        Q(pk__in=Organization.objects.filter(memberships__user=user).values("pk"))
        | Q(pk__in=Deal.objects.filter(owner=user).values("organization_id"))
    ).update(revision=F("revision") + 1)
