"""The one function that renders and sends every email of Tandem.

Emails owed by a change are sent when its transaction commits (send_after_commit). The
change is saved by then: a mail server that refuses or does not answer must not turn it into
an error page. The failure is logged and the request being served learns of it, to tell the
person: `unsent(request)` for a page that says it in place, otherwise (to a signed-in seller)
a message on the next page, UnsentEmailsMiddleware. The message is not kept to be retried:
invitations and codes carry secrets stored nowhere else but hashed; the person sends again
(a new link, a new code).
"""

from __future__ import annotations

import logging
import smtplib
from functools import partial
from html import unescape

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib import messages
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from .models import css_color
from .security import current_request

logger = logging.getLogger(__name__)

# A mail server that refuses (SMTPException) or cannot be reached (OSError: refused, timed
# out, name not resolved).
SEND_ERRORS = (smtplib.SMTPException, OSError)


def render_email(
    name: str,
    context: dict,
    *,
    to: list[str],
    headers: dict[str, str] | None = None,
    reply_to: list[str] | None = None,
) -> EmailMultiAlternatives:
    """Build (but do not send) a multipart email from the three templates of `name`."""
    context = {"site_url": settings.SITE_URL, **context}
    if "accent" in context:  # written into the HTML part's <style>
        context["accent"] = css_color(context["accent"])
    # Subjects and plain-text parts are not HTML: undo the template engine's autoescaping
    # (a name like "O'Brien" must not arrive as "O&#x27;Brien").
    subject = " ".join(unescape(render_to_string(f"emails/{name}-subject.txt", context)).split())
    text = unescape(render_to_string(f"emails/{name}-body.txt", context))
    html = render_to_string(f"emails/{name}-body.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=headers or {},
        reply_to=reply_to,
    )
    message.attach_alternative(html, "text/html")
    return message


def send_email(name: str, context: dict, *, to: list[str], **kwargs) -> None:
    """Render and send now (tasks, which retry). A change's emails: send_after_commit."""
    render_email(name, context, to=to, **kwargs).send()


def send_after_commit(name: str, context: dict, *, to: list[str], **kwargs) -> None:
    """Render now; send when the current transaction commits (at once outside one). Never
    raises for the mail server: see the module's docstring."""
    message = render_email(name, context, to=to, **kwargs)
    transaction.on_commit(partial(_send, name, message))


def _send(name: str, message: EmailMultiAlternatives) -> None:
    try:
        message.send()
    except SEND_ERRORS as exc:
        logger.error("email %r to %s not sent: %s", name, ", ".join(message.to), exc)
        request = current_request()
        if request is not None:
            request.unsent_emails = [*getattr(request, "unsent_emails", []), *message.to]


def unsent(request) -> list[str]:
    """The addresses this request's emails could not be sent to; the page that says so
    takes them (no message about them follows on the next page)."""
    addresses = getattr(request, "unsent_emails", [])
    request.unsent_emails = []
    return addresses


class UnsentEmailsMiddleware:
    """Emails of this request that could not be sent and that its page did not mention: a
    warning on the next page the person sees."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        response = self.get_response(request)
        _warn(request)
        return response

    async def _acall(self, request):
        response = await self.get_response(request)
        _warn(request)
        return response


def _warn(request) -> None:
    # Nothing to say: touch nothing else (reading request.user loads it from the database,
    # which on a 503 for a database outage would raise here and turn it into a 500).
    if not getattr(request, "unsent_emails", None):
        return
    # Only a seller on their workspace's pages (org_view sets request.membership) hears of
    # it: to a buyer in a room (signed in to an account or not) or an anonymous visitor (who
    # asked for a new link) the addresses are not theirs to learn, nor that a link was real.
    if getattr(request, "membership", None) is None:
        return
    if addresses := unsent(request):
        messages.warning(
            request,
            f"Saved, but the email to {', '.join(sorted(set(addresses)))} could not be sent "
            "(the mail server did not answer). Send it again in a moment.",
            fail_silently=True,
        )
