"""Who acts: a seller user or a buyer stakeholder. Recorded in activity and history."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Side, Stakeholder


@dataclass(frozen=True)
class Actor:
    name: str
    side: str
    user: object | None = None
    stakeholder: Stakeholder | None = None

    @classmethod
    def seller(cls, user) -> Actor:
        return cls(name=user.display_name, side=Side.SELLER, user=user)

    @classmethod
    def buyer(cls, stakeholder: Stakeholder) -> Actor:
        return cls(name=stakeholder.name, side=Side.BUYER, stakeholder=stakeholder)

    @classmethod
    def system(cls) -> Actor:
        return cls(name="Tandem", side=Side.SELLER)

    @property
    def is_buyer(self) -> bool:
        return self.side == Side.BUYER
