"""Tier assignments: one row per firm per quarter, with the reasons behind it."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.tiers import AssignmentMethod, Tier
from ..extensions import Model
from .types import Timestamp, enum_column

if TYPE_CHECKING:
    from .firms import Firm
    from .users import User


class TierAssignment(Model):
    """A firm's tier for a quarter; the latest one is the firm's current tier."""

    __tablename__ = "tier_assignments"
    __table_args__ = (sa.UniqueConstraint("firm_id", "quarter"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm assigned.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"))
    #: Quarter key the tier applies to, `2026Q4`.
    quarter: Mapped[str] = mapped_column(sa.String(6), index=True)
    #: The tier.
    tier: Mapped[Tier] = mapped_column(enum_column(Tier))
    #: Weighted score behind it; empty where a rule, not the score, decided.
    score: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 4))
    #: Rule hits and indicator contributions, as a list of {"code": …, "text": …, …}.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    #: auto (the engine), manual (a supervisor) or import (a roster).
    method: Mapped[AssignmentMethod] = mapped_column(enum_column(AssignmentMethod))
    #: Who decided or approved it; empty for system imports.
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When it was recorded.
    created_at: Mapped[Timestamp]

    firm: Mapped[Firm] = relationship(back_populates="assignments")
    decided_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<TierAssignment {self.firm_id} {self.quarter} {self.tier}>"
