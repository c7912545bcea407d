"""Settings → Webhooks (admins); the seller's notification centre and email preferences; the
public pages that emails link to (unsubscribe, act from the email)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from deals.models import SecurityEvent
from deals.security import rate_limit, record
from deals.tenancy import org_view
from plans.forms import ProposalForm
from plans.models import Milestone, Plan, Visibility
from plans.services import buyer_can_update, propose_date, set_milestone_status
from stakeholders import access
from stakeholders.actors import Actor
from stakeholders.signals import room_opened

from . import inbound, services, webhooks
from .forms import PreferencesForm, WebhookEndpointForm
from .models import EVENT_TYPES, Kind, Notification, WebhookDelivery, WebhookEndpoint

DELIVERIES_SHOWN = 50


@org_view(admin_only=True)
def webhook_list(request):
    """GET: the endpoints and the form; POST: register one and show its secret once."""
    organization = request.organization
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            endpoint = webhooks.create_endpoint(
                organization, **form.cleaned_data, created_by=request.user
            )
            response = render(
                request,
                "notifications/webhook_detail.html",
                {**_detail_context(endpoint), "new_secret": endpoint.secret},
                status=201,
            )
            response["Cache-Control"] = "no-store"
            return response
        status = 422
    else:
        status = 200
    context = {
        "form": form,
        "endpoints": WebhookEndpoint.objects.for_org(organization),
        "nav": "settings",
    }
    return render(request, "notifications/webhook_list.html", context, status=status)


def _endpoint(request, endpoint_id) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.for_org(request.organization), public_id=endpoint_id
    )


def _detail_context(endpoint: WebhookEndpoint) -> dict:
    return {
        "endpoint": endpoint,
        "deliveries": endpoint.deliveries.order_by("-created_at", "-id")[:DELIVERIES_SHOWN],
        "event_labels": EVENT_TYPES,
        "nav": "settings",
    }


@org_view(admin_only=True)
def webhook_detail(request, endpoint_id):
    return render(
        request,
        "notifications/webhook_detail.html",
        _detail_context(_endpoint(request, endpoint_id)),
    )


@require_POST
@org_view(admin_only=True)
def webhook_toggle(request, endpoint_id):
    """Disable an endpoint, or enable it again (clearing why it was disabled)."""
    endpoint = _endpoint(request, endpoint_id)
    webhooks.set_endpoint_active(endpoint, active=not endpoint.is_active, actor=request.user)
    if endpoint.is_active:
        messages.success(request, "Endpoint enabled.")
    else:
        messages.success(request, "Endpoint disabled: it receives no more events.")
    return redirect(
        "notifications:webhook-detail",
        org_slug=request.organization.slug,
        endpoint_id=endpoint.public_id,
    )


@require_POST
@org_view(admin_only=True)
def webhook_delete(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    webhooks.delete_endpoint(endpoint, actor=request.user)
    messages.success(request, f"Endpoint {endpoint.url} deleted with its delivery log.")
    return redirect("notifications:webhook-list", org_slug=request.organization.slug)


@require_POST
@org_view(admin_only=True)
def webhook_resend(request, delivery_id):
    delivery = get_object_or_404(
        WebhookDelivery.objects.for_org(request.organization).select_related("endpoint"),
        public_id=delivery_id,
    )
    if not delivery.endpoint.is_active:
        messages.error(request, "Enable the endpoint before resending.")
    else:
        webhooks.resend(delivery)
        messages.success(request, f"{delivery.event_type} queued again.")
    return redirect(
        "notifications:webhook-detail",
        org_slug=request.organization.slug,
        endpoint_id=delivery.endpoint.public_id,
    )


LIST_PAGE = "notifications/notification_list.html"
LIST_SIZE = 50


def _mine(request):
    return Notification.objects.for_org(request.organization).filter(user=request.user)


# --- Notification centre ------------------------------------------------------------------


@org_view
def notification_list(request):
    """The latest notifications of the signed-in seller in this workspace, unread first
    marked; the region refreshes itself when the bell changes."""
    notifications = list(_mine(request).order_by("-created_at", "-id")[:LIST_SIZE])
    context = {
        "notifications": notifications,
        "unread": sum(1 for n in notifications if n.read_at is None),
        "nav": "notifications",
    }
    template = LIST_PAGE
    if request.htmx and request.htmx.target == "notification-list":
        template += "#notification-list"
    return render(request, template, context)


@org_view
def notification_bell(request):
    """The bell with its unread count (polled by every seller page; see base.html)."""
    unread = _mine(request).unread().count()
    return render(request, "includes/notification_bell.html", {"unread": unread})


@require_POST
@org_view
def notification_read(request, notification_id):
    notification = get_object_or_404(_mine(request), public_id=notification_id)
    services.mark_read(_mine(request).filter(pk=notification.pk))
    if not request.htmx:
        return redirect("notifications:notification-list", org_slug=request.organization.slug)
    notification.refresh_from_db()
    response = render(request, f"{LIST_PAGE}#notification-item", {"notification": notification})
    return trigger_client_event(response, "notifications-changed")


@require_POST
@org_view
def notification_read_all(request):
    services.mark_read(_mine(request))
    if not request.htmx:
        return redirect("notifications:notification-list", org_slug=request.organization.slug)
    notifications = list(_mine(request).order_by("-created_at", "-id")[:LIST_SIZE])
    response = render(
        request,
        f"{LIST_PAGE}#notification-list",
        {"notifications": notifications, "unread": 0},
    )
    return trigger_client_event(response, "notifications-changed")


@org_view
def notification_preferences(request):
    """Which emails the signed-in seller gets from this workspace."""
    organization = request.organization
    email = request.user.email
    current = services.preferences_of(organization, email=email)
    form = PreferencesForm(request.POST or None, initial=current)
    if request.method == "POST":
        if form.is_valid():
            services.set_preferences(organization, email=email, enabled=form.cleaned_data)
            messages.success(request, "Email preferences saved.")
            return redirect("notifications:notification-preferences", org_slug=organization.slug)
        status = 422
    else:
        status = 200
    context = {"form": form, "nav": "notifications"}
    return render(request, "notifications/preference_edit.html", context, status=status)


# --- Unsubscribe (from an email; no account needed) ---------------------------------------


UNSUBSCRIBE_ATTEMPTS_PER_MINUTE = 20


def _invalid_token(request):
    return render(request, "notifications/unsubscribe_invalid.html", status=404)


def _too_many(request, found) -> HttpResponse | None:
    """The 429 page when this client (`client_ip`) opened too many /u/ pages this minute,
    like room links; the first refusal is logged in the token's workspace, if it is one."""
    attempt = rate_limit(request, scope="unsubscribe", limit=UNSUBSCRIBE_ATTEMPTS_PER_MINUTE)
    if not attempt.refused:
        return None
    if attempt.first_refusal and found is not None:
        organization, email, _ = found
        record(
            organization,
            SecurityEvent.Kind.LOCKOUT,
            request=request,
            actor="Unknown visitor",
            target=email,
            summary=(
                f"More than {UNSUBSCRIBE_ATTEMPTS_PER_MINUTE} email-preference pages in a "
                "minute from one address; refused for the rest of the minute."
            ),
            limit="unsubscribe",
        )
    response = render(request, "stakeholders/link_rate_limited.html", status=429)
    response["Retry-After"] = str(attempt.retry_after)
    return response


