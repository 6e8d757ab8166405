"""Follow-ups (走访跟进) scheduled by tier, and firms' requests (企业诉求) with their lifecycle.

Plain Python: the web views, the CLI and the daily sweep all decide through these rules.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from .tiers import Tier
from .workdays import WorkCalendar

#: Days between visits by tier (domain.md); admins edit them.
DEFAULT_CADENCE_DAYS = {Tier.KEY: 30, Tier.CULTIVATE: 60, Tier.OBSERVE: 90, Tier.EXIT: 30}


class FollowupStatus(StrEnum):
    """Where a follow-up is: each active firm with a tier has exactly one open."""

    OPEN = "open"
    DONE = "done"  # a visit completed it
    CANCELLED = "cancelled"  # the firm left the roster or lost its tier


class VisitKind(StrEnum):
    """How a visit was made."""

    ONSITE = "onsite"  # 实地走访
    PHONE = "phone"  # 电话
    ONLINE = "online"  # 线上


class ExitCheck(StrEnum):
    """The exit-tracking checklist, ticked off across visits."""

    PLAN = "plan"  # 迁移或关停方案
    TAX = "tax"  # 税务清算
    LEASE = "lease"  # 租约到期
    DEREGISTRATION = "deregistration"  # 工商注销


def due_date(base: dt.date, cadence_days: int, calendar: WorkCalendar) -> dt.date:
    """The next visit: `cadence_days` after `base` (the last visit or the start of the tier),
    moved forward to a Chinese working day."""
    return calendar.next_working_day(base + dt.timedelta(days=cadence_days))


def week_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of `today`'s week ("due this week")."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=6)


class RequestCategory(StrEnum):
    """What a firm asks for (domain.md's categories)."""

    IP = "ip"  # 知识产权保护
    UNIVERSITY = "university"  # 高校院所合作
    TECH_TRANSFER = "tech_transfer"  # 技术成果转移
    MENTOR = "mentor"  # 创业导师
    FINANCING = "financing"  # 融资
    TALENT = "talent"  # 人才
    SPACE = "space"  # 空间用地
    POLICY = "policy"  # 政策兑现
    OTHER = "other"  # 其他


#: Working days to resolve a request, by category; admins edit them.
DEFAULT_LIMIT_DAYS = {
    RequestCategory.IP: 10,
    RequestCategory.UNIVERSITY: 15,
    RequestCategory.TECH_TRANSFER: 20,
    RequestCategory.MENTOR: 10,
    RequestCategory.FINANCING: 15,
    RequestCategory.TALENT: 15,
    RequestCategory.SPACE: 20,
    RequestCategory.POLICY: 10,
    RequestCategory.OTHER: 10,
}


class Urgency(StrEnum):
    """How fast a request must move."""

    NORMAL = "normal"
    URGENT = "urgent"


class RequestStatus(StrEnum):
    """受理 → 交办 → 办理 → 办结 → 回访 → 关闭."""

    RECEIVED = "received"  # 受理
    ASSIGNED = "assigned"  # 交办
    IN_PROGRESS = "in_progress"  # 办理
    RESOLVED = "resolved"  # 办结
    REVISITED = "revisited"  # 回访
    CLOSED = "closed"  # 关闭


#: The one legal next step from each status.
NEXT_STATUS = {
    RequestStatus.RECEIVED: RequestStatus.ASSIGNED,
    RequestStatus.ASSIGNED: RequestStatus.IN_PROGRESS,
    RequestStatus.IN_PROGRESS: RequestStatus.RESOLVED,
    RequestStatus.RESOLVED: RequestStatus.REVISITED,
    RequestStatus.REVISITED: RequestStatus.CLOSED,
}

#: Statuses that still count against the deadline.
UNRESOLVED = (RequestStatus.RECEIVED, RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)


class Satisfaction(StrEnum):
    """The firm's answer at 回访."""

    SATISFIED = "satisfied"  # 满意
    MOSTLY = "mostly"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class IllegalStep(ValueError):
    """A request step the lifecycle does not allow, with the reason (a message id)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_step(
    current: RequestStatus,
    target: RequestStatus,
    *,
    owner: str | None = None,
    resolution: str | None = None,
    satisfaction: Satisfaction | None = None,
) -> None:
    """Refuse any step but the next one, and a step without what it needs:
    交办 an owner, 办结 (and so 关闭) a resolution note, 回访 the firm's satisfaction."""
    if NEXT_STATUS.get(current) != target:
        raise IllegalStep("order")
    if target is RequestStatus.ASSIGNED and not (owner or "").strip():
        raise IllegalStep("owner")
    if target in (RequestStatus.RESOLVED, RequestStatus.CLOSED) and not (resolution or "").strip():
        raise IllegalStep("resolution")
    if target is RequestStatus.REVISITED and satisfaction is None:
        raise IllegalStep("satisfaction")


def request_deadline(received: dt.date, limit_days: int, calendar: WorkCalendar) -> dt.date:
    """The day a request must be resolved by: its category's limit in working days."""
    return calendar.add_working_days(received, limit_days)


def is_overdue(status: RequestStatus, deadline: dt.date, today: dt.date) -> bool:
    """Unresolved past its deadline."""
    return status in UNRESOLVED and today > deadline
