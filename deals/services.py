"""Workspace workflows: creating workspaces, inviting teammates, accepting invitations,
members' roles and removals, API keys. Changes that matter to security are written to the
workspace's security log in the same transaction (`deals.security.record`)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from . import revisions, security
from .emails import send_after_commit
from .models import (
    ApiKey,
    Deal,
    Invitation,
    Membership,
    Organization,
    SecurityEvent,
    User,
    hash_token,
)
from .security import Kind
from .signals import deal_changed, deal_created


class InvitationError(Exception):
    """An invitation cannot be used; the message is shown to the person."""


class MembershipError(Exception):
    """A change of members that cannot be made; the message is shown to the admin."""


def unique_slug(name: str) -> str:
    base = slugify(name)[:40] or "workspace"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists() or slug in RESERVED_SLUGS:
        n += 1
        slug = f"{base}-{n}"
    return slug


RESERVED_SLUGS = {"new", "admin", "api", "static", "media", "events"}


@transaction.atomic
def create_workspace(*, name: str, admin: User, time_zone: str = "UTC") -> Organization:
    """Create a workspace with `admin` as its first admin. Not idempotent."""
    organization = Organization.objects.create(
        name=name.strip(), slug=unique_slug(name), time_zone=time_zone
    )
    Membership.objects.create(organization=organization, user=admin, role=Membership.Role.ADMIN)
    return organization


def invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("invitation-accept", kwargs={"token": token})


@transaction.atomic
def invite_teammate(
    organization: Organization, *, email: str, role: str, invited_by: User
) -> tuple[Invitation, str]:
    """Create a single-use invitation and email its link after commit.

    Returns the invitation and its clear token (only the hash is stored). Earlier pending
    invitations of the same address to the same workspace are revoked, so only the newest
    link works. Logged in the security log (invitation sent).
    """
    email = email.strip().lower()
    now = timezone.now()
    replaced = (
        Invitation.objects.for_org(organization)
        .pending(now)
        .filter(email=email)
        .update(revoked_at=now)
    )
    token = Invitation.new_token()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=invited_by,
        expires_at=Invitation.default_expiry(),
    )
    context = {
        "organization": organization,
        "invited_by": invited_by,
        "role": invitation.get_role_display(),
        "url": invitation_url(token),
        "expires_at": invitation.expires_at,
    }
    summary = f"Invited as {invitation.get_role_display()}"
    if replaced:
        summary += "; the earlier invitation link no longer works"
    security.record(
        organization,
        Kind.INVITATION_SENT,
        user=invited_by,
        target=email,
        summary=summary + ".",
        invitation=str(invitation.public_id),
        role=role,
    )
    send_after_commit("workspace-invitation", context, to=[email])
    return invitation, token


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, actor: User) -> bool:
    """Withdraw a pending invitation: its link stops working. Logged (invitation revoked).
    Idempotent: revoking one that is no longer pending changes nothing and returns False."""
    now = timezone.now()
    revoked = Invitation.objects.pending(now).filter(pk=invitation.pk).update(revoked_at=now)
    if not revoked:
        return False
    invitation.revoked_at = now
    security.record(
        invitation.organization_id,
        Kind.INVITATION_REVOKED,
        user=actor,
        target=invitation.email,
        summary=f"Invitation as {invitation.get_role_display()} withdrawn.",
        invitation=str(invitation.public_id),
    )
    return True


def find_invitation(token: str) -> Invitation:
    """The usable invitation for `token`, or InvitationError with a clear message."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid.")
    if invitation.accepted_at:
        raise InvitationError("This invitation has already been used.")
    if invitation.revoked_at:
        raise InvitationError("This invitation was withdrawn.")
    if invitation.is_expired():
        raise InvitationError("This invitation has expired.")
    return invitation


