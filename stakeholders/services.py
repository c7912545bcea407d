"""Adding, editing and removing the stakeholders of a deal."""

from __future__ import annotations

from django.db import transaction

from deals.models import Deal

from .actors import Actor
from .models import DEFAULT_SIGNER_ROLES, Stakeholder, side_of_role
from .signals import stakeholder_changed


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
