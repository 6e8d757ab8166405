"""User administration rules, shared by the admin pages and the CLI."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..audit import record_event
from ..domain.tiers import Role
from ..extensions import db
from ..models import Street, User

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


def check_user_rules(role: Role, streets: list[Street]) -> None:
    """District viewers belong to exactly one street; officers cover at least one."""
    if role == Role.DISTRICT and len(streets) != 1:
        raise UserError(_("A street office viewer belongs to exactly one street."))
    if role == Role.OFFICER and not streets:
        raise UserError(_("A service officer must cover at least one street."))


def check_password_strength(password: str) -> None:
    """At least eight characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(_("The password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))


def _user_state(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "active": user.active,
        "streets": [s.name for s in user.streets],
    }


def create_user(
    username: str, password: str, role: Role, streets: list[Street], display_name: str = "", actor: User | None = None
) -> User:
    """Add a user; flushes, the caller commits."""
    if not USERNAME_PATTERN.match(username):
        raise UserError(_("A username has 2-64 letters, digits, '.', '_' or '-'."))
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise UserError(_("The username %(name)s is taken.", name=username))
    check_user_rules(role, streets)
    check_password_strength(password)
    user = User(username=username, role=role, display_name=display_name, streets=list(streets))
    user.set_password(password, current_app.config.get("PASSWORD_HASH_METHOD"))
    db.session.add(user)
    db.session.flush()
    record_event("user.create", "user", user.id, after=_user_state(user), user=actor)
    return user


def update_user(
    user: User,
    *,
    role: Role,
    streets: list[Street],
    display_name: str,
    active: bool,
    password: str | None,
    actor: User,
) -> User:
    """Change a user's role, streets, name, active flag or password; an admin cannot lock itself out."""
    check_user_rules(role, streets)
    if user.id == actor.id and (role != Role.ADMIN or not active):
        raise UserError(_("You cannot remove your own administrator role or disable yourself."))
    before = _user_state(user)
    user.role, user.streets, user.display_name, user.active = role, list(streets), display_name, active
    if password:
        check_password_strength(password)
        user.set_password(password, current_app.config.get("PASSWORD_HASH_METHOD"))
    after = _user_state(user)
    if password:
        after["password"] = "changed"  # noqa: S105 - a marker, not a password
    record_event("user.update", "user", user.id, before=before, after=after, user=actor)
    return user


def streets_by_name(names: list[str]) -> list[Street]:
    """Streets by exact name; raises UserError naming any that do not exist."""
    streets = list(db.session.scalars(sa.select(Street).where(Street.name.in_(names))))
    missing = sorted(set(names) - {s.name for s in streets})
    if missing:
        raise UserError(_("No such street: %(names)s.", names="、".join(missing)))
    return streets
