"""Authentication rules: loading users and checking passwords, with every attempt audited."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..audit import record_event, utcnow_iso
from ..extensions import db
from ..models import User
from ..models.types import utcnow
from ..notify import remember_unread_count, unread_count_of
from ..security import MAX_ID


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the active user whose `id:digest` (User.get_id) still matches,
    so sessions and remember cookies from before a password change are refused.

    One query per request: the user, the streets that scope every firm query, and the bell's
    unread count, which every page shows."""
    user_id = session_id.partition(":")[0]
    if not (user_id.isascii() and user_id.isdigit()) or int(user_id) > MAX_ID:
        return None
    row = (
        db.session.execute(
            sa.select(User, unread_count_of(User.id)).options(joinedload(User.streets)).where(User.id == int(user_id))
        )
        .unique()
        .first()
    )
    if row is None:
        return None
    user, unread = row
    if not user.active or not hmac.compare_digest(user.get_id().encode(), session_id.encode()):
        return None
    remember_unread_count(user.id, unread)
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None; records the attempt either way."""
    user = db.session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None or not user.active or not user.check_password(password):
        record_event(
            "auth.login_failed", "user", user.id if user else None, after={"username": username[:64]}, user=user
        )
        return None
    user.last_login_at = utcnow()
    record_event("auth.login", "user", user.id, after={"at": utcnow_iso()}, user=user)
    return user
