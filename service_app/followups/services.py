"""Follow-ups: scheduling by tier cadence, visits, rescheduling, reassignment, and the daily sweep.

Every function works in the caller's transaction (one per request, command or job); the bulk
steps run as a handful of set-based statements so 30,000 firms are scheduled in seconds, and
are safe to run twice, or from two processes at once: one open follow-up per firm is a unique
index and inserts skip rows that already exist.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.sql.base import ExecutableOption

from ..audit import record_event
from ..bulk import collector_paused, insert_rows
from ..domain.followups import DEFAULT_CADENCE_DAYS, ExitCheck, FollowupStatus, VisitKind, due_date
from ..domain.quarters import Quarter
from ..domain.tiers import FirmStatus, Role, Tier
from ..domain.workdays import WorkCalendar, calendar_knows
from ..extensions import db
from ..models import (
    CalendarDay,
    ExitChecklistItem,
    Firm,
    Followup,
    TierAssignment,
    TierCadence,
    User,
    Visit,
)
from ..models.types import utcnow

FOLLOWUPS: sa.Table = Followup.__table__  # type: ignore[assignment]
FIRMS: sa.Table = Firm.__table__  # type: ignore[assignment]
VISITS: sa.Table = Visit.__table__  # type: ignore[assignment]
ASSIGNMENTS: sa.Table = TierAssignment.__table__  # type: ignore[assignment]
OPEN = FollowupStatus.OPEN.value
NEW_FOLLOWUP_COLUMNS = ("firm_id", "officer_id", "tier", "base_date", "due_date", "status", "created_at", "version")


class FollowupError(ValueError):
    """A follow-up action refused, with a message for the user."""


def work_calendar() -> WorkCalendar:
    """Chinese working days with the admin's holiday table on top."""
    rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.is_workday)).all()
    return WorkCalendar(
        holidays=(row.day for row in rows if not row.is_workday),
        workdays=(row.day for row in rows if row.is_workday),
    )


def calendar_is_guessed(day: dt.date) -> bool:
    """WorkCalendar.is_guessed, reading the holiday table only for a year chinese-calendar lacks."""
    return not calendar_knows(day.year) and work_calendar().is_guessed(day)


def cadences() -> dict[Tier, int]:
    """Days between visits per tier, as the admin set them."""
    stored = {row.tier: row.days for row in db.session.scalars(sa.select(TierCadence))}
    return {tier: stored.get(tier, days) for tier, days in DEFAULT_CADENCE_DAYS.items()}


@dataclass
class ScheduleCounts:
    """What a scheduling pass did."""

    created: int = 0
    rescheduled: int = 0
    cancelled: int = 0


def _quarter_start(key: str | None, cache: dict[str | None, dt.date | None]) -> dt.date | None:
    if key not in cache:
        cache[key] = Quarter.parse(key).first_day if key else None
    return cache[key]


