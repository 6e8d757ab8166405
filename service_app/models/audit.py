"""The audit trail: every write records who did what to which object, before and after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import Timestamp

if TYPE_CHECKING:
    from .users import User


class AuditEvent(Model):
    """One recorded write."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: When it happened (UTC).
    created_at: Mapped[Timestamp] = mapped_column(index=True)
    #: Who did it; empty for the system (CLI without a user, scheduler).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: What was done, `firm.update`, `user.create`, `auth.login`, ….
    action: Mapped[str] = mapped_column(sa.String(64))
    #: The kind of object, `firm`, `user`, ….
    object_type: Mapped[str] = mapped_column(sa.String(32))
    #: The object's key, as text.
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: Changed fields before the write (only the changed ones, for updates).
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: Changed fields after the write.
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: Client address (from the request), or `cli`.
    source_address: Mapped[str | None] = mapped_column(sa.String(64))

    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} {self.object_type}:{self.object_id}>"
