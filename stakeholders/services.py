"""Adding, editing and removing the stakeholders of a deal."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deals import revisions, security
from deals.emails import send_after_commit
from deals.models import Deal, SecurityEvent, hash_token

from . import access
from .actors import Actor
from .models import DEFAULT_SIGNER_ROLES, BuyerRole, RoomLink, Side, Stakeholder, side_of_role
from .signals import (
    buyer_invited,
    identity_changed,
    links_revoked,
    stakeholder_changed,
)

# What a buyer may change in the room, and only on their own record: never an address
# (it is where every link of theirs goes), a role (it grants the champion's invitations) or
# the required-signer flag.
BUYER_SELF_FIELDS = {"name", "title", "phone"}


class ChangeRefused(Exception):  # noqa: N818 - reads as the outcome
    """The change is not allowed for this actor; the message says why. Nothing changed."""


def _announce(stakeholder: Stakeholder, actor: Actor, action: str) -> None:
    revisions.bump_deal(stakeholder.deal_id)
    stakeholder_changed.send(
        sender=Stakeholder, stakeholder=stakeholder, actor=actor, action=action
    )


def log_security_event(stakeholder: Stakeholder, kind: str, *, actor: Actor, **details):
    """A security log entry about a stakeholder, by a seller, a buyer or Tandem."""
    deal = stakeholder.deal
    return security.record(
        stakeholder.organization_id,
        kind,
        user=actor.user,
        actor=actor.name,
        actor_email=actor.stakeholder.email if actor.stakeholder else "",
        target=f"{deal.account_name} — {deal.name} / {stakeholder.name}",
        deal=str(deal.public_id),
        stakeholder=str(stakeholder.public_id),
        **details,
    )


@transaction.atomic
def add_stakeholder(deal: Deal, *, actor: Actor, **fields) -> Stakeholder:
    """Add a stakeholder; the side follows the role; economic buyers and AEs are required
    signers unless told otherwise — except people a buyer adds: only the seller decides who
    signs. Sends `stakeholder_changed` (action "added")."""
    role = fields["role"]
    if actor.is_buyer:
        fields["is_required_signer"] = False
    fields.setdefault("is_required_signer", role in DEFAULT_SIGNER_ROLES)
    stakeholder = Stakeholder.objects.create(
        organization=deal.organization, deal=deal, side=side_of_role(role), **fields
    )
    _announce(stakeholder, actor, "added")
    return stakeholder


@transaction.atomic
def update_stakeholder(stakeholder: Stakeholder, *, actor: Actor, **fields) -> Stakeholder:
    """Edit a stakeholder in place; the side follows the role. Sends `stakeholder_changed`.

    A buyer may edit only their own name, title and phone (ChangeRefused otherwise). A new
    email address — only the seller's side changes one — is a new identity: the old
    address's room links are revoked at once, `identity_changed` lets plans/ void signing
    requests and codes and record the change, and the security log keeps old and new."""
    if actor.is_buyer and (
        actor.stakeholder is None
        or actor.stakeholder.pk != stakeholder.pk
        or set(fields) - BUYER_SELF_FIELDS
    ):
        raise ChangeRefused("In the deal room you can change only your own name, title and phone.")
    old_email = Stakeholder.objects.filter(pk=stakeholder.pk).values_list("email", flat=True)[0]
    for name, value in fields.items():
        setattr(stakeholder, name, value)
    stakeholder.side = side_of_role(stakeholder.role)
    stakeholder.save()
    if stakeholder.email.casefold() != old_email.casefold():
        _void_identity(stakeholder, actor=actor, old_email=old_email, new_email=stakeholder.email)
    _announce(stakeholder, actor, "edited")
    return stakeholder


@transaction.atomic
def remove_stakeholder(stakeholder: Stakeholder, *, actor: Actor) -> None:
    """Delete a stakeholder; the milestones they owned lose that owner (and show the gap).
    Their links are revoked and their signing requests voided first (recorded)."""
    _void_identity(stakeholder, actor=actor, old_email=stakeholder.email, new_email="")
    _announce(stakeholder, actor, "removed")
    stakeholder.delete()


def _void_identity(stakeholder: Stakeholder, *, actor: Actor, old_email: str, new_email: str):
    removed = not new_email
    revoked = revoke_links_of(stakeholder)
    identity_changed.send(
        sender=Stakeholder,
        stakeholder=stakeholder,
        actor=actor,
        old_email=old_email,
        new_email=new_email,
        removed=removed,
    )
    if removed:
        log_security_event(
            stakeholder,
            SecurityEvent.Kind.STAKEHOLDER_REMOVED,
            actor=actor,
            summary=f"removed {stakeholder.name} <{old_email or 'no email'}>; "
            f"{len(revoked)} room link(s) revoked",
            email=old_email,
            revoked_links=len(revoked),
        )
    else:
        log_security_event(
            stakeholder,
            SecurityEvent.Kind.IDENTITY_CHANGED,
            actor=actor,
            summary=f"email of {stakeholder.name} changed from {old_email or '(none)'} to "
            f"{new_email}; {len(revoked)} room link(s) revoked",
            old_email=old_email,
            new_email=new_email,
            revoked_links=len(revoked),
        )


def revoke_links_of(stakeholder: Stakeholder) -> list[int]:
    """Revoke every link of the stakeholder that still works; their sessions end at their
    next request. Returns the ids of the links revoked."""
    ids = list(
        RoomLink.objects.filter(stakeholder=stakeholder, revoked_at=None).values_list(
            "pk", flat=True
        )
    )
    if ids:
        RoomLink.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
        revisions.bump_deal(stakeholder.deal_id)
        links_revoked.send(sender=RoomLink, link_ids=ids)
    return ids


class InviteRefused(Exception):  # noqa: N818 - reads as the outcome
    """The invitation is not allowed; the message says why."""


@transaction.atomic
def issue_room_link(
    stakeholder: Stakeholder, *, created_by=None, purpose: str = "invitation"
) -> tuple[RoomLink, str]:
    """A new personal link to the stakeholder's deal room, for their current address.
    Returns the link and its clear token (shown once; only the hash is stored). Older links
    keep working until revoked. Recorded in the security log with its `purpose`."""
    token = access.new_token()
    link = RoomLink.objects.create(
        organization_id=stakeholder.organization_id,
        stakeholder=stakeholder,
        token_hash=hash_token(token),
        email=stakeholder.email,
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=stakeholder.deal.organization.room_link_days),
    )
    revisions.bump_deal(stakeholder.deal_id)  # the stakeholder panel lists active links
    security.record(
        stakeholder.organization_id,
        SecurityEvent.Kind.ROOM_LINK_CREATED,
        user=created_by,
        actor="" if created_by else "Tandem",
        target=f"{stakeholder.deal.account_name} — {stakeholder.deal.name} / {stakeholder.name}",
        summary=f"room link ({purpose}) for {stakeholder.email}, "
        f"expires {link.expires_at:%Y-%m-%d}",
        deal=str(stakeholder.deal.public_id),
        stakeholder=str(stakeholder.public_id),
        link=str(link.public_id),
        email=stakeholder.email,
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
    revisions.bump_deal(stakeholder.deal_id)
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
    send_after_commit("room-invitation", context, to=[stakeholder.email], reply_to=reply_to)
    buyer_invited.send(sender=Stakeholder, stakeholder=stakeholder, link=link, invited_by=actor)
    return link, url


@transaction.atomic
def revoke_room_link(link: RoomLink, *, actor: Actor | None = None) -> None:
    """Revoke a link; sessions started from it end at their next request (idempotent).
    Recorded in the security log."""
    revoked = RoomLink.objects.filter(pk=link.pk, revoked_at=None).update(revoked_at=timezone.now())
    revisions.bump_deal(link.stakeholder.deal_id)
    if revoked:
        links_revoked.send(sender=RoomLink, link_ids=[link.pk])
        log_security_event(
            link.stakeholder,
            SecurityEvent.Kind.ROOM_LINK_REVOKED,
            actor=actor or Actor.system(),
            summary=f"room link for {link.email} revoked",
            link=str(link.public_id),
            email=link.email,
        )


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
    send_after_commit("link-requested", context, to=[deal.owner.email])
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
    invites them. Outside those domains the seller must do it. The colleague is never a
    required signer (only the seller decides who signs). Notifies the deal owner."""
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
    send_after_commit("colleague-invited", context, to=[deal.owner.email])
    return colleague