@csrf_exempt  # RFC 8058 one-click: mail clients POST here without a session; the signed
@never_cache  # token is the authority, and it can only turn emails off for its address.
def unsubscribe(request, token):
    """GET: ask (mail scanners follow links: a GET changes nothing). POST: turn this kind
    of email off — the button of the page, or the one-click POST of a mail client."""
    found = services.read_unsubscribe_token(token)
    # An unsubscribe with a genuine token is never refused: it only turns email off for its
    # own address, and mail providers send the one-click POSTs of many users from a few
    # addresses. Everything else counts against the client's limit.
    honoured = request.method == "POST" and found is not None
    if not honoured and (limited := _too_many(request, found)):
        return limited
    if found is None:
        return _invalid_token(request)
    organization, email, kind = found
    done = request.method == "POST"
    if done:
        services.set_preferences(organization, email=email, enabled={kind: False})
    context = {
        "room_organization": organization,
        "email": email,
        "kind_label": Kind(kind).label,
        "done": done,
        "token": token,
    }
    return render(request, "notifications/unsubscribe_confirm.html", context)


@never_cache
def preferences_by_token(request, token):
    """Every kind of email of one address in one workspace, on or off (from an email)."""
    found = services.read_unsubscribe_token(token)
    if limited := _too_many(request, found):
        return limited
    if found is None:
        return _invalid_token(request)
    organization, email, _ = found
    member = services.is_member(organization, email)
    current = services.preferences_of(organization, email=email)
    make = PreferencesForm if member else PreferencesForm.for_buyer
    form = make(request.POST or None, initial=current)
    status = 200
    saved = False
    if request.method == "POST":
        if form.is_valid():
            services.set_preferences(organization, email=email, enabled=form.cleaned_data)
            saved = True
        else:
            status = 422
    context = {"room_organization": organization, "email": email, "form": form, "saved": saved}
    return render(request, "notifications/preference_token.html", context, status=status)


