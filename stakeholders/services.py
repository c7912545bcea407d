"""Adding, editing and removing the stakeholders of a deal."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deals.emails import send_email
from deals.models import Deal, hash_token

from . import access
from .actors import Actor
from .models import DEFAULT_SIGNER_ROLES, RoomLink, Side, Stakeholder, side_of_role
from .signals import buyer_invited, stakeholder_changed, stakeholder_written


def _announce(stakeholder: Stakeholder, actor: Actor, action: str) -> None:
    stakeholder_changed.send(
        sender=Stakeholder, stakeholder=stakeholder, actor=actor, action=action
    )


@transaction.atomic
def add_stakeholder(deal: Deal, *, actor: Actor, **fields) -> Stakeholder:
    """Add a stakeholder; the side follows the role; economic buyers and AEs are required
    signers unless told otherwise. Sends `stakeholder_changed` (action "added")."""
    role = fields["role"]
    fields.setdefault("is_required_signer", role in DEFAULT_SIGNER_ROLES)
    stakeholder = Stakeholder.objects.create(
        organization=deal.organization, deal=deal, side=side_of_role(role), **fields
    )
    _announce(stakeholder, actor, "added")
    return stakeholder


@transaction.atomic
def update_stakeholder(stakeholder: Stakeholder, *, actor: Actor, **fields) -> Stakeholder:
    """Edit a stakeholder in place; the side follows the role. Sends `stakeholder_changed`."""
    for name, value in fields.items():
        setattr(stakeholder, name, value)
    stakeholder.side = side_of_role(stakeholder.role)
    stakeholder.save()
    _announce(stakeholder, actor, "edited")
    return stakeholder


@transaction.atomic
def remove_stakeholder(stakeholder: Stakeholder, *, actor: Actor) -> None:
    """Delete a stakeholder; the milestones they owned lose that owner (and show the gap)."""
    _announce(stakeholder, actor, "removed")
    stakeholder.delete()


class InviteRefused(Exception):  # noqa: N818 - reads as the outcome
    """The invitation is not allowed; the message says why."""


@transaction.atomic
def issue_room_link(stakeholder: Stakeholder, *, created_by=None) -> tuple[RoomLink, str]:
    """A new personal link to the stakeholder's deal room. Returns the link and its clear
    token (shown once; only the hash is stored). Older links keep working until revoked."""
    token = access.new_token()
    link = RoomLink.objects.create(
        organization_id=stakeholder.organization_id,
        stakeholder=stakeholder,
        token_hash=hash_token(token),
        email=stakeholder.email,
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=stakeholder.deal.organization.room_link_days),
    )
    return link, token


@transaction.atomic
def invite_buyer(stakeholder: Stakeholder, *, actor: Actor) -> tuple[RoomLink, str]:
    """Email a buyer stakeholder a new personal link to the deal room (after commit).

    Re-inviting creates a new link. Records invited_at; sends `buyer_invited`. Returns the
    link and its URL (for "copy link"). Refused for sellers and for stakeholders without
    an email address.
    """
    if stakeholder.side != Side.BUYER:
        raise InviteRefused("Only buyer-side stakeholders get a deal room link.")
    if not stakeholder.email:
        raise InviteRefused(f"Add an email address for {stakeholder.name} first.")
    link, token = issue_room_link(stakeholder, created_by=actor.user)
    url = access.room_url(token)
    Stakeholder.objects.filter(pk=stakeholder.pk).update(invited_at=timezone.now())
    stakeholder_written.send(sender=Stakeholder, stakeholder=stakeholder)
    deal = stakeholder.deal
    organization = deal.organization
    context = {
        "stakeholder": stakeholder,
        "deal": deal,
        "organization": organization,
        # A person invites: a seller, a buyer (a colleague), or — for an API key or
        # Tandem itself — the deal's owner, on whose behalf they act.
        "inviter": actor.name if actor.user or actor.is_buyer else deal.owner.display_name,
        "seller": deal.owner.display_name,
        "url": url,
        "expires_at": link.expires_at,
        "accent": organization.accent_color,
    }
    reply_to = [deal.owner.email] if deal.owner.email else None
    transaction.on_commit(
        partial(send_email, "room-invitation", context, to=[stakeholder.email], reply_to=reply_to)
    )
    buyer_invited.send(sender=Stakeholder, stakeholder=stakeholder, link=link, invited_by=actor)
    return link, url


@transaction.atomic
def revoke_room_link(link: RoomLink) -> None:
    """Revoke a link; sessions started from it end at their next request (idempotent)."""
    RoomLink.objects.filter(pk=link.pk, revoked_at=None).update(revoked_at=timezone.now())
    stakeholder_written.send(sender=Stakeholder, stakeholder=link.stakeholder)


# The seller hears at most this often that a stakeholder asks for a new link.
LINK_REQUEST_EVERY = timedelta(hours=1)


@transaction.atomic
def ask_for_new_link(stakeholder: Stakeholder, *, now=None) -> bool:
    """The holder of an expired or revoked link asks for a new one: email the deal's owner
    (after commit), at most once per LINK_REQUEST_EVERY per stakeholder. The hour is claimed
    with a conditional UPDATE of `link_requested_at`, so two requests racing send one email.
    Returns whether the owner is emailed. Nothing goes to the requester: the seller sends
    a new link to the stakeholder's address, whoever held the old one."""
    now = now or timezone.now()
    claimed = (
        Stakeholder.objects.filter(pk=stakeholder.pk)
        .filter(Q(link_requested_at=None) | Q(link_requested_at__lte=now - LINK_REQUEST_EVERY))
        .update(link_requested_at=now)
    )
    if not claimed:
        return False
    deal = stakeholder.deal
    context = {
        "stakeholder": stakeholder,
        "deal": deal,
        "organization": deal.organization,
        "plan_url": settings.SITE_URL + deal.get_absolute_url(),
    }
    transaction.on_commit(partial(send_email, "link-requested", context, to=[deal.owner.email]))
    return True