@transaction.atomic
def accept_invitation(token: str, *, user: User) -> Membership:
    """Add `user` to the invitation's workspace with its role, once.

    The invitation is claimed with a conditional UPDATE, so two concurrent acceptances of
    the same link cannot both succeed. A user who is already a member keeps their role.
    Logged (invitation accepted).
    """
    invitation = find_invitation(token)
    if user.email.lower() != invitation.email.lower():
        raise InvitationError(
            f"This invitation is for {invitation.email}. Sign in with that address to accept it."
        )
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if claimed != 1:
        raise InvitationError("This invitation has already been used.")
    try:
        with transaction.atomic():
            membership, _ = Membership.objects.get_or_create(
                organization=invitation.organization,
                user=user,
                defaults={"role": invitation.role},
            )
    except IntegrityError:  # pragma: no cover - a concurrent get_or_create won
        membership = Membership.objects.get(organization=invitation.organization, user=user)
    revisions.bump_workspace(invitation.organization_id)  # the pages' forms list members
    security.record(
        invitation.organization,
        Kind.INVITATION_ACCEPTED,
        user=user,
        target=invitation.email,
        summary=f"Joined as {membership.get_role_display()}.",
        invitation=str(invitation.public_id),
        role=membership.role,
    )
    return membership


def _member_label(membership: Membership) -> str:
    user = membership.user
    return f"{user.full_name} <{user.email}>" if user.full_name else user.email


def _keep_an_admin(membership: Membership) -> None:
    """Refuse to take away the workspace's last admin. The admins' rows are locked, so two
    admins demoting or removing each other at once cannot both succeed."""
    admins = list(
        Membership.objects.select_for_update()
        .filter(organization_id=membership.organization_id, role=Membership.Role.ADMIN)
        .values_list("pk", flat=True)
    )
    if not [pk for pk in admins if pk != membership.pk]:
        raise MembershipError("A workspace needs at least one admin.")


@transaction.atomic
def change_member_role(membership: Membership, *, role: str, actor: User) -> Membership:
    """Give a member another role. Logged with the old and the new role. Refuses
    (MembershipError) to demote the last admin. The same role again is a no-op."""
    if role == membership.role:
        return membership
    if membership.is_admin:
        _keep_an_admin(membership)
    old_label = membership.get_role_display()
    old_role, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    revisions.bump_workspace(membership.organization_id)
    security.record(
        membership.organization_id,
        Kind.ROLE_CHANGED,
        user=actor,
        target=_member_label(membership),
        summary=f"{old_label} → {membership.get_role_display()}",
        member=str(membership.user.public_id),
        old_role=old_role,
        new_role=role,
    )
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, actor: User) -> None:
    """Remove a member from the workspace. Logged (member removed). Refuses
    (MembershipError) to remove the last admin. Not idempotent (the row is deleted)."""
    if membership.is_admin:
        _keep_an_admin(membership)
    membership.delete()
    revisions.bump_workspace(membership.organization_id)
    security.record(
        membership.organization_id,
        Kind.MEMBER_REMOVED,
        user=actor,
        target=_member_label(membership),
        summary=f"Removed (was {membership.get_role_display()}).",
        member=str(membership.user.public_id),
        role=membership.role,
    )


