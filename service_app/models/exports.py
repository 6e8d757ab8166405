"""Exports built in the background and kept 30 days: a quarter's street pack (one workbook per street,
zipped) and a large firm-list download (one roster workbook for the user who asked)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import Timestamp, enum_column

if TYPE_CHECKING:
    from .users import User


class PackStatus(StrEnum):
    """Where a pack is."""

    PENDING = "pending"  # asked for; the scheduler builds it
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class ExportKind(StrEnum):
    """What a background export writes."""

    PACK = "pack"  # a quarter's street pack: a zip and the street workbooks inside it
    ROSTER = "roster"  # one user's firm list, too large to build while the browser waits


class ExportPack(Model):
    """A background export: a quarter's roster pack (分街道名录) or one user's large list download."""

    __tablename__ = "export_packs"

    #: Surrogate key; also the folder the files live in (instance/exports/<id>/).
    id: Mapped[int] = mapped_column(primary_key=True)
    #: pack (every street, zipped) or roster (one user's filtered list).
    kind: Mapped[ExportKind] = mapped_column(
        enum_column(ExportKind), default=ExportKind.PACK, server_default=ExportKind.PACK.value, index=True
    )
    #: For a roster: the list page's query arguments it was asked with, {name: [values]}.
    filters: Mapped[dict[str, list[str]]] = mapped_column(sa.JSON, default=dict)
    #: Quarter key the rosters are for, `2026Q4`.
    quarter: Mapped[str] = mapped_column(sa.String(6), index=True)
    #: pending, building, ready or failed.
    status: Mapped[PackStatus] = mapped_column(enum_column(PackStatus), default=PackStatus.PENDING, index=True)
    #: The applied proposal that asked for it, when the scheduler did; one pack per proposal.
    proposal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tier_proposals.id"), unique=True)
    #: Who asked for it; empty when the scheduler did.
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: The zip's file name, `临平新城_2026Q4_分街道名录.zip`; empty until ready.
    file_name: Mapped[str] = mapped_column(sa.String(200), default="")
    #: The street workbooks: [{"street_id", "street", "file", "firms"}], for per-street downloads.
    files: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    #: Why building failed, for the Exports page.
    error: Mapped[str] = mapped_column(sa.Text, default="")
    #: Progress while building: units done of units in all (firm rows for a roster, streets for a pack).
    done: Mapped[int] = mapped_column(default=0, server_default="0")
    #: See `done`; 0 until known.
    total: Mapped[int] = mapped_column(default=0, server_default="0")
    #: How many times building started; a build interrupted (a killed process) is retried up to 3 times.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: When the builder last reported progress; a building export silent for long is taken as dead.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: When asked for.
    created_at: Mapped[Timestamp]
    #: When built (or failed).
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: After this the files are deleted and the row with them.
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)

    requested_by: Mapped[User | None] = relationship()

    @property
    def percent(self) -> int:
        """Progress in whole percent (0 until the total is known)."""
        return min(100, self.done * 100 // self.total) if self.total else 0

    def __repr__(self) -> str:
        return f"<ExportPack {self.id} {self.kind} {self.quarter} {self.status}>"
