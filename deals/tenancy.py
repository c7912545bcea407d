"""Tenant resolution: /o/<org_slug>/… → request.organization and request.membership."""

from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.utils import timezone

from .models import Membership

SESSION_LAST_ORG = "tandem.last_org"
# The session key of buyer room access (see stakeholders/access.py).
SESSION_ROOMS = "tandem.rooms"


def org_view(view=None, *, admin_only: bool = False, manager_only: bool = False):
    """Resolve the workspace of the URL to one the user belongs to, or 404.

    A non-member gets 404, never 403, so the existence of a workspace is not confirmed.
    `admin_only` / `manager_only` also answer 404 to members without that role.
    """

    def decorator(view):
        @wraps(view)
        def buyer_guard(request, *args, **kwargs):
            # A buyer's session (no account) learns nothing of seller pages: 404, not a
            # redirect to sign in.
            if not request.user.is_authenticated and request.session.get(SESSION_ROOMS):
                raise Http404("Not found.")
            return wrapper(request, *args, **kwargs)

        @login_required
        @wraps(view)
        def wrapper(request, org_slug, *args, **kwargs):
            # Every workspace of the user, in one query: the navigation's switcher lists
            # them (deals.context_processors.shell), and this one is among them.
            memberships = list(
                Membership.objects.filter(user=request.user).select_related("organization")
            )
            membership = next((m for m in memberships if m.organization.slug == org_slug), None)
            if membership is None:
                raise Http404("No such workspace.")
            request.memberships = memberships
            if admin_only and not membership.is_admin:
                raise Http404("Only workspace admins can do this.")
            if manager_only and not membership.is_manager:
                raise Http404("Only managers can do this.")
            request.organization = membership.organization
            request.membership = membership
            if request.session.get(SESSION_LAST_ORG) != org_slug:
                request.session[SESSION_LAST_ORG] = org_slug
            # "Today" (due, overdue, days left) and the moments shown are the workspace's.
            with timezone.override(ZoneInfo(membership.organization.time_zone)):
                return view(request, *args, **kwargs)

        return buyer_guard

    if view is not None:
        return decorator(view)
    return decorator
