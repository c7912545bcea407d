"""The one function that renders and sends every email of Tandem.

Templates: templates/emails/<name>-subject.txt, <name>-body.txt and <name>-body.html.
It lives in deals/, the lowest app, because workspace invitations (deals), buyer links
(stakeholders) and reminders (notifications) all send mail and dependencies run one way.
"""

from __future__ import annotations

from html import unescape

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import css_color


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
    """Render and send now. Callers inside a transaction use transaction.on_commit."""
    render_email(name, context, to=to, **kwargs).send()
