"""The daily sweep (07:30 Asia/Shanghai, and `flask followups sweep`): creates missing
follow-ups, marks overdue ones, escalates overdue requests, tells officers and supervisors.

One transaction; idempotent — a second run, or two at once, creates nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa

from ..database import begin_writing
from ..domain.followups import UNRESOLVED, FollowupStatus
from ..domain.tiers import Role
from ..domain.workdays import china_today
from ..extensions import db
from ..firm_requests.services import escalate_overdue
from ..models import FirmRequest, Followup, User
from ..notify import Note, send_mail, write
from .services import mark_overdue, schedule_followups

log = logging.getLogger(__name__)


def _notes(today: dt.date) -> list[Note]:
    notes = []
    due = db.session.execute(
        sa.select(
            Followup.officer_id,
            sa.func.count().filter(Followup.due_date < today).label("overdue"),
            sa.func.count().filter(Followup.due_date == today).label("today"),
        )
        .where(Followup.status == FollowupStatus.OPEN, Followup.officer_id.is_not(None), Followup.due_date <= today)
        .group_by(Followup.officer_id)
    ).all()
    for row in due:
        if row.overdue:
            notes.append(
                Note(
                    row.officer_id,
                    "user",
                    str(row.officer_id),
                    "followups.overdue",
                    f"您有 {row.overdue} 项走访已逾期",
                    "/followups/?view=overdue",
                )
            )
        if row.today:
            notes.append(
                Note(
                    row.officer_id,
                    "user",
                    str(row.officer_id),
                    "followups.today",
                    f"今天有 {row.today} 项走访到期",
                    "/followups/?view=week",
                )
            )
    late = sa.and_(FirmRequest.status.in_(UNRESOLVED), FirmRequest.deadline < today)
    owned = db.session.execute(
        sa.select(FirmRequest.owner_id, sa.func.count())
        .where(late, FirmRequest.owner_id.is_not(None))
        .group_by(FirmRequest.owner_id)
    ).all()
    for owner_id, count in owned:
        if owner_id is None:
            continue
        notes.append(
            Note(
                owner_id,
                "user",
                str(owner_id),
                "requests.overdue",
                f"您负责的 {count} 项企业诉求已超期",
                "/requests/?overdue=1&mine=1",
            )
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(FirmRequest).where(late)) or 0
    if total:
        for user_id in db.session.scalars(
            sa.select(User.id).where(User.role.in_((Role.SUPERVISOR, Role.ADMIN)), User.active.is_(True))
        ):
            notes.append(
                Note(
                    user_id,
                    "user",
                    str(user_id),
                    "requests.escalated",
                    f"{total} 项企业诉求已超期，请督办",
                    "/requests/?overdue=1",
                )
            )
    return notes


def daily_sweep(today: dt.date | None = None) -> dict[str, Any]:
    """Run the sweep for `today` (Shanghai's date by default) and commit; returns its counts."""
    today = today or china_today()
    begin_writing()
    counts = schedule_followups(today)
    overdue = mark_overdue(today)
    escalated = escalate_overdue(today)
    new_notes = write(_notes(today), today)
    db.session.commit()
    mailed = send_mail(new_notes)
    result = {
        "day": today.isoformat(),
        "created": counts.created,
        "rescheduled": counts.rescheduled,
        "cancelled": counts.cancelled,
        "marked_overdue": overdue,
        "escalated_requests": escalated,
        "notifications": len(new_notes),
        "emails": mailed,
    }
    log.info("daily sweep %s", result)
    return result
