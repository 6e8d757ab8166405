"""Follow-ups, visits, the exit checklist, firms' requests (诉求) and the settings admins edit
for them: cadences per tier, deadlines per request category, the holiday table."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.followups import (
    ExitCheck,
    FollowupStatus,
    RequestCategory,
    RequestStatus,
    Satisfaction,
    Urgency,
    VisitKind,
)
from ..domain.tiers import Tier
from ..extensions import Model
from .types import Timestamp, enum_column

if TYPE_CHECKING:
    from .firms import Firm
    from .users import User


class TierCadence(Model):
    """Days between visits for one tier."""

    __tablename__ = "tier_cadences"

    #: The tier.
    tier: Mapped[Tier] = mapped_column(enum_column(Tier), primary_key=True)
    #: Days from the last visit (or the start of the tier) to the next.
    days: Mapped[int]
    #: Last changed.
    updated_at: Mapped[Timestamp]


class CalendarDay(Model):
    """The admin's holiday table: a day off, or a make-up working day (调休), that wins over
    chinese-calendar and, for years it does not ship, over the weekend rule."""

    __tablename__ = "calendar_days"

    #: The day.
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    #: True for a make-up working day, False for a holiday.
    is_workday: Mapped[bool] = mapped_column(default=False)
    #: What it is, e.g. 春节.
    name: Mapped[str] = mapped_column(sa.String(64), default="")
    #: Last changed.
    updated_at: Mapped[Timestamp]


class Followup(Model):
    """A planned visit to a firm; each active firm with a tier has exactly one open."""

    __tablename__ = "followups"
    __table_args__ = (
        # One open follow-up per firm: two sweeps at once cannot make a second.
        sa.Index(
            "uq_followups_open_firm",
            "firm_id",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_followups_officer_status_due", "officer_id", "status", "due_date"),
    )

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm to visit.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    #: The officer who visits; the firm's officer when scheduled, a supervisor may reassign.
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: The tier whose cadence set the due date.
    tier: Mapped[Tier] = mapped_column(enum_column(Tier))
    #: The day counted from: the last visit, or the start of the tier.
    base_date: Mapped[dt.date]
    #: When the visit is due (a working day).
    due_date: Mapped[dt.date] = mapped_column(index=True)
    #: open, done or cancelled.
    status: Mapped[FollowupStatus] = mapped_column(enum_column(FollowupStatus), default=FollowupStatus.OPEN, index=True)
    #: The first day the daily sweep found it overdue.
    overdue_since: Mapped[dt.date | None]
    #: Why it was moved by hand, when it was.
    reschedule_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: The visit that completed it.
    visit_id: Mapped[int | None]
    #: When it was made.
    created_at: Mapped[Timestamp]
    #: When it was completed or cancelled.
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Optimistic-locking counter.
    version: Mapped[int] = mapped_column(default=1)

    firm: Mapped[Firm] = relationship()
    officer: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class Visit(Model):
    """A completed visit (走访记录)."""

    __tablename__ = "visits"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm visited.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    #: The follow-up it completed, if any.
    followup_id: Mapped[int | None] = mapped_column(sa.ForeignKey("followups.id"))
    #: Who visited.
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: The day of the visit.
    visited_on: Mapped[dt.date] = mapped_column(index=True)
    #: On site, phone or online.
    kind: Mapped[VisitKind] = mapped_column(enum_column(VisitKind))
    #: Who took part.
    participants: Mapped[str] = mapped_column(sa.String(300), default="")
    #: What was discussed.
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    #: When it was recorded.
    created_at: Mapped[Timestamp]

    officer: Mapped[User | None] = relationship()


class ExitChecklistItem(Model):
    """One exit-tracking checklist item ticked off for a firm, at a visit."""

    __tablename__ = "exit_checklist_items"
    __table_args__ = (sa.UniqueConstraint("firm_id", "item"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"))
    #: Which item.
    item: Mapped[ExitCheck] = mapped_column(enum_column(ExitCheck))
    #: The visit where it was ticked.
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"))
    #: Who ticked it.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When.
    created_at: Mapped[Timestamp]


class RequestCategoryLimit(Model):
    """The deadline of one request category, in working days."""

    __tablename__ = "request_category_limits"

    #: The category.
    category: Mapped[RequestCategory] = mapped_column(enum_column(RequestCategory), primary_key=True)
    #: Working days from 受理 to 办结.
    limit_days: Mapped[int]
    #: Last changed.
    updated_at: Mapped[Timestamp]


class FirmRequest(Model):
    """A firm's request (诉求), tracked until closed."""

    __tablename__ = "firm_requests"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm asking.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    #: The visit where it was raised, if any.
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"))
    #: Category.
    category: Mapped[RequestCategory] = mapped_column(enum_column(RequestCategory))
    #: What the firm asks.
    description: Mapped[str] = mapped_column(sa.Text)
    #: normal or urgent.
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency), default=Urgency.NORMAL)
    #: The department it is assigned to (交办).
    owner_department: Mapped[str] = mapped_column(sa.String(100), default="")
    #: The officer who owns it.
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: Where it is in its lifecycle.
    status: Mapped[RequestStatus] = mapped_column(
        enum_column(RequestStatus), default=RequestStatus.RECEIVED, index=True
    )
    #: 受理 date.
    received_on: Mapped[dt.date]
    #: The category's limit in working days from received_on.
    deadline: Mapped[dt.date] = mapped_column(index=True)
    #: How it was resolved (办结); required to close.
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    #: The firm's answer at 回访.
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_column(Satisfaction))
    #: When the sweep escalated it to supervisors (overdue).
    escalated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Who recorded it.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When recorded.
    created_at: Mapped[Timestamp]
    #: When closed.
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Optimistic-locking counter.
    version: Mapped[int] = mapped_column(default=1)

    firm: Mapped[Firm] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    steps: Mapped[list[RequestStep]] = relationship(order_by="RequestStep.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class RequestStep(Model):
    """One lifecycle step of a request, with time and person."""

    __tablename__ = "request_steps"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The request.
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("firm_requests.id", ondelete="CASCADE"), index=True)
    #: The status it moved to.
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus))
    #: Who moved it.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: A note (the owner at 交办, the resolution at 办结, …).
    note: Mapped[str] = mapped_column(sa.Text, default="")
    #: When.
    created_at: Mapped[Timestamp]

    user: Mapped[User | None] = relationship()
