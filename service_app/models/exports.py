"""Export packs: one workbook per street for a quarter, built in the background and kept 30 days."""

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


class ExportPack(Model):
    """A quarter's roster pack (分街道名录): a zip and the street workbooks inside it, on disk."""

    __tablename__ = "export_packs"

    #: Surrogate key; also the folder the files live in (instance/exports/<id>/).
    id: Mapped[int] = mapped_column(primary_key=True)
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
    #: When asked for.
    created_at: Mapped[Timestamp]
    #: When built (or failed).
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: After this the files are deleted and the row with them.
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)

    requested_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ExportPack {self.id} {self.quarter} {self.status}>"
