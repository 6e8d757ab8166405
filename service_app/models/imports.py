"""Roster imports: each upload is a batch, its uploaded bytes, the firms it touched, and
remembered column mappings."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from ..extensions import Model
from .types import Timestamp, enum_column

if TYPE_CHECKING:
    from .users import User


class ImportStatus(StrEnum):
    """Where a batch is in its life."""

    PREVIEWED = "previewed"  # uploaded and checked, waiting for confirmation
    APPLYING = "applying"  # confirmed and being written; left so only by a process that died
    APPLIED = "applied"
    FAILED = "failed"  # could not be applied (invalid rows, or an error while writing)
    UNDONE = "undone"
    DISCARDED = "discarded"


class ImportMode(StrEnum):
    """How rows are matched to firms by credit code."""

    UPSERT = "upsert"
    CREATE = "create"  # create-only: an existing credit code is an error
    UPDATE = "update"  # update-only: an unknown credit code is an error


class ItemAction(StrEnum):
    """What an import did to one firm."""

    CREATED = "created"
    UPDATED = "updated"


class ImportBatch(Model):
    """One uploaded roster file and what became of it."""

    __tablename__ = "import_batches"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The name the file was uploaded under (display only; never used as a path).
    file_name: Mapped[str] = mapped_column(sa.String(255))
    #: sha256 of the bytes: the same file twice within a minute makes one batch.
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    #: Format detected from the bytes: xlsx, xls, ods, xlsb or csv.
    file_format: Mapped[str] = mapped_column(sa.String(8), default="")
    #: Who uploaded it; empty for the command line.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: upsert, create or update.
    mode: Mapped[ImportMode] = mapped_column(enum_column(ImportMode), default=ImportMode.UPSERT)
    #: Empty cells clear stored values (else they leave them alone).
    overwrite_blanks: Mapped[bool] = mapped_column(default=False)
    #: Import the valid rows and list the invalid ones as skipped.
    skip_invalid: Mapped[bool] = mapped_column(default=False)
    #: Quarter for metric rows without a quarter column.
    default_quarter: Mapped[str | None] = mapped_column(sa.String(6))
    #: Column index → field name, as confirmed by the user.
    mapping: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: previewed, applied, failed, undone or discarded.
    status: Mapped[ImportStatus] = mapped_column(enum_column(ImportStatus), default=ImportStatus.PREVIEWED, index=True)
    #: Rows in the file (data rows under the header).
    total_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    #: The row errors, [{"row", "column", "value", "message"}], kept for the report.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    #: Why a failed batch failed, for the person who uploaded it.
    failure: Mapped[str | None] = mapped_column(sa.Text)
    #: While applying: the process writing it, `host:pid`, so a batch whose process died is told apart.
    applying_owner: Mapped[str | None] = mapped_column(sa.String(100))
    #: When it was uploaded.
    created_at: Mapped[Timestamp] = mapped_column(index=True)
    #: When it was applied.
    applied_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: When it was undone.
    undone_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User | None] = relationship()
    upload: Mapped[ImportUpload | None] = relationship(cascade="all, delete-orphan", uselist=False)

    def __repr__(self) -> str:
        return f"<ImportBatch {self.id} {self.file_name} {self.status}>"


class ImportUpload(Model):
    """The uploaded bytes, kept apart so listing batches never loads them."""

    __tablename__ = "import_uploads"

    #: The batch the bytes belong to.
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True)
    #: The file as uploaded.
    data: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary))


class ImportItem(Model):
    """One firm an applied batch created or changed, with what it was before (for undo)."""

    __tablename__ = "import_items"
    __table_args__ = (sa.Index("ix_import_items_batch_firm", "batch_id", "firm_id"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The batch.
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("import_batches.id", ondelete="CASCADE"))
    #: The firm (no foreign key: undo of a creation deletes it).
    firm_id: Mapped[int] = mapped_column(index=True)
    #: The Excel row it came from.
    row_number: Mapped[int]
    #: created or updated.
    action: Mapped[ItemAction] = mapped_column(enum_column(ItemAction))
    #: Changed firm fields before the import; empty for a created firm.
    firm_before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: The firm's version after the import: undo refuses when it has moved since.
    version_after: Mapped[int]
    #: For each quarter whose metric row it wrote: that row before (null: it did not exist).
    metrics_before: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: For each quarter whose metric row it wrote: that row after; undo refuses when it has changed since.
    metrics_after: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class ImportMapping(Model):
    """The last confirmed column mapping for a set of headers."""

    __tablename__ = "import_mappings"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha1 of the normalised header row.
    signature: Mapped[str] = mapped_column(sa.String(40), unique=True)
    #: The headers as they appeared, for display.
    headers: Mapped[list[str]] = mapped_column(sa.JSON)
    #: Column index (as text) → field name.
    mapping: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    #: Who confirmed it last.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When.
    updated_at: Mapped[Timestamp]