@transaction.atomic
def create_api_key(
    organization: Organization, *, name: str, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create an API key of the workspace. Returns the key row and the clear key, which is
    shown once: only its SHA-256 and its prefix are stored. Logged (API key created); with
    no `created_by`, the command line created it. Not idempotent."""
    key = ApiKey.new_key()
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name.strip(),
        prefix=key[: ApiKey.PREFIX_LENGTH],
        key_hash=hash_token(key),
        created_by=created_by,
    )
    security.record(
        organization,
        Kind.API_KEY_CREATED,
        user=created_by,
        actor="" if created_by else "Command line (manage.py)",
        target=_key_label(api_key),
        key=str(api_key.public_id),
    )
    return api_key, key


def _key_label(api_key: ApiKey) -> str:
    return f"{api_key.name} ({api_key.prefix}…)"


@transaction.atomic
def revoke_api_key(api_key: ApiKey, *, actor: User | None = None) -> ApiKey:
    """Revoke a key: its next request gets 401. Logged (API key revoked) once. Idempotent
    (the first revocation time stays)."""
    if api_key.revoked_at is None:
        now = timezone.now()
        if ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=now):
            security.record(
                api_key.organization_id,
                Kind.API_KEY_REVOKED,
                user=actor,
                target=_key_label(api_key),
                key=str(api_key.public_id),
            )
        api_key.revoked_at = now
    return api_key


def note_api_key_address(api_key: ApiKey, *, request) -> bool:
    """Remember the client address (`client_ip`) a request with this key came from; the
    first request from an address the key has not been used from is logged (API key used
    from a new IP address). Returns whether the address was new.

    A known address costs no query (the addresses come with the key's row). A new one is
    added under a row lock, so concurrent first requests from it log it once; the key
    remembers its last `ApiKey.KNOWN_ADDRESSES` addresses (IPv6 by /64 block, as a client
    holds a whole block)."""
    ip = security.client_ip(request)
    address = security.address_block(ip)
    if ip is None or address in api_key.known_addresses:
        return False
    with transaction.atomic():
        known = (
            ApiKey.objects.select_for_update()
            .filter(pk=api_key.pk)
            .values_list("known_addresses", flat=True)
            .first()
        )
        if known is None:
            return False
        if address in known:
            api_key.known_addresses = known
            return False
        api_key.known_addresses = [*known, address][-ApiKey.KNOWN_ADDRESSES :]
        ApiKey.objects.filter(pk=api_key.pk).update(known_addresses=api_key.known_addresses)
        security.record(
            api_key.organization_id,
            Kind.API_KEY_NEW_IP,
            request=request,
            actor=f"API key “{api_key.name}”",
            target=_key_label(api_key),
            summary=(
                f"First request from {ip}."
                if known
                else f"First request from {ip} (the key's first use)."
            ),
            key=str(api_key.public_id),
        )
    return True


@transaction.atomic
def create_deal(organization: Organization, *, actor, **fields) -> Deal:
    """Create a deal of the workspace. Sends `deal_created` (webhooks: deal.created).

    `actor` is whoever acts (a seller or an API key): it needs `name`, `side` and `user`.
    """
    deal = Deal.objects.create(organization=organization, **fields)
    deal_created.send(sender=Deal, deal=deal, actor=actor)
    return deal


@transaction.atomic
def update_deal(deal: Deal, *, actor, **fields) -> Deal:
    """Edit a deal. Closing it (won or lost) sets the closing date to today unless given;
    reopening clears it. Sends `deal_changed` with the changed fields (plans/ records a new
    owner in the plan's feed). Changing nothing is a no-op."""
    stage = fields.get("stage", deal.stage)
    if stage in Deal.CLOSED_STAGES and not fields.get("closed_date") and not deal.closed_date:
        fields["closed_date"] = timezone.localdate()
    if "stage" in fields and stage not in Deal.CLOSED_STAGES:
        fields["closed_date"] = None
    changes = {
        name: (getattr(deal, name), value)
        for name, value in fields.items()
        if getattr(deal, name) != value
    }
    if not changes:
        return deal
    for name, (_, value) in changes.items():
        setattr(deal, name, value)
    deal.save(update_fields=[*changes, "updated_at"])
    revisions.bump_deal(deal.pk)
    deal_changed.send(sender=Deal, deal=deal, actor=actor, changes=changes)
    return deal


PURGE_BATCH = 5000


def purge_security_log(*, now=None, batch: int = PURGE_BATCH) -> int:
    """Delete the security-log entries older than SECURITY_LOG_RETENTION_DAYS, in every
    workspace, in batches (short transactions: the log keeps being written meanwhile).
    Returns how many were deleted. Idempotent: a second run finds nothing.

    A queryset delete (one DELETE per batch; the model refuses an instance's `delete()`);
    PostgreSQL's trigger refuses UPDATE only."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SECURITY_LOG_RETENTION_DAYS)
    # Cross-organization on purpose: this is the retention sweep.
    expired = SecurityEvent.objects.older_than(cutoff)
    deleted = 0
    while ids := list(expired.order_by().values_list("pk", flat=True)[:batch]):
        count, _ = SecurityEvent.objects.filter(pk__in=ids).delete()
        deleted += count
    return deleted
