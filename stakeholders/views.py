"""Opening a magic link: the landing page (GET changes nothing) and its POST."""

from functools import partial

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deals.emails import send_email

from . import access
from .signals import room_opened

LINK_ATTEMPTS_PER_MINUTE = 20


def _too_many(request) -> HttpResponse | None:
    if access.rate_limited(request, scope="room-link", limit=LINK_ATTEMPTS_PER_MINUTE):
        response = render(request, "stakeholders/link_rate_limited.html", status=429)
        response["Retry-After"] = "60"
        return response
    return None


@never_cache
def room_link(request, token):
    """GET: a page naming the deal and the seller, with an "Open deal room" button.
    POST: start a buyer session for that one room and go there."""
    if limited := _too_many(request):
        return limited
    try:
        link = access.find_link(token)
    except access.LinkInvalid as invalid:
        return access.invalid_link_page(
            request, status=invalid.status, link=invalid.link, token=token
        )
    deal = link.stakeholder.deal
    if request.method == "POST":
        with transaction.atomic():
            visit = access.start_buyer_session(request, link)
            room_opened.send(
                sender=type(link), stakeholder=link.stakeholder, link=link, visit=visit
            )
        return redirect("room", deal_id=deal.public_id)
    context = {"link": link, "deal": deal, "stakeholder": link.stakeholder, "token": token}
    return render(request, "stakeholders/link_landing.html", context)


@require_POST
@never_cache
def link_request_new(request, token):
    """The invalid-link page's button: tell the seller this buyer needs a new link."""
    if limited := _too_many(request):
        return limited
    try:
        link = access.find_link(token)
    except access.LinkInvalid as invalid:
        link = invalid.link
    if link is None:
        # Unknown tokens tell nobody anything (and confirm nothing).
        return render(request, "stakeholders/link_requested.html", {"seller": None})
    deal = link.stakeholder.deal
    context = {
        "stakeholder": link.stakeholder,
        "deal": deal,
        "organization": deal.organization,
        "plan_url": settings.SITE_URL + deal.get_absolute_url(),
    }
    transaction.on_commit(partial(send_email, "link-requested", context, to=[deal.owner.email]))
    return render(request, "stakeholders/link_requested.html", {"seller": deal.owner.display_name})
