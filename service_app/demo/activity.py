"""The demo's activity beside the roster, so the dashboard and the buildings pages have something
to show: service officers, the quarter before's tiers, firms' requests at every step, and the
platform's targets. Keyed like the roster (officers by username, tiers by firm and quarter,
requests by firm and description, targets by year and indicator): a second load adds nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..domain.followups import RequestCategory, RequestStatus, Satisfaction, Urgency, request_deadline
from ..domain.indicators import IndicatorMetric
from ..domain.quarters import quarter_key
from ..domain.tiers import AssignmentMethod, Role, Tier
from ..domain.workdays import CHINA
from ..extensions import db
from ..firm_requests.services import limits
from ..followups.services import work_calendar
from ..models import FirmRequest, IndicatorTarget, RequestStep, Street, TierAssignment, User
from .services import DemoDataError, _rows

#: Reasons recorded on the demo's earlier tier assignments.
HISTORY_REASONS = [{"code": "demo", "text": "演示数据：上季度分层"}]
#: The lifecycle in order, for the steps a demo request has been through.
LIFECYCLE = list(RequestStatus)


def _lookup(ids: dict[str, int], path: Path, line: int, kind: str, key: str) -> int:
    if key not in ids:
        raise DemoDataError(f"{path.name}:{line}: unknown {kind} {key!r}")
    return ids[key]


def load_officers(seed_dir: Path, street_ids: dict[str, int]) -> tuple[dict[str, list[int]], int]:
    """The demo officers by street name (creating the missing ones, inactive, with a password nobody
    knows: an admin activates one and sets its password), and how many were created."""
    path = seed_dir / "officers.csv"
    if not path.is_file():
        return {}, 0
    existing = {u.username: u for u in db.session.scalars(sa.select(User))}
    by_street: dict[str, list[int]] = {}
    created = 0
    unknown = ""  # one hash of a random password for them all: hashing is slow by design
    for line, row in _rows(path):
        street_id = _lookup(street_ids, path, line, "street", row["street"])
        user = existing.get(row["username"])
        if user is None:
            user = User(username=row["username"], display_name=row["display_name"], role=Role.OFFICER, active=False)
            if not unknown:
                user.set_password(secrets.token_urlsafe(24), current_app.config.get("PASSWORD_HASH_METHOD"))
                unknown = user.password_hash
            user.password_hash = unknown
            user.streets = [db.session.get_one(Street, street_id)]
            db.session.add(user)
            db.session.flush()
            created += 1
        by_street.setdefault(row["street"], []).append(user.id)
    return by_street, created


def officer_for(officers: dict[str, list[int]], street: str, credit_code: str) -> int | None:
    """The demo officer who looks after a firm: one of its street's, the same on every load."""
    choices = officers.get(street)
    if not choices:
        return None
    return choices[zlib.crc32(credit_code.encode()) % len(choices)]


def load_tier_history(seed_dir: Path, firm_ids: dict[str, int], now: dt.datetime) -> int:
    """Earlier quarters' tiers (the current tier stays the latest quarter's)."""
    path = seed_dir / "tier_history.csv"
    if not path.is_file():
        return 0
    existing = {tuple(row) for row in db.session.execute(sa.select(TierAssignment.firm_id, TierAssignment.quarter))}
    new = []
    for line, row in _rows(path):
        key = (_lookup(firm_ids, path, line, "firm", row["credit_code"]), quarter_key(row["quarter"]))
        if key in existing:
            continue
        existing.add(key)
        new.append(
            {
                "firm_id": key[0],
                "quarter": key[1],
                "tier": Tier(row["tier"]),
                "score": None,
                "reasons": [dict(reason) for reason in HISTORY_REASONS],
                "method": AssignmentMethod.IMPORT,
                "decided_by_id": None,
                "created_at": now,
            }
        )
    if new:
        db.session.execute(sa.insert(TierAssignment), new)
    return len(new)


def _at(day: dt.date) -> dt.datetime:
    """Half past nine on a day in Beijing, as a UTC timestamp."""
    return dt.datetime.combine(day, dt.time(9, 30), CHINA).astimezone(dt.UTC)


def _request(row: dict[str, str], firm_id: int, officer: int | None, today: dt.date, deadlines: Any) -> FirmRequest:
    """One demo request with the steps its status implies, dated back from today."""
    received = today - dt.timedelta(days=int(row["received_days_ago"]))
    status = RequestStatus(row["status"])
    category = RequestCategory(row["category"])
    resolved_after = int(row["resolved_after_days"]) if row["resolved_after_days"] else None
    request = FirmRequest(
        firm_id=firm_id,
        category=category,
        description=row["description"],
        urgency=Urgency(row["urgency"]),
        owner_department=row["department"],
        owner_id=officer if status is not RequestStatus.RECEIVED else None,
        status=status,
        received_on=received,
        deadline=deadlines(received, category),
        resolution=row["resolution"] or None,
        satisfaction=Satisfaction(row["satisfaction"]) if row["satisfaction"] else None,
        created_by_id=officer,
        created_at=_at(received),
    )
    offsets = {RequestStatus.RECEIVED: 0, RequestStatus.ASSIGNED: 1, RequestStatus.IN_PROGRESS: 2}
    if resolved_after is not None:
        offsets |= {
            RequestStatus.RESOLVED: resolved_after,
            RequestStatus.REVISITED: resolved_after + 2,
            RequestStatus.CLOSED: resolved_after + 3,
        }
    notes = {RequestStatus.ASSIGNED: row["department"], RequestStatus.RESOLVED: row["resolution"]}
    for step in LIFECYCLE[: LIFECYCLE.index(status) + 1]:
        when = _at(received + dt.timedelta(days=min(offsets[step], (today - received).days)))
        request.steps.append(RequestStep(status=step, user_id=officer, note=notes.get(step, ""), created_at=when))
        if step is RequestStatus.CLOSED:
            request.closed_at = when
    return request


def load_requests(seed_dir: Path, firm_ids: dict[str, int], officer_of: dict[int, int | None], today: dt.date) -> int:
    """Firms' requests at every step of the lifecycle, received some days before today."""
    path = seed_dir / "requests.csv"
    if not path.is_file():
        return 0
    existing = {tuple(row) for row in db.session.execute(sa.select(FirmRequest.firm_id, FirmRequest.description))}
    calendar, days = work_calendar(), limits()

    def deadline(received: dt.date, category: RequestCategory) -> dt.date:
        return request_deadline(received, days[category], calendar)

    added = 0
    for line, row in _rows(path):
        firm_id = _lookup(firm_ids, path, line, "firm", row["credit_code"])
        if (firm_id, row["description"]) in existing:
            continue
        existing.add((firm_id, row["description"]))
        db.session.add(_request(row, firm_id, officer_of.get(firm_id), today, deadline))
        added += 1
    db.session.flush()
    return added


def load_targets(seed_dir: Path) -> int:
    """The platform's indicator targets."""
    path = seed_dir / "targets.csv"
    if not path.is_file():
        return 0
    existing = {tuple(row) for row in db.session.execute(sa.select(IndicatorTarget.year, IndicatorTarget.metric))}
    added = 0
    for _line, row in _rows(path):
        key = (int(row["year"]), IndicatorMetric(row["metric"]))
        if key in existing:
            continue
        existing.add(key)
        db.session.add(
            IndicatorTarget(year=key[0], metric=key[1], name=row["name"], threshold=Decimal(row["threshold"]))
        )
        added += 1
    db.session.flush()
    return added
