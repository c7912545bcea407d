"""Workspace workflows: creating workspaces, inviting teammates, accepting invitations."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from .emails import send_email
from .models import ApiKey, Deal, Invitation, Membership, Organization, User, hash_token
from .signals import deal_changed, deal_created


class InvitationError(Exception):
    """An invitation cannot be used; the message is shown to the person."""


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
    link works.
    """
    email = email.strip().lower()
    now = timezone.now()
    Invitation.objects.for_org(organization).pending(now).filter(email=email).update(revoked_at=now)
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
    transaction.on_commit(partial(send_email, "workspace-invitation", context, to=[email]))
    return invitation, token


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
    return membership


@transaction.atomic
def create_api_key(
    organization: Organization, *, name: str, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create an API key of the workspace. Returns the key row and the clear key, which is
    shown once: only its SHA-256 and its prefix are stored. Not idempotent."""
    key = ApiKey.new_key()
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name.strip(),
        prefix=key[: ApiKey.PREFIX_LENGTH],
        key_hash=hash_token(key),
        created_by=created_by,
    )
    return api_key, key


def revoke_api_key(api_key: ApiKey) -> ApiKey:
    """Revoke a key: its next request gets 401. Idempotent (the first revocation time stays)."""
    if api_key.revoked_at is None:
        now = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=now)
        api_key.revoked_at = now
    return api_key


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
    deal_changed.send(sender=Deal, deal=deal, actor=actor, changes=changes)
    return deal
