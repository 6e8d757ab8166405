"""The dashboard's figures: each one aggregate query over the firms in the user's scope.

`Dashboard` runs a query only when a chart asks for it and keeps the answer for the request, so
the page runs each once and a chart's data endpoint runs only its own. Python touches grouped
rows (streets, tiers, quarters, categories), never one row per firm.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from ..audit import record_event, snapshot
from ..charts import to_float
from ..domain.followups import FollowupStatus, RequestStatus, Satisfaction
from ..domain.indicators import IndicatorMetric, growth_percent, share_percent, year_to_date
from ..domain.industry import DIGITAL_CORE_CLASSES, DIGITAL_CORE_DIVISIONS
from ..domain.quarters import Quarter
from ..domain.tiers import Tier
from ..extensions import db
from ..models import (
    Firm,
    FirmRequest,
    Followup,
    IndicatorTarget,
    QuarterlyMetric,
    RequestStep,
    Street,
    TierAssignment,
    User,
    Visit,
)
from ..scoping import firm_scope, visible_streets

ASSIGNMENTS: sa.Table = TierAssignment.__table__  # type: ignore[assignment]
#: A column to group or compute by: a mapped attribute or an SQL expression.
Column = sa.ColumnElement[Any] | QueryableAttribute[Any]
#: Quarters of metrics the dashboard reads: eight shown, and four before them for growth.
TREND_QUARTERS = 8


def parse_quarter(key: str | None) -> Quarter | None:
    """A stored quarter key as a Quarter; None for none (or one that is not a quarter)."""
    try:
        return Quarter.parse(key) if key else None
    except ValueError:
        return None


def latest_metric_quarter() -> Quarter | None:
    """The latest quarter any firm has metrics for (the dashboard's "data through")."""
    return parse_quarter(db.session.scalar(sa.select(sa.func.max(QuarterlyMetric.quarter))))


def latest_tier_quarter() -> Quarter | None:
    """The latest quarter with tier assignments (the current tiers' quarter)."""
    return parse_quarter(db.session.scalar(sa.select(sa.func.max(TierAssignment.quarter))))


def month_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of today's month."""
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def digital_core_clause(code: Column) -> sa.ColumnElement[bool]:
    """SQL for domain.industry.is_digital_core: the code's division or class is in the core."""
    return sa.or_(
        sa.func.substr(code, 1, 3).in_(sorted(DIGITAL_CORE_DIVISIONS)), code.in_(sorted(DIGITAL_CORE_CLASSES))
    )


def days_between(later: Column, earlier: Column) -> sa.ColumnElement[Any]:
    """Calendar days from a date to a UTC timestamp's day in Beijing, in the session's SQL dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("Asia/Shanghai", later), sa.Date) - earlier
    return sa.func.julianday(sa.func.date(later, "+8 hours")) - sa.func.julianday(earlier)


@dataclass(frozen=True)
class QuarterTotals:
    """Sums over one quarter's metric rows of a group of firms."""

    firms: int = 0
    revenue: float = 0.0
    tax: float = 0.0
    rd_spend: float = 0.0

    def __add__(self, other: QuarterTotals) -> QuarterTotals:
        return QuarterTotals(
            self.firms + other.firms,
            self.revenue + other.revenue,
            self.tax + other.tax,
            self.rd_spend + other.rd_spend,
        )


@dataclass(frozen=True)
class Indicator:
    """One target with its actual for the year to date."""

    target: IndicatorTarget
    actual: float | None
    current: list[str]  # the quarters measured
    previous: list[str]  # the quarters compared against (growth indicators)


class Dashboard:
    """Everything the dashboard shows, for one user on one day."""

    def __init__(self, user: User, today: dt.date) -> None:
        self.user = user
        self.today = today
        self.scope = firm_scope(user)
        self.month_start, self.month_end = month_bounds(today)

    # --- Context ------------------------------------------------------------------------------

    @cached_property
    def streets(self) -> list[Street]:
        """The streets the user sees, in order."""
        return visible_streets(self.user)

    @cached_property
    def data_quarter(self) -> Quarter | None:
        """The latest quarter with metrics."""
        return latest_metric_quarter()

    @cached_property
    def tier_quarter(self) -> Quarter | None:
        """The latest quarter with tier assignments."""
        return latest_tier_quarter()

    # --- Tiers --------------------------------------------------------------------------------

    @cached_property
    def tier_groups(self) -> list[tuple[int, str | None, str | None, int]]:
        """(street id, chain, tier, firms) for every combination present in scope."""
        rows = db.session.execute(
            sa.select(Firm.street_id, Firm.chain, Firm.current_tier, sa.func.count())
            .where(self.scope)
            .group_by(Firm.street_id, Firm.chain, Firm.current_tier)
        )
        return [
            (street, chain.value if chain else None, tier.value if tier else None, count)
            for street, chain, tier, count in rows
        ]

    def tier_counts(self, by: str | None = None) -> dict[Any, Counter[str]]:
        """Firms per tier ('none' for not assessed), per street id or chain ('by'), or overall (key None)."""
        result: dict[Any, Counter[str]] = {}
        for street, chain, tier, count in self.tier_groups:
            key = {"street": street, "chain": chain}.get(by or "")
            result.setdefault(key, Counter())[tier or "none"] += count
        return result

    @cached_property
    def transitions(self) -> dict[tuple[str, str], int]:
        """Firms by (tier last quarter, tier this quarter), 'none' where a firm had no tier."""
        if self.tier_quarter is None:
            return {}
        first, second = (self.tier_quarter - 1).key, self.tier_quarter.key
        a, b = ASSIGNMENTS.alias("a"), ASSIGNMENTS.alias("b")
        rows = db.session.execute(
            sa.select(a.c.tier, b.c.tier, sa.func.count())
            .select_from(Firm)
            .outerjoin(a, sa.and_(a.c.firm_id == Firm.id, a.c.quarter == first))
            .outerjoin(b, sa.and_(b.c.firm_id == Firm.id, b.c.quarter == second))
            .where(self.scope, sa.or_(a.c.tier.is_not(None), b.c.tier.is_not(None)))
            .group_by(a.c.tier, b.c.tier)
        )
        return {(str(x or "none"), str(y or "none")): count for x, y, count in rows}

    # --- Follow-ups ---------------------------------------------------------------------------

    def _followup_counts(self, group: Column) -> dict[Any, tuple[int, int, int, int]]:
        """Per group: open, overdue, due this month (planned), and of those done."""
        f = Followup
        this_month = f.due_date.between(self.month_start, self.month_end)
        rows = db.session.execute(
            sa.select(
                group,
                sa.func.count().filter(f.status == FollowupStatus.OPEN),
                sa.func.count().filter(f.status == FollowupStatus.OPEN, f.due_date < self.today),
                sa.func.count().filter(f.status != FollowupStatus.CANCELLED, this_month),
                sa.func.count().filter(f.status == FollowupStatus.DONE, this_month),
            )
            .select_from(f)
            .join(Firm, Firm.id == f.firm_id)
            .where(self.scope, sa.or_(f.status == FollowupStatus.OPEN, f.due_date >= self.month_start))
            .group_by(group)
        )
        return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]

    def _visit_counts(self, group: Column) -> dict[Any, int]:
        """Visits logged this month, per group."""
        rows = db.session.execute(
            sa.select(group, sa.func.count())
            .select_from(Visit)
            .join(Firm, Firm.id == Visit.firm_id)
            .where(self.scope, Visit.visited_on.between(self.month_start, self.month_end))
            .group_by(group)
        )
        return {key: count for key, count in rows}

    @cached_property
    def followups_by_street(self) -> dict[int, tuple[int, int, int, int]]:
        """Per street id: open, overdue, planned this month, done of the planned."""
        return self._followup_counts(Firm.street_id)

    @cached_property
    def visits_by_street(self) -> dict[int, int]:
        """Per street id: visits logged this month."""
        return self._visit_counts(Firm.street_id)

    @cached_property
    def followups_by_officer(self) -> dict[int | None, tuple[int, int, int, int]]:
        """Per officer id (None: nobody): open, overdue, planned this month, done of the planned."""
        return self._followup_counts(Followup.officer_id)

    @cached_property
    def visits_by_officer(self) -> dict[int | None, int]:
        """Per officer id: visits logged this month."""
        return self._visit_counts(Visit.officer_id)

    @cached_property
    def officer_names(self) -> dict[int, str]:
        """Labels of the officers the follow-up figures name."""
        ids = {i for i in (*self.followups_by_officer, *self.visits_by_officer) if i is not None}
        if not ids:
            return {}
        users = db.session.scalars(sa.select(User).where(User.id.in_(ids)))
        return {user.id: user.label for user in users}

    # --- Requests -----------------------------------------------------------------------------

    @cached_property
    def requests_by_category(self) -> dict[str, tuple[int, int, int, float]]:
        """Per category: open (not closed), overdue, resolved, and the days those took in total."""
        r = FirmRequest
        resolved_at = (
            sa.select(sa.func.min(RequestStep.created_at))
            .where(RequestStep.request_id == r.id, RequestStep.status == RequestStatus.RESOLVED)
            .scalar_subquery()
        )
        inner = (
            sa.select(
                r.category.label("category"),
                r.status.label("status"),
                r.deadline.label("deadline"),
                days_between(resolved_at, r.received_on).label("days"),
            )
            .join(Firm, Firm.id == r.firm_id)
            .where(self.scope)
            .subquery()
        )
        unresolved = inner.c.status.in_(
            [RequestStatus.RECEIVED.value, RequestStatus.ASSIGNED.value, RequestStatus.IN_PROGRESS.value]
        )
        rows = db.session.execute(
            sa.select(
                inner.c.category,
                sa.func.count().filter(inner.c.status != RequestStatus.CLOSED.value),
                sa.func.count().filter(unresolved, inner.c.deadline < self.today),
                sa.func.count(inner.c.days),
                sa.func.coalesce(sa.func.sum(inner.c.days), 0),
            ).group_by(inner.c.category)
        )
        return {str(c): (o, late, done, float(days)) for c, o, late, done, days in rows}

    @cached_property
    def satisfaction(self) -> dict[str, int]:
        """Answers at 回访, by satisfaction."""
        rows = db.session.execute(
            sa.select(FirmRequest.satisfaction, sa.func.count())
            .join(Firm, Firm.id == FirmRequest.firm_id)
            .where(self.scope, FirmRequest.satisfaction.is_not(None))
            .group_by(FirmRequest.satisfaction)
        )
        return {str(s): count for s, count in rows}

    # --- The figures at the top ----------------------------------------------------------------

    def headline(self) -> dict[str, Any]:
        """Firms, key firms, follow-up and request health, in scope."""
        tiers = self.tier_counts().get(None, Counter())
        followups = [sum(column) for column in zip(*self.followups_by_street.values(), strict=True)] or [0, 0, 0, 0]
        requests = [sum(column) for column in zip(*self.requests_by_category.values(), strict=True)] or [0, 0, 0, 0.0]
        answers = self.satisfaction
        pleased = answers.get(Satisfaction.SATISFIED.value, 0) + answers.get(Satisfaction.MOSTLY.value, 0)
        return {
            "firms": sum(tiers.values()),
            "key": tiers.get(Tier.KEY.value, 0),
            "open_followups": followups[0],
            "overdue_followups": followups[1],
            "planned": followups[2],
            "done": followups[3],
            "completion": share_percent(followups[3], followups[2]),
            "visits": sum(self.visits_by_street.values()),
            "open_requests": requests[0],
            "overdue_requests": requests[1],
            "average_days": requests[3] / requests[2] if requests[2] else None,
            "satisfied": share_percent(pleased, sum(answers.values())),
        }

    # --- Metrics by quarter -------------------------------------------------------------------

    @cached_property
    def quarter_groups(self) -> dict[tuple[str, bool, bool], QuarterTotals]:
        """Sums per (quarter, digital-economy core, key service now) over the last twelve quarters."""
        if self.data_quarter is None:
            return {}
        core = sa.case((digital_core_clause(Firm.industry_code), 1), else_=0)
        key = sa.case((Firm.current_tier == Tier.KEY, 1), else_=0)
        m = QuarterlyMetric
        first = (self.data_quarter - (TREND_QUARTERS + 3)).key
        rows = db.session.execute(
            sa.select(m.quarter, core, key, sa.func.count())
            .add_columns(sa.func.sum(m.revenue), sa.func.sum(m.tax), sa.func.sum(m.rd_spend))
            .join(Firm, Firm.id == m.firm_id)
            .where(self.scope, m.quarter.between(first, self.data_quarter.key))
            .group_by(m.quarter, core, key)
        )
        return {
            (quarter, bool(is_core), bool(is_key)): QuarterTotals(
                count, to_float(revenue) or 0.0, to_float(tax) or 0.0, to_float(rd) or 0.0
            )
            for quarter, is_core, is_key, count, revenue, tax, rd in rows
        }

    def totals(self, quarters: list[str], *, core: bool | None = None, key: bool | None = None) -> QuarterTotals:
        """Sums over the given quarters, limited to core (or non-core) and key (or other) firms when asked."""
        total = QuarterTotals()
        wanted = set(quarters)
        for (quarter, is_core, is_key), sums in self.quarter_groups.items():
            if quarter in wanted and core in (None, is_core) and key in (None, is_key):
                total = total + sums
        return total

    @cached_property
    def targets(self) -> list[IndicatorTarget]:
        """The targets of the data quarter's year, in the indicators' order."""
        if self.data_quarter is None:
            return []
        found = db.session.scalars(sa.select(IndicatorTarget).where(IndicatorTarget.year == self.data_quarter.year))
        order = list(IndicatorMetric)
        return sorted(found, key=lambda target: order.index(target.metric))

    def indicators(self) -> list[Indicator]:
        """Each target of the year with its actual, year to date."""
        if self.data_quarter is None:
            return []
        result = []
        for target in self.targets:
            current, previous = year_to_date(self.data_quarter, target.year)
            actual = indicator_actual(self, target.metric, current, previous)
            result.append(Indicator(target, actual, current, previous))
        return result


