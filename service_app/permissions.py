"""What each role may do; views and services ask here rather than testing roles inline."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from .domain.tiers import Role
from .models import User

#: Fields of a firm a service officer may change (status, contact and notes).
OFFICER_FIRM_FIELDS = frozenset({"status", "contact_name", "contact_phone", "notes"})

F = TypeVar("F", bound=Callable[..., Any])


def can_create_firm(user: User) -> bool:
    """Admins and supervisors add firms to the roster."""
    return user.role in (Role.ADMIN, Role.SUPERVISOR)


def editable_firm_fields(user: User, all_fields: frozenset[str]) -> frozenset[str]:
    """The firm fields this user may change."""
    if user.role in (Role.ADMIN, Role.SUPERVISOR):
        return all_fields
    if user.role == Role.OFFICER:
        return OFFICER_FIRM_FIELDS & all_fields
    return frozenset()


def can_accept_invalid_credit_code(user: User) -> bool:
    """Only an admin may store a code that fails its check character, with a reason."""
    return user.role == Role.ADMIN


def roles_required(*roles: Role) -> Callable[[F], F]:
    """View decorator: signed in and one of the roles, else 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
