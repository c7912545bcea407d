"""Settings → Webhooks (admins): register endpoints, see deliveries, resend."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from deals.tenancy import org_view

from . import webhooks
from .forms import WebhookEndpointForm
from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

DELIVERIES_SHOWN = 50


@org_view(admin_only=True)
def webhook_list(request):
    """GET: the endpoints and the form; POST: register one and show its secret once."""
    organization = request.organization
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            endpoint = form.save(commit=False)
            endpoint.organization = organization
            endpoint.secret = webhooks.new_secret()
            endpoint.created_by = request.user
            endpoint.save()
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
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.disabled_reason = f"Disabled by {request.user.display_name}."
        endpoint.disabled_at = timezone.now()
        messages.success(request, "Endpoint disabled: it receives no more events.")
    else:
        endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = True, "", None
        messages.success(request, "Endpoint enabled.")
    endpoint.save(update_fields=["is_active", "disabled_reason", "disabled_at"])
    return redirect(
        "notifications:webhook-detail",
        org_slug=request.organization.slug,
        endpoint_id=endpoint.public_id,
    )


@require_POST
@org_view(admin_only=True)
def webhook_delete(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    endpoint.delete()
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
