"""In-app notifications (the bell): one per user, object, kind and day, so jobs never repeat them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import Timestamp


class Notification(Model):
    """A message for one user about one object."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "object_type", "object_id", "kind", "day"),
        # The bell's count on every page: a user's unread ones only, however many were read.
        sa.Index(
            "ix_notifications_unread",
            "user_id",
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        ),
    )

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Who it is for.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: What it is about, `proposal`, `followup`, ….
    object_type: Mapped[str] = mapped_column(sa.String(32))
    #: The object's key.
    object_id: Mapped[str] = mapped_column(sa.String(64))
    #: What happened, `proposal.ready`, ….
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: The day it concerns (Asia/Shanghai), part of the key that stops repeats.
    day: Mapped[dt.date]
    #: The text shown.
    message: Mapped[str] = mapped_column(sa.String(500))
    #: Where the bell links to.
    link: Mapped[str] = mapped_column(sa.String(200), default="")
    #: When it was made.
    created_at: Mapped[Timestamp]
    #: When the user read it; empty while unread.
    read_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
