"""People who sign in, their role and the streets they cover."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain.tiers import Role
from ..extensions import Model, db
from .places import Street
from .types import Timestamp, enum_column

#: Which streets an officer covers, or the one street a district viewer belongs to.
user_streets = sa.Table(
    "user_streets",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("street_id", sa.ForeignKey("streets.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Model):
    """A person with a role; officers and district viewers are limited to their streets."""

    __tablename__ = "users"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in name, unique, case-sensitive.
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: Name shown in the interface and audit trail.
    display_name: Mapped[str] = mapped_column(sa.String(64), default="")
    #: werkzeug password hash; never the password.
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    #: admin, supervisor, officer or district.
    role: Mapped[Role] = mapped_column(enum_column(Role))
    #: An inactive user cannot sign in; kept for the audit trail.
    active: Mapped[bool] = mapped_column(default=True)
    #: Preferred interface language (zh_CN or en); empty follows the default.
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    #: When the account was made.
    created_at: Mapped[Timestamp]
    #: Last successful sign-in.
    last_login_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Where reminders go by e-mail when SMTP is configured; empty sends none.
    email: Mapped[str | None] = mapped_column(sa.String(254))
    #: sha256 of the secret in the user's private calendar-feed URL; empty when revoked.
    calendar_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    streets: Mapped[list[Street]] = relationship(secondary=user_streets, order_by=Street.id)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        """Flask-Login's id for sessions and remember cookies: `id:digest`, where the digest
        comes from the password hash, so a new password signs every earlier session out."""
        digest = hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:16]
        return f"{self.id}:{digest}"

    @property
    def sees_all_streets(self) -> bool:
        """Admins and supervisors see every street; officers and district viewers their own."""
        return self.role in (Role.ADMIN, Role.SUPERVISOR)

    @property
    def label(self) -> str:
        """How the user is named on pages."""
        return self.display_name or self.username

    def set_password(self, password: str, method: str | None = None) -> None:
        """Hash and store a password (werkzeug's default method unless one is given)."""
        if method:
            self.password_hash = generate_password_hash(password, method=method)
        else:
            self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when the password matches."""
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"