def _bases(firm_filter: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Per firm: its last visit and the quarter its latest tier assignment is for."""
    last_visit = sa.select(sa.func.max(VISITS.c.visited_on)).where(VISITS.c.firm_id == FIRMS.c.id).scalar_subquery()
    tier_quarter = (
        sa.select(sa.func.max(ASSIGNMENTS.c.quarter)).where(ASSIGNMENTS.c.firm_id == FIRMS.c.id).scalar_subquery()
    )
    return sa.select(
        FIRMS.c.id, FIRMS.c.officer_id, FIRMS.c.current_tier, last_visit.label("last_visit"), tier_quarter.label("q")
    ).where(firm_filter)


def schedule_followups(
    today: dt.date, firm_ids: Sequence[int] | None = None, *, calendar: WorkCalendar | None = None
) -> ScheduleCounts:
    """Bring open follow-ups in line with firms' tiers: cancel those of firms that left the
    roster or lost their tier, reschedule those whose firm changed tier (by the new cadence),
    and create the missing ones. Counted from the last visit, or from the start of the tier
    (the first day of its quarter), moved to a working day. Limited to `firm_ids` when given."""
    with collector_paused():
        return _schedule(today, firm_ids, calendar or work_calendar())


def _schedule(today: dt.date, firm_ids: Sequence[int] | None, calendar: WorkCalendar) -> ScheduleCounts:
    """schedule_followups' three passes: cancel, reschedule, create."""
    days = cadences()
    counts = ScheduleCounts()
    now = utcnow()
    limit = FIRMS.c.id.in_(firm_ids) if firm_ids is not None else sa.true()
    followup_limit = FOLLOWUPS.c.firm_id.in_(firm_ids) if firm_ids is not None else sa.true()

    gone = sa.select(FIRMS.c.id).where(
        limit, sa.or_(FIRMS.c.status != FirmStatus.ACTIVE.value, FIRMS.c.current_tier.is_(None))
    )
    result: Any = db.session.execute(
        sa.update(FOLLOWUPS)
        .where(FOLLOWUPS.c.status == OPEN, followup_limit, FOLLOWUPS.c.firm_id.in_(gone))
        .values(status=FollowupStatus.CANCELLED.value, closed_at=now, version=FOLLOWUPS.c.version + 1)
    )
    counts.cancelled = result.rowcount

    starts: dict[str | None, dt.date | None] = {}
    changed = db.session.execute(
        _bases(limit)
        .add_columns(FOLLOWUPS.c.id.label("followup_id"))
        .join(FOLLOWUPS, sa.and_(FOLLOWUPS.c.firm_id == FIRMS.c.id, FOLLOWUPS.c.status == OPEN))
        .where(FIRMS.c.current_tier.is_not(None), FOLLOWUPS.c.tier != FIRMS.c.current_tier)
    ).all()
    updates = []
    for row in changed:
        base = row.last_visit or _quarter_start(row.q, starts) or today
        due = due_date(base, days[Tier(row.current_tier)], calendar)
        updates.append({"i": row.followup_id, "t": row.current_tier, "b": base, "d": due})
    if updates:
        db.session.execute(
            sa.update(FOLLOWUPS)
            .where(FOLLOWUPS.c.id == sa.bindparam("i"))
            .values(
                tier=sa.bindparam("t"),
                base_date=sa.bindparam("b"),
                due_date=sa.bindparam("d"),
                overdue_since=None,
                version=FOLLOWUPS.c.version + 1,
            ),
            updates,
        )
    counts.rescheduled = len(updates)

    has_open = sa.exists().where(FOLLOWUPS.c.firm_id == FIRMS.c.id, FOLLOWUPS.c.status == OPEN)
    missing = db.session.execute(
        _bases(
            sa.and_(
                limit,
                FIRMS.c.status == FirmStatus.ACTIVE.value,
                FIRMS.c.current_tier.is_not(None),
                ~has_open,
            )
        )
    ).all()
    # Firms share a handful of bases and four tiers: each due date is worked out once.
    dues: dict[tuple[dt.date, Tier], dt.date] = {}
    rows = []
    for firm_id, officer_id, tier, last_visit, quarter in missing:
        base = last_visit or _quarter_start(quarter, starts) or today
        if (base, tier) not in dues:
            dues[base, tier] = due_date(base, days[tier], calendar)
        rows.append((firm_id, officer_id, tier, base, dues[base, tier], OPEN, now, 1))
    counts.created = insert_rows(FOLLOWUPS, NEW_FOLLOWUP_COLUMNS, rows, skip_conflicts=True)
    return counts


def mark_overdue(today: dt.date) -> int:
    """Stamp open follow-ups past their due date with the day they were first found overdue."""
    result: Any = db.session.execute(
        sa.update(FOLLOWUPS)
        .where(FOLLOWUPS.c.status == OPEN, FOLLOWUPS.c.due_date < today, FOLLOWUPS.c.overdue_since.is_(None))
        .values(overdue_since=today)
    )
    return int(result.rowcount)


def open_followup(firm_id: int, *options: ExecutableOption) -> Followup | None:
    """The firm's open follow-up (`options`: loader options for what the caller shows; module
    constants, so that the statement is built once)."""
    return db.session.scalars(_open_followup(options), {"firm_id": firm_id}).first()


@functools.lru_cache(maxsize=16)
def _open_followup(options: tuple[ExecutableOption, ...]) -> sa.Select[Followup]:
    is_open = Followup.status == FollowupStatus.OPEN
    return (
        sa.select(Followup)
        .where(Followup.firm_id == sa.bindparam("firm_id", type_=sa.Integer), is_open)
        .options(*options)
    )


def exit_checks_done(firm_id: int) -> dict[ExitCheck, ExitChecklistItem]:
    """The exit checklist items ticked off for a firm."""
    return {item.item: item for item in db.session.scalars(_exit_checks(), {"firm_id": firm_id})}


@functools.cache
def _exit_checks() -> sa.Select[ExitChecklistItem]:
    return sa.select(ExitChecklistItem).where(ExitChecklistItem.firm_id == sa.bindparam("firm_id", type_=sa.Integer))


def log_visit(
    followup: Followup,
    user: User,
    *,
    visited_on: dt.date,
    kind: VisitKind,
    participants: str = "",
    notes: str = "",
    checks: Iterable[ExitCheck] = (),
    today: dt.date,
) -> tuple[Visit, Followup | None]:
    """Record a visit: it completes the follow-up, ticks checklist items, and schedules the next
    follow-up from the visit day by the firm's tier. Refused if the follow-up is no longer open
    (someone logged it a moment ago) or the date lies in the future."""
    if visited_on > today:
        raise FollowupError(str(_l("The visit date cannot be in the future.")))
    if visited_on < followup.base_date:
        raise FollowupError(str(_l("The visit date lies before the previous visit or the start of the tier.")))
    firm = followup.firm
    visit = Visit(
        firm_id=firm.id,
        followup_id=followup.id,
        officer_id=user.id,
        visited_on=visited_on,
        kind=kind,
        participants=participants.strip(),
        notes=notes.strip(),
    )
    db.session.add(visit)
    db.session.flush()
    claimed: Any = db.session.execute(
        sa.update(FOLLOWUPS)
        .where(FOLLOWUPS.c.id == followup.id, FOLLOWUPS.c.status == OPEN)
        .values(
            status=FollowupStatus.DONE.value, visit_id=visit.id, closed_at=utcnow(), version=FOLLOWUPS.c.version + 1
        )
    )
    if claimed.rowcount != 1:
        raise FollowupError(str(_l("This follow-up was completed or cancelled by someone else just now.")))
    db.session.expire(followup)
    done = exit_checks_done(firm.id)
    for check in checks:
        if check not in done:
            db.session.add(ExitChecklistItem(firm_id=firm.id, item=check, visit_id=visit.id, user_id=user.id))
    following = None
    if firm.status == FirmStatus.ACTIVE and firm.current_tier is not None:
        following = Followup(
            firm_id=firm.id,
            officer_id=firm.officer_id or followup.officer_id or user.id,
            tier=firm.current_tier,
            base_date=visited_on,
            due_date=due_date(visited_on, cadences()[firm.current_tier], work_calendar()),
        )
        db.session.add(following)
    db.session.flush()
    record_event(
        "followup.visit",
        "firm",
        firm.id,
        after={
            "visit": visit.id,
            "visited_on": visited_on.isoformat(),
            "kind": kind.value,
            "checks": sorted(c.value for c in checks),
            "next_due": following.due_date.isoformat() if following else None,
        },
        user=user,
    )
    return visit, following


def reschedule(followup: Followup, new_date: dt.date, reason: str, user: User, *, today: dt.date) -> dt.date:
    """Move an open follow-up to another day (moved on to a working day); a reason is required.
    Returns the day it landed on."""
    if followup.status != FollowupStatus.OPEN:
        raise FollowupError(str(_l("Only an open follow-up can be rescheduled.")))
    if not reason.strip():
        raise FollowupError(str(_l("Give a reason for rescheduling.")))
    if new_date < today:
        raise FollowupError(str(_l("Choose today or a later day.")))
    landed = work_calendar().next_working_day(new_date)
    before = followup.due_date
    followup.due_date = landed
    followup.reschedule_reason = reason.strip()
    followup.overdue_since = None
    record_event(
        "followup.reschedule",
        "firm",
        followup.firm_id,
        before={"due_date": before.isoformat()},
        after={"due_date": landed.isoformat(), "reason": reason.strip()},
        user=user,
    )
    return landed


def officers_for(street_id: int | None = None) -> list[User]:
    """Active officers (covering `street_id` when given), for reassignment lists."""
    query = sa.select(User).where(User.role == Role.OFFICER, User.active.is_(True)).order_by(User.username)
    officers = list(db.session.scalars(query))
    if street_id is None:
        return officers
    return [officer for officer in officers if any(street.id == street_id for street in officer.streets)]


def reassign_followup(followup: Followup, officer: User, user: User) -> None:
    """Give one open follow-up to another officer who covers the firm's street."""
    if followup.status != FollowupStatus.OPEN:
        raise FollowupError(str(_l("Only an open follow-up can be reassigned.")))
    if officer.role != Role.OFFICER or not officer.active:
        raise FollowupError(str(_l("Choose an active service officer.")))
    if all(street.id != followup.firm.street_id for street in officer.streets):
        raise FollowupError(str(_l("That officer does not cover this firm's street.")))
    before = followup.officer_id
    followup.officer_id = officer.id
    record_event(
        "followup.reassign",
        "firm",
        followup.firm_id,
        before={"officer_id": before},
        after={"officer_id": officer.id},
        user=user,
    )


def _reassignment_clauses(
    source: User,
    street_id: int | None,
    tiers: Collection[Tier | None] | None,
    firm_ids: Collection[int] | None,
) -> list[sa.ColumnElement[bool]]:
    """WHERE for the source officer's firms a reassignment takes: in one street, of some tiers
    (None in `tiers` meaning not assessed yet), or exactly the listed firms."""
    where: list[sa.ColumnElement[bool]] = [FIRMS.c.officer_id == source.id]
    if street_id is not None:
        where.append(FIRMS.c.street_id == street_id)
    if tiers is not None:
        named = [tier.value for tier in tiers if tier is not None]
        options = [FIRMS.c.current_tier.in_(named)] if named else []
        if None in tiers:
            options.append(FIRMS.c.current_tier.is_(None))
        where.append(sa.or_(*options) if options else sa.false())
    if firm_ids is not None:
        where.append(FIRMS.c.id.in_(sorted(firm_ids)))
    return where


def _check_reassignment(source: User, target: User) -> None:
    if target.role != Role.OFFICER or not target.active:
        raise FollowupError(str(_l("Choose an active service officer.")))
    if target.id == source.id:
        raise FollowupError(str(_l("Choose a different officer.")))


@dataclass
class ReassignmentPlan:
    """What moving firms from one officer to another would do, before it is done."""

    #: (street id, tier value or None) → firms that move (the target covers the street).
    moving: dict[tuple[int, str | None], int]
    #: (street id, tier value or None) → firms that stay (a street the target does not cover).
    staying: dict[tuple[int, str | None], int]

    @property
    def moving_total(self) -> int:
        return sum(self.moving.values())

    @property
    def staying_total(self) -> int:
        return sum(self.staying.values())


def plan_reassignment(
    source: User,
    target: User,
    street_id: int | None = None,
    *,
    tiers: Collection[Tier | None] | None = None,
    firm_ids: Collection[int] | None = None,
) -> ReassignmentPlan:
    """Count, by street and tier, the firms `reassign_firms` would move and those it would leave."""
    _check_reassignment(source, target)
    covered = {street.id for street in target.streets}
    where = _reassignment_clauses(source, street_id, tiers, firm_ids)
    plan = ReassignmentPlan({}, {})
    for street, tier, count in db.session.execute(
        sa.select(FIRMS.c.street_id, FIRMS.c.current_tier, sa.func.count())
        .where(*where)
        .group_by(FIRMS.c.street_id, FIRMS.c.current_tier)
    ):
        (plan.moving if street in covered else plan.staying)[(street, tier)] = count
    return plan


def reassign_firms(
    source: User,
    target: User,
    user: User,
    street_id: int | None = None,
    *,
    tiers: Collection[Tier | None] | None = None,
    firm_ids: Collection[int] | None = None,
) -> tuple[int, int]:
    """Move an officer's firms (all, one street's, some tiers', or the listed ones) and their open
    follow-ups to another officer, within the streets the new officer covers. Returns (moved,
    left) — firms in other streets stay. The audit event names who, from, to and which firms."""
    _check_reassignment(source, target)
    covered = [street.id for street in target.streets]
    where = _reassignment_clauses(source, street_id, tiers, firm_ids)
    moved_ids = list(
        db.session.scalars(sa.select(FIRMS.c.id).where(*where, FIRMS.c.street_id.in_(covered)).order_by(FIRMS.c.id))
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(FIRMS).where(*where)) or 0
    if moved_ids:
        now = utcnow()
        for start in range(0, len(moved_ids), 900):
            chunk = moved_ids[start : start + 900]
            db.session.execute(
                sa.update(FIRMS)
                .where(FIRMS.c.id.in_(chunk))
                .values(officer_id=target.id, updated_at=now, version=FIRMS.c.version + 1)
            )
            db.session.execute(
                sa.update(FOLLOWUPS)
                .where(FOLLOWUPS.c.firm_id.in_(chunk), FOLLOWUPS.c.status == OPEN)
                .values(officer_id=target.id, version=FOLLOWUPS.c.version + 1)
            )
    record_event(
        "firms.reassign",
        "user",
        source.id,
        before={"officer_id": source.id},
        after={
            "to": target.id,
            "street_id": street_id,
            "tiers": None if tiers is None else sorted(t.value if t else "none" for t in tiers),
            "selected": None if firm_ids is None else len(firm_ids),
            "moved": len(moved_ids),
            "left": total - len(moved_ids),
            "firms": moved_ids,
        },
        user=user,
    )
    db.session.expire_all()
    return len(moved_ids), total - len(moved_ids)