# --- Acting on a step from a digest -------------------------------------------------------

ACTIONS = {"done", "more-time"}
# From /r/<token>/act/<step>/<action>/, the invalid-link page's button reaches
# /r/<token>/request/ without writing the token in the page.
REQUEST_FROM_ACT = "../../../request/"


@never_cache
def room_act(request, token, milestone_id, action):
    """A digest's "Mark done" / "Need more time" button.

    GET shows a confirmation page in the room's branding and changes nothing (mail
    scanners prefetch links). Its one POST starts the buyer's room session, like the
    link's own landing page, and completes the step or proposes the new date; then the
    buyer is in the room."""
    # These pages take the room token: they share its rate limit and its one invalid page.
    if limited := access.link_rate_limit(request, token=token):
        return limited
    try:
        if action not in ACTIONS:  # a mangled URL: the same page, whatever the token
            raise access.LinkInvalid()
        link = access.find_link(token)
    except access.LinkInvalid:
        return access.invalid_link_page(request, request_url=REQUEST_FROM_ACT)
    buyer = link.stakeholder
    deal = buyer.deal
    # A draft is not the buyers' yet (plans/room.py): its steps do not exist for them.
    milestone = get_object_or_404(
        Milestone.objects.filter(plan__deal=deal, visibility=Visibility.SHARED)
        .exclude(plan__status=Plan.Status.DRAFT)
        .select_related("plan"),
        public_id=milestone_id,
    )
    milestone.plan.deal = deal
    archived = milestone.plan.is_archived  # read-only for buyers
    allowed = not archived and (action == "more-time" or buyer_can_update(milestone))
    today = timezone.localdate()
    form = None
    if action == "more-time" and not milestone.is_closed:
        start = max(milestone.due_date or today, today)
        form = ProposalForm(
            request.POST or None, initial={"proposed_date": start + timedelta(days=7)}
        )
    context = {
        "room_organization": link.organization,
        "deal": deal,
        "buyer": buyer,
        "milestone": milestone,
        "action": action,
        "allowed": allowed,
        "archived": archived,
        "form": form,
        "token": token,
    }
    if request.method != "POST" or milestone.is_closed or not allowed:
        status = 200
        if request.method == "POST" and not allowed:
            status = 409 if archived else 403
        return render(request, "notifications/act_confirm.html", context, status=status)
    if form is not None and not form.is_valid():
        return render(request, "notifications/act_confirm.html", context, status=422)
    with transaction.atomic():
        visit = access.start_buyer_session(request, link)
        room_opened.send(sender=type(link), stakeholder=buyer, link=link, visit=visit)
        if action == "done":
            set_milestone_status(milestone, actor=Actor.buyer(buyer), status="done")
            messages.success(request, f"“{milestone.title}” is marked done. Thank you!")
        else:
            propose_date(milestone, buyer=buyer, **form.cleaned_data)
            messages.success(
                request,
                f"You proposed {form.cleaned_data['proposed_date']:%-d %b %Y} for "
                f"“{milestone.title}”; {deal.owner.display_name} will confirm it.",
            )
    return redirect("room", deal_id=deal.public_id)


@csrf_exempt
@require_POST
def inbound_email(request):
    """A mail gateway delivers one reply to a digest (the raw message as the body), with
    INBOUND_EMAIL_SECRET as a bearer token. 404 when this deployment receives no mail."""
    secret = settings.INBOUND_EMAIL_SECRET
    if not secret or not settings.INBOUND_EMAIL_DOMAIN:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not constant_time_compare(given, secret):
        return HttpResponse("Forbidden.", status=403, content_type="text/plain")
    if len(request.body) > inbound.MAX_BYTES:
        return HttpResponse("Larger than 1 MB.", status=413, content_type="text/plain")
    return HttpResponse(inbound.receive(request.body), content_type="text/plain")
