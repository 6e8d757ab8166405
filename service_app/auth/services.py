"""Authentication rules: loading users and checking passwords, with every attempt audited and failed
ones counted per account and per address."""

from __future__ import annotations

import datetime as dt
import functools
import hmac

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..audit import record_event, utcnow_iso
from ..extensions import db
from ..models import User
from ..models.types import utcnow
from ..notify import remember_unread_count, unread_count_of
from ..security import MAX_ID
from .limits import Lockout, clear_account_failures, count_failed_login, login_lockout


class SignInRefused(Exception):
    """Sign-in was refused: `reason` says why (for the audit), `lockout` when it is now locked."""

    def __init__(self, reason: str, lockout: Lockout | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lockout = lockout


@functools.cache
def _user_with_streets_and_bell() -> sa.Select[User, int]:
    """The loader's statement, built once: SQLAlchemy then keeps its cache key too, where building it
    again on every request cost about a third of the loader's time."""
    return (
        sa.select(User, unread_count_of(User.id))
        .options(joinedload(User.streets))
        .where(User.id == sa.bindparam("user_id", type_=sa.Integer))
    )


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the active user whose `id:digest` (User.get_id) still matches,
    so sessions and remember cookies from before a password change are refused.

    One query per request: the user, the streets that scope every firm query, and the bell's
    unread count, which every page shows."""
    user_id = session_id.partition(":")[0]
    if not (user_id.isascii() and user_id.isdigit()) or int(user_id) > MAX_ID:
        return None
    row = db.session.execute(_user_with_streets_and_bell(), {"user_id": int(user_id)}).unique().first()
    if row is None:
        return None
    user, unread = row
    if not user.active or not hmac.compare_digest(user.get_id().encode(), session_id.encode()):
        return None
    remember_unread_count(user.id, unread)
    return user


def _refusal_reason(user: User | None, password: str) -> str | None:
    if user is None:
        return "unknown_user"
    if not user.check_password(password):
        return "wrong_password"
    if not user.active:
        return "inactive"
    return None


def authenticate(username: str, password: str, address: str) -> User:
    """The active user with these credentials; otherwise SignInRefused. While the account or the
    address is locked out nothing is checked; every attempt, let in or refused, is audited."""
    user = db.session.scalars(sa.select(User).where(User.username == username)).first()
    audited = {"username": username[:64]}
    lockout = login_lockout(username, address)
    if lockout is not None:
        until = dt.datetime.fromtimestamp(lockout.retry_at, dt.UTC).isoformat(timespec="seconds")
        record_event(
            "auth.login_locked",
            "user",
            user.id if user else None,
            after={**audited, "scope": lockout.scope, "until": until},
            user=user,
        )
        raise SignInRefused(f"locked_{lockout.scope}", lockout)
    reason = _refusal_reason(user, password)
    if reason is not None:
        record_event(
            "auth.login_failed", "user", user.id if user else None, after={**audited, "reason": reason}, user=user
        )
        raise SignInRefused(reason, count_failed_login(username, address))
    assert user is not None
    clear_account_failures(username)
    user.last_login_at = utcnow()
    record_event("auth.login", "user", user.id, after={"at": utcnow_iso()}, user=user)
    return user
