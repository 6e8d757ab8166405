"""Tiers: rule-set versions, quarterly proposals and their items, overrides, and the
assignments (one row per firm per quarter) that approval writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
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
    __table_args__ = (
        sa.UniqueConstraint("firm_id", "quarter"),
        # By quarter, carrying firm and tier: the dashboard's transition matrix looks up each firm's
        # tier of two quarters in this index alone, without reading the rows (and their reasons).
        sa.Index("ix_tier_assignments_quarter_firm_tier", "quarter", "firm_id", "tier"),
    )

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm assigned.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"))
    #: Quarter key the tier applies to, `2026Q4`.
    quarter: Mapped[str] = mapped_column(sa.String(6))
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
    #: The proposal whose approval wrote it, if any.
    proposal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tier_proposals.id"), index=True)
    #: When it was recorded.
    created_at: Mapped[Timestamp]

    firm: Mapped[Firm] = relationship(back_populates="assignments")
    decided_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<TierAssignment {self.firm_id} {self.quarter} {self.tier}>"


class ProposalStatus(StrEnum):
    """Where a quarterly proposal is."""

    DRAFT = "draft"  # computed, under review (公示)
    APPLIED = "applied"
    DISCARDED = "discarded"


class RuleSetVersion(Model):
    """One saved version of the scoring rules; proposals record the version they used."""

    __tablename__ = "rule_set_versions"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: 1, 2, 3 … in the order saved; the highest is in force.
    version: Mapped[int] = mapped_column(unique=True)
    #: The settings (domain.scoring.RuleSet.as_dict()).
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    #: What changed and why, in the admin's words.
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    #: Who saved it; empty for the built-in default.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When.
    created_at: Mapped[Timestamp]

    created_by: Mapped[User | None] = relationship()


class TierProposal(Model):
    """The proposed tiers of every active firm for one quarter, reviewed and then applied once."""

    __tablename__ = "tier_proposals"
    __table_args__ = (
        # One live proposal per quarter: a second scheduled run, or two at once, cannot add another.
        sa.Index(
            "uq_tier_proposals_live_quarter",
            "quarter",
            unique=True,
            sqlite_where=sa.text("status != 'discarded'"),
            postgresql_where=sa.text("status != 'discarded'"),
        ),
    )

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The quarter the tiers are for, `2026Q4` (metrics up to the quarter before).
    quarter: Mapped[str] = mapped_column(sa.String(6), index=True)
    #: draft, applied or discarded.
    status: Mapped[ProposalStatus] = mapped_column(
        enum_column(ProposalStatus), default=ProposalStatus.DRAFT, index=True
    )
    #: The rule-set version used.
    rule_set_id: Mapped[int] = mapped_column(sa.ForeignKey("rule_set_versions.id"))
    #: A digest of the firms and metrics it was computed from; differs when they changed since.
    data_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    #: Counts per proposed tier and per change, for the summary.
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: Who computed it; empty for the scheduler.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When it was computed.
    created_at: Mapped[Timestamp]
    #: Who approved it.
    applied_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When it was approved.
    applied_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    rule_set: Mapped[RuleSetVersion] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    applied_by: Mapped[User | None] = relationship(foreign_keys=[applied_by_id])


class ProposalItem(Model):
    """One firm's line in a proposal."""

    __tablename__ = "proposal_items"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "firm_id"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The proposal.
    proposal_id: Mapped[int] = mapped_column(sa.ForeignKey("tier_proposals.id", ondelete="CASCADE"))
    #: The firm.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    #: The firm's tier when the proposal was computed; empty if never assessed.
    current_tier: Mapped[Tier | None] = mapped_column(enum_column(Tier, "current_tier"))
    #: The engine's tier.
    proposed_tier: Mapped[Tier] = mapped_column(enum_column(Tier, "proposed_tier"))
    #: A supervisor's tier for this proposal, if overridden on review.
    override_tier: Mapped[Tier | None] = mapped_column(enum_column(Tier, "override_tier"))
    #: The weighted score; empty where no score could be computed.
    score: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 4))
    #: above (规上), below (规下), merged or none.
    pool: Mapped[str] = mapped_column(sa.String(8))
    #: Share of the pool scoring strictly higher, 0–1.
    percentile: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 4))
    #: up, down, new or same, against the current tier (after any override).
    change: Mapped[str] = mapped_column(sa.String(8), index=True)
    #: Too little data to score (fewer than two quarters).
    insufficient_data: Mapped[bool] = mapped_column(default=False)
    #: The rules that fired and each indicator's contribution.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)

    firm: Mapped[Firm] = relationship()

    @property
    def final_tier(self) -> Tier:
        """What approval writes: the override, else the engine's tier."""
        return self.override_tier or self.proposed_tier


class TierOverride(Model):
    """A supervisor's tier for a firm, with a reason, in force until an optional expiry quarter."""

    __tablename__ = "tier_overrides"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    #: The tier it holds the firm at.
    tier: Mapped[Tier] = mapped_column(enum_column(Tier))
    #: Why, in the supervisor's words (shown as the firm's reason).
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: Last quarter it applies to, `2027Q2`; empty: until lifted.
    expiry_quarter: Mapped[str | None] = mapped_column(sa.String(6))
    #: Lifted overrides stay for the record.
    active: Mapped[bool] = mapped_column(default=True)
    #: Who set it.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When.
    created_at: Mapped[Timestamp]

    created_by: Mapped[User | None] = relationship()
