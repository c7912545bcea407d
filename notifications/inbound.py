"""Replies to a buyer's digest: "we'll need another week for legal" answered to the email
becomes a comment on that step and, when it asks for a date, a pending date proposal the
seller accepts or declines (plans/drafting/suggest.py reads the date).

A buyer's digest carries a reply address, `reply+<person>.<mac>@INBOUND_EMAIL_DOMAIN`
(beside the seller's own address), when the deployment receives mail for that domain: its
gateway POSTs each message to /inbound/email/ (plans' notifications/views.py) or pipes it
to `manage.py receive_email`. The address is the credential — a MAC over the person and
their current email, so a changed address stops the old one — and the sender must be that
person. A reply can only comment on and propose dates for that buyer's own shared steps of
an open, shared plan: it never changes who signs, who receives links, or any date itself.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from email.utils import getaddresses, parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import strip_tags

from plans import services
from plans.drafting.extract import step_types_in, type_of
from plans.drafting.suggest import suggest_date
from plans.models import Milestone, Plan, Visibility
from stakeholders.actors import Actor
from stakeholders.models import Side, Stakeholder

logger = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024
ADDRESS = re.compile(r"reply\+([0-9a-f]{32})\.([0-9a-f]{20})@", re.I)
QUOTE_START = re.compile(
    r"^(On .{4,200}wrote:\s*$|-{2,}\s*Original Message\s*-{2,}|From:\s|_{10,}|Sent from my )",
    re.I | re.M,
)


def _mac(stakeholder: Stakeholder) -> str:
    value = f"{stakeholder.public_id.hex}:{stakeholder.email.casefold()}"
    return salted_hmac("tandem.digest-reply", value).hexdigest()[:20]


def reply_address(stakeholder: Stakeholder) -> str | None:
    """The buyer's reply address, or None when this deployment receives no mail."""
    domain = getattr(settings, "INBOUND_EMAIL_DOMAIN", "")
    if not domain or not stakeholder.email:
        return None
    return f"reply+{stakeholder.public_id.hex}.{_mac(stakeholder)}@{domain}"


def receive(raw: bytes) -> str:
    """Act on one inbound message; returns what was done (for the gateway's log). Nothing
    is done for a message that is not a valid reply; it is not an error either (a mail
    gateway would retry an error)."""
    if len(raw) > MAX_BYTES:
        return "ignored: larger than 1 MB"
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if message.get("Auto-Submitted", "no").strip().casefold() != "no":
        return "ignored: an automatic message (out of office, bounce)"
    recipients = " ".join(
        address
        for header in ("To", "Cc", "Delivered-To", "X-Original-To")
        for _name, address in getaddresses(message.get_all(header, []))
    )
    match = ADDRESS.search(recipients)
    if match is None:
        return "ignored: no reply address"
    buyer = (
        Stakeholder.objects.filter(public_id=_uuid(match[1]), side=Side.BUYER)
        .select_related("deal", "organization")
        .first()
    )
    if buyer is None or not buyer.email or not constant_time_compare(match[2].lower(), _mac(buyer)):
        return "ignored: the reply address is not valid"
    sender = parseaddr(str(message.get("From", "")))[1].casefold()
    if sender != buyer.email.casefold():
        logger.warning("inbound reply from %s for another person's address", sender)
        return "ignored: sent by someone else"
    text = reply_text(message)
    if not text:
        return "ignored: no text"
    plan = Plan.objects.filter(deal=buyer.deal).first()
    if plan is None or not plan.is_the_buyers or plan.is_archived:
        return "ignored: the plan is not open to the buyer"
    steps = list(
        Milestone.objects.open()
        .filter(plan=plan, visibility=Visibility.SHARED, buyer_owner=buyer)
        .order_by("due_date", "position")
    )
    step = which_step(text, steps)
    if step is None:
        return "ignored: no step of theirs is named"
    zone = ZoneInfo(buyer.organization.time_zone)
    today = timezone.now().astimezone(zone).date()
    day = suggest_date(
        text,
        due=step.due_date,
        today=today,
        day_first=not buyer.organization.time_zone.startswith("America/"),
    )
    with transaction.atomic():
        services.add_comment(step, actor=Actor.buyer(buyer), body=text[:4000])
        if day is not None:
            services.propose_date(step, buyer=buyer, proposed_date=day, reason=text[:300])
    return f"commented on {step.public_id}" + (f", proposed {day:%Y-%m-%d}" if day else "")


def _uuid(hex_value: str) -> str:
    value = hex_value.lower()
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def reply_text(message) -> str:
    """The new words of a reply: its plain text (or its HTML's text), without the quoted
    message below it."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        return ""
    if part.get_content_subtype() == "html":
        content = strip_tags(re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content))
    content = content.replace("\r\n", "\n")
    cut = QUOTE_START.search(content)
    if cut:
        content = content[: cut.start()]
    lines = [line for line in content.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()[:4000]


def which_step(text: str, steps: list[Milestone]) -> Milestone | None:
    """The buyer's step the reply is about: named by its title's words or its kind ("legal"
    for "Legal redline MSA"), or their only open step."""
    if not steps:
        return None
    folded = text.casefold()
    for step in steps:
        if step.title.casefold() in folded:
            return step
    said = step_types_in(text)
    named = [step for step in steps if type_of(step.title) in said]
    if len(named) == 1:
        return named[0]
    return steps[0] if len(steps) == 1 else None
