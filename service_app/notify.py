"""In-app notifications (the bell) and, when SMTP is configured, the same by e-mail.

A notification is keyed by user, object, kind and day: writing one that exists does nothing, so
a job run twice, or by two processes at once, tells nobody twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import Notification, User
from .models.types import utcnow

log = logging.getLogger(__name__)
NOTIFICATIONS: sa.Table = Notification.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Note:
    """A notification to write."""

    user_id: int
    object_type: str
    object_id: str
    kind: str
    message: str
    link: str = ""


def write(notes: Sequence[Note], day: dt.date) -> list[Note]:
    """Write notifications, skipping any that exist for that day; returns the new ones."""
    if not notes:
        return []
    _forget_unread_counts()
    connection = db.session.connection()
    insert: Any = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    statement = (
        insert(NOTIFICATIONS)
        .on_conflict_do_nothing()
        .returning(
            NOTIFICATIONS.c.user_id, NOTIFICATIONS.c.object_type, NOTIFICATIONS.c.object_id, NOTIFICATIONS.c.kind
        )
    )
    made: set[tuple[int, str, str, str]] = set()
    for note in notes:
        row = db.session.execute(
            statement.values(
                user_id=note.user_id,
                object_type=note.object_type,
                object_id=note.object_id,
                kind=note.kind,
                day=day,
                message=note.message,
                link=note.link,
                created_at=now,
            )
        ).first()
        if row is not None:
            made.add(tuple(row))  # type: ignore[arg-type]
    return [n for n in notes if (n.user_id, n.object_type, n.object_id, n.kind) in made]


def unread_count_of(user_id: Any) -> sa.ScalarSelect[int]:
    """The bell's count as a subquery, so the user loader fetches it with the user."""
    return (
        sa.select(sa.func.count())
        .where(NOTIFICATIONS.c.user_id == user_id, NOTIFICATIONS.c.read_at.is_(None))
        .scalar_subquery()
    )


def remember_unread_count(user_id: int, count: int) -> None:
    """Keep a count read with the user for this request's bell (see `unread_count`)."""
    if has_app_context():
        g.setdefault("_unread_notifications", {})[user_id] = count


def _forget_unread_counts() -> None:
    if has_app_context():
        g.pop("_unread_notifications", None)


def unread_count(user: User) -> int:
    """Unread notifications of a user (the bell's badge): the count the user loader read in
    this request, unless this request has since written or read notifications."""
    known = g.get("_unread_notifications", {}) if has_app_context() else {}
    if user.id in known:
        return int(known[user.id])
    return db.session.scalar(sa.select(unread_count_of(user.id))) or 0


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one (or every) unread notification of the user read."""
    query = sa.update(NOTIFICATIONS).where(NOTIFICATIONS.c.user_id == user.id, NOTIFICATIONS.c.read_at.is_(None))
    if notification_id is not None:
        query = query.where(NOTIFICATIONS.c.id == notification_id)
    result: Any = db.session.execute(query.values(read_at=utcnow()))
    _forget_unread_counts()
    return int(result.rowcount)


def send_mail(notes: Sequence[Note]) -> int:
    """E-mail new notifications to users with an address, when MAIL_SERVER is set. Runs after
    the transaction committed; a mail server that is down is logged, never fatal."""
    config = current_app.config
    if not config.get("MAIL_SERVER") or not notes:
        return 0
    users = {
        user.id: user
        for user in db.session.scalars(sa.select(User).where(User.id.in_({n.user_id for n in notes})))
        if user.email and user.active
    }
    messages = []
    for note in notes:
        user = users.get(note.user_id)
        if user is None or not user.email:
            continue
        message = EmailMessage()
        message["From"] = config["MAIL_SENDER"]
        message["To"] = user.email
        message["Subject"] = f"{config['PLATFORM_NAME']} · {note.message}"[:200]
        link = f"{config['PUBLIC_URL'].rstrip('/')}{note.link}" if note.link else ""
        message.set_content(f"{user.label}：\n\n{note.message}\n{link}\n")
        messages.append(message)
    if not messages:
        return 0
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            for message in messages:
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send %d reminder e-mails", len(messages))
        return 0
    return len(messages)