def indicator_actual(
    board: Dashboard, metric: IndicatorMetric, current: list[str], previous: list[str]
) -> float | None:
    """The year-to-date value of one indicator, in percent."""
    if not current:
        return None
    if metric is IndicatorMetric.RD_INTENSITY:
        now = board.totals(current)
        return share_percent(now.rd_spend, now.revenue) if now.firms else None
    core = True if metric is IndicatorMetric.DIGITAL_CORE_GROWTH else None
    now, before = board.totals(current, core=core), board.totals(previous, core=core)
    if not now.firms or not before.firms:
        return None
    if metric is IndicatorMetric.TAX_GROWTH:
        return growth_percent(now.tax, before.tax)
    return growth_percent(now.revenue, before.revenue)


# --- Targets (admin) ---------------------------------------------------------------------------

TARGET_FIELDS = ("year", "metric", "name", "threshold")


class TargetError(ValueError):
    """A target that cannot be saved, with a message for the admin."""


def save_target(
    target: IndicatorTarget | None, *, year: int, metric: IndicatorMetric, name: str, threshold: Decimal, user: User
) -> IndicatorTarget:
    """Create or change a target; one per indicator and year. Flushes, records an audit event."""
    clash = db.session.scalar(
        sa.select(IndicatorTarget.id).where(IndicatorTarget.year == year, IndicatorTarget.metric == metric)
    )
    if clash is not None and (target is None or clash != target.id):
        raise TargetError("duplicate")
    before = snapshot(target, TARGET_FIELDS) if target else None
    if target is None:
        target = IndicatorTarget()
        db.session.add(target)
    target.year, target.metric, target.name, target.threshold = year, metric, name.strip(), threshold
    target.updated_by_id = user.id
    db.session.flush()
    record_event(
        "target.save", "indicator_target", target.id, before=before, after=snapshot(target, TARGET_FIELDS), user=user
    )
    return target


def delete_target(target: IndicatorTarget, user: User) -> None:
    """Remove a target (audited)."""
    record_event("target.delete", "indicator_target", target.id, before=snapshot(target, TARGET_FIELDS), user=user)
    db.session.delete(target)
    db.session.flush()