def buyer_domains(deal: Deal) -> set[str]:
    """The buyer's email domains: those of the buyer stakeholders the seller added."""
    emails = Stakeholder.objects.filter(deal=deal, side=Side.BUYER, added_by_buyer=False)
    return {e.rsplit("@", 1)[1].lower() for e in emails.values_list("email", flat=True) if "@" in e}


@transaction.atomic
def invite_colleague(
    champion: Stakeholder, *, name: str, email: str, title: str, role: str
) -> Stakeholder:
    """The champion adds a colleague of their own domain(s) as a buyer stakeholder and
    invites them. Outside those domains the seller must do it. Notifies the deal owner."""
    from .models import BuyerRole

    if champion.role != BuyerRole.CHAMPION:
        raise InviteRefused("Only the champion can invite colleagues.")
    if role not in BuyerRole.values:
        raise InviteRefused("Choose a buyer-side role.")
    deal = champion.deal
    domain = email.rsplit("@", 1)[-1].lower()
    allowed = buyer_domains(deal)
    if domain not in allowed:
        seller = deal.owner.display_name
        raise InviteRefused(
            f"You can invite colleagues at {', '.join(sorted(allowed)) or 'your company'}; "
            f"ask {seller} to invite someone at {domain}."
        )
    if Stakeholder.objects.filter(deal=deal, email__iexact=email).exists():
        raise InviteRefused(f"{email} is already part of this deal room.")
    actor = Actor.buyer(champion)
    colleague = add_stakeholder(
        deal,
        actor=actor,
        name=name,
        email=email.lower(),
        title=title,
        role=role,
        added_by_buyer=True,
    )
    invite_buyer(colleague, actor=actor)
    context = {
        "deal": deal,
        "champion": champion,
        "colleague": colleague,
        "organization": deal.organization,
        "accent": deal.organization.accent_color,
        "plan_url": settings.SITE_URL + deal.get_absolute_url(),
    }
    transaction.on_commit(partial(send_email, "colleague-invited", context, to=[deal.owner.email]))
    return colleague
