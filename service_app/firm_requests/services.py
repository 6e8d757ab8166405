"""Firms' requests (诉求): raising, the 受理 → 交办 → 办理 → 办结 → 回访 → 关闭 lifecycle,
working-day deadlines and escalation of overdue ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..audit import record_event
from ..domain.followups import (
    DEFAULT_LIMIT_DAYS,
    UNRESOLVED,
    IllegalStep,
    RequestCategory,
    RequestStatus,
    Satisfaction,
    Urgency,
    check_step,
    request_deadline,
)
from ..domain.workdays import WorkCalendar
from ..extensions import db
from ..followups.services import work_calendar
from ..models import Firm, FirmRequest, RequestCategoryLimit, RequestStep, User, Visit
from ..models.types import utcnow

REQUESTS: sa.Table = FirmRequest.__table__  # type: ignore[assignment]

#: Why a step was refused, for the user.
STEP_MESSAGES = {
    "order": _l(
        "That step is not allowed now: a request goes 受理 → 交办 → 办理 → 办结 → 回访 → 关闭, one step at a time."
    ),
    "owner": _l("Name the department or officer the request is assigned to."),
    "resolution": _l("Write how the request was resolved before resolving or closing it."),
    "satisfaction": _l("Record the firm's satisfaction at the follow-up call."),
}


class RequestError(ValueError):
    """A request action refused, with a message for the user."""


def limits() -> dict[RequestCategory, int]:
    """Working days allowed per category, as the admin set them."""
    stored = {row.category: row.limit_days for row in db.session.scalars(sa.select(RequestCategoryLimit))}
    return {category: stored.get(category, days) for category, days in DEFAULT_LIMIT_DAYS.items()}


def raise_request(
    firm: Firm,
    user: User,
    *,
    category: RequestCategory,
    description: str,
    urgency: Urgency = Urgency.NORMAL,
    received_on: dt.date,
    visit: Visit | None = None,
    calendar: WorkCalendar | None = None,
) -> FirmRequest:
    """Record a request (受理): its deadline is the category's limit in working days."""
    if not description.strip():
        raise RequestError(str(_l("Describe what the firm asks for.")))
    deadline = request_deadline(received_on, limits()[category], calendar or work_calendar())
    request = FirmRequest(
        firm_id=firm.id,
        visit_id=visit.id if visit else None,
        category=category,
        description=description.strip(),
        urgency=urgency,
        received_on=received_on,
        deadline=deadline,
        created_by_id=user.id,
        status=RequestStatus.RECEIVED,
    )
    request.steps.append(RequestStep(status=RequestStatus.RECEIVED, user_id=user.id, note=""))
    db.session.add(request)
    db.session.flush()
    record_event(
        "request.raise",
        "firm",
        firm.id,
        after={"request": request.id, "category": category.value, "deadline": deadline.isoformat()},
        user=user,
    )
    return request


def advance(
    request: FirmRequest,
    target: RequestStatus,
    user: User,
    *,
    owner_department: str = "",
    owner: User | None = None,
    note: str = "",
    resolution: str = "",
    satisfaction: Satisfaction | None = None,
) -> None:
    """Move a request one step on, recording time and person; an illegal jump is refused."""
    owner_text = owner_department.strip() or (owner.label if owner else "")
    resolution_text = resolution.strip() or (request.resolution or "")
    try:
        check_step(request.status, target, owner=owner_text, resolution=resolution_text, satisfaction=satisfaction)
    except IllegalStep as refused:
        raise RequestError(str(STEP_MESSAGES[refused.reason])) from None
    before = request.status
    detail = note.strip()
    if target is RequestStatus.ASSIGNED:
        request.owner_department = owner_department.strip()
        request.owner_id = owner.id if owner else None
        detail = " · ".join(part for part in (owner_text, detail) if part)
    elif target is RequestStatus.RESOLVED:
        request.resolution = resolution_text
        detail = resolution_text
    elif target is RequestStatus.REVISITED:
        request.satisfaction = satisfaction
    elif target is RequestStatus.CLOSED:
        request.closed_at = utcnow()
    request.status = target
    request.steps.append(RequestStep(status=target, user_id=user.id, note=detail))
    record_event(
        "request.step",
        "firm",
        request.firm_id,
        before={"status": before.value},
        after={"request": request.id, "status": target.value},
        user=user,
    )


def escalate_overdue(today: dt.date) -> int:
    """Mark unresolved requests past their deadline as escalated to supervisors (once each)."""
    result: Any = db.session.execute(
        sa.update(REQUESTS)
        .where(
            REQUESTS.c.status.in_([s.value for s in UNRESOLVED]),
            REQUESTS.c.deadline < today,
            REQUESTS.c.escalated_at.is_(None),
        )
        .values(escalated_at=utcnow())
    )
    return int(result.rowcount)


def overdue_clause(today: dt.date) -> sa.ColumnElement[bool]:
    """WHERE for requests still unresolved after their deadline."""
    return sa.and_(FirmRequest.status.in_(UNRESOLVED), FirmRequest.deadline < today)
