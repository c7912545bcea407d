"""Opening a magic link: the landing page (GET changes nothing) and its POST."""

from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import access, services
from .signals import room_opened


@never_cache
def room_link(request, token):
    """GET: a page naming the deal and the seller, with an "Open deal room" button.
    POST: start a buyer session for that one room and go there. A link that does not
    open a room gets the one invalid-link page, whatever the reason."""
    if limited := access.link_rate_limit(request, token=token):
        return limited
    try:
        link = access.find_link(token)
    except access.LinkInvalid:
        return access.invalid_link_page(request)
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
    """The invalid-link page's button. The answer is the same for every token; for a real
    link that expired or was revoked, the seller is told (at most once an hour)."""
    if limited := access.link_rate_limit(request, token=token):
        return limited
    try:
        access.find_link(token)
    except access.LinkInvalid as invalid:
        if invalid.link is not None:
            services.ask_for_new_link(invalid.link.stakeholder)
    # A usable link needs nothing new: its holder can open it.
    return render(request, "stakeholders/link_requested.html")
