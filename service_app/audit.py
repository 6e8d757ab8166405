"""Recording audit events; every write calls record_event in the same transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEvent, User


def to_json_value(value: Any) -> Any:
    """A value as JSON can hold it: decimals and dates as text, enums as their value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def utcnow_iso() -> str:
    """Now in UTC as ISO text, for audit payloads."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def snapshot(obj: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of an object, JSON-ready."""
    return {name: to_json_value(getattr(obj, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, as (before, after)."""
    changed = [key for key in after if before.get(key) != after.get(key)]
    return {k: before.get(k) for k in changed}, {k: after.get(k) for k in changed}


def _acting_user(user: User | None) -> User | None:
    if user is not None:
        return user
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[attr-defined]
    return None


def _source_address() -> str:
    if has_request_context():
        return (request.remote_addr or "")[:64]
    return "cli"


def record_event(
    action: str,
    object_type: str,
    object_id: object = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    user: User | None = None,
) -> AuditEvent:
    """Add an audit event to the session (the caller's transaction commits it)."""
    actor = _acting_user(user)
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before,
        after=after,
        user_id=actor.id if actor else None,
        source_address=_source_address(),
    )
    db.session.add(event)
    return event
