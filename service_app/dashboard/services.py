"""The dashboard's figures: each one aggregate query over the firms in the user's scope.

`Dashboard` runs a query only when a chart asks for it and keeps the answer for the request, so
the page runs each once and a chart's data endpoint runs only its own. Python touches grouped
rows (streets, tiers, quarters, categories), never one row per firm.

Each query's answer is also kept in the process's FigureCache (data_versions.py) under the scope,
the day where it counts, and the tokens of the tables it reads: the next request, by anyone with
the same streets, takes it from there until one of those tables is written.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from ..audit import record_event, snapshot
from ..charts import to_float
from ..data_versions import current_tokens, figure_cache
from ..domain.followups import FollowupStatus, RequestStatus, Satisfaction
from ..domain.indicators import IndicatorMetric, growth_percent, share_percent, year_to_date
from ..domain.industry import is_digital_core
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
from ..scoping import firm_scope, street_ids_for, visible_streets

ASSIGNMENTS: sa.Table = TierAssignment.__table__  # type: ignore[assignment]
#: A column to group or compute by: a mapped attribute or an SQL expression.
Column = sa.ColumnElement[Any] | QueryableAttribute[Any]
SelectT = TypeVar("SelectT", bound=sa.Select)
T = TypeVar("T")
#: Quarters of metrics the dashboard reads: the trend's eight, which hold every year-to-date
#: quarter of this year and the last.
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
        street_ids = street_ids_for(user)
        self.all_streets = street_ids is None
        #: What the figures of this scope are kept under: the street ids, or None for all.
        self.scope_key = None if street_ids is None else tuple(sorted(street_ids))
        self.month_start, self.month_end = month_bounds(today)

    @cached_property
    def tokens(self) -> dict[str, str]:
        """The versioned tables' tokens, read once for the request's figures."""
        return current_tokens()

    def _kept(self, name: str, tables: tuple[str, ...], make: Callable[[], T], *params: Any) -> T:
        """A figure from the cache, or made and kept: `tables` are the versioned tables the query
        reads, `params` whatever else it depends on besides the scope (the day, the quarter)."""
        return figure_cache().fetch((name, self.scope_key, *params), tables, self.tokens, make)

    def _firms_if_joined(self, *, firm_columns: bool = False) -> tuple[str, ...]:
        """("firms",) when a query's _in_scope joins firms, for its cache key."""
        return () if self.all_streets and not firm_columns else ("firms",)

    def _in_scope(self, query: SelectT, firm_id: Column, *, firm_columns: bool = False) -> SelectT:
        """Limit a query to the firms in scope. For a user who sees every street, no join to firms
        at all unless the query reads a firm's own columns: the counts then come from one table."""
        if self.all_streets and not firm_columns:
            return query
        return query.join(Firm, Firm.id == firm_id).where(self.scope)

    # --- Context ------------------------------------------------------------------------------

    @cached_property
    def streets(self) -> list[Street]:
        """The streets the user sees, in order."""
        return visible_streets(self.user)

    @cached_property
    def data_quarter(self) -> Quarter | None:
        """The latest quarter with metrics (any firm's: the same for every scope)."""
        return self._kept("data_quarter", ("quarterly_metrics",), latest_metric_quarter)

    @cached_property
    def tier_quarter(self) -> Quarter | None:
        """The latest quarter with tier assignments."""
        return self._kept("tier_quarter", ("tier_assignments",), latest_tier_quarter)

    # --- Tiers --------------------------------------------------------------------------------

    @cached_property
    def tier_groups(self) -> list[tuple[int, str | None, str | None, int]]:
        """(street id, chain, tier, firms) for every combination present in scope."""
        return self._kept("tier_groups", ("firms",), self._tier_groups)

    def _tier_groups(self) -> list[tuple[int, str | None, str | None, int]]:
        query = sa.select(Firm.street_id, Firm.chain, Firm.current_tier, sa.func.count())
        if self.all_streets:
            # Every firm is counted: SQLite would otherwise walk the street index to skip a sort of
            # a few dozen groups, fetching each row by id (1.5 times the cost of reading the table).
            query = query.with_hint(Firm, "NOT INDEXED", dialect_name="sqlite")
        rows = db.session.execute(query.where(self.scope).group_by(Firm.street_id, Firm.chain, Firm.current_tier))
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
        quarter = self.tier_quarter
        return self._kept("transitions", ("tier_assignments", "firms"), lambda: self._transitions(quarter), quarter.key)

    def _transitions(self, quarter: Quarter) -> dict[tuple[str, str], int]:
        first, second = (quarter - 1).key, quarter.key
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

    def _followup_counts(self, name: str, group: Column, by_street: bool) -> dict[Any, tuple[int, int, int, int]]:
        """Per group: open, overdue, due this month (planned), and of those done."""
        tables = ("followups", *self._firms_if_joined(firm_columns=by_street))
        return self._kept(name, tables, lambda: self._count_followups(group, by_street), self.today)

    def _count_followups(self, group: Column, by_street: bool) -> dict[Any, tuple[int, int, int, int]]:
        f = Followup
        this_month = f.due_date.between(self.month_start, self.month_end)
        query = sa.select(
            group,
            sa.func.count().filter(f.status == FollowupStatus.OPEN),
            sa.func.count().filter(f.status == FollowupStatus.OPEN, f.due_date < self.today),
            sa.func.count().filter(f.status != FollowupStatus.CANCELLED, this_month),
            sa.func.count().filter(f.status == FollowupStatus.DONE, this_month),
        ).select_from(f)
        rows = db.session.execute(
            self._in_scope(query, f.firm_id, firm_columns=by_street)
            .where(sa.or_(f.status == FollowupStatus.OPEN, f.due_date >= self.month_start))
            .group_by(group)
        )
        return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]

    def _visit_counts(self, name: str, group: Column, by_street: bool) -> dict[Any, int]:
        """Visits logged this month, per group."""
        tables = ("visits", *self._firms_if_joined(firm_columns=by_street))
        return self._kept(name, tables, lambda: self._count_visits(group, by_street), self.month_start)

    def _count_visits(self, group: Column, by_street: bool) -> dict[Any, int]:
        query = sa.select(group, sa.func.count()).select_from(Visit)
        rows = db.session.execute(
            self._in_scope(query, Visit.firm_id, firm_columns=by_street)
            .where(Visit.visited_on.between(self.month_start, self.month_end))
            .group_by(group)
        )
        return {key: count for key, count in rows}

    @cached_property
    def followups_by_street(self) -> dict[int, tuple[int, int, int, int]]:
        """Per street id: open, overdue, planned this month, done of the planned."""
        return self._followup_counts("followups_by_street", Firm.street_id, by_street=True)

    @cached_property
    def visits_by_street(self) -> dict[int, int]:
        """Per street id: visits logged this month."""
        return self._visit_counts("visits_by_street", Firm.street_id, by_street=True)

    @cached_property
    def followups_by_officer(self) -> dict[int | None, tuple[int, int, int, int]]:
        """Per officer id (None: nobody): open, overdue, planned this month, done of the planned."""
        return self._followup_counts("followups_by_officer", Followup.officer_id, by_street=False)

    @cached_property
    def visits_by_officer(self) -> dict[int | None, int]:
        """Per officer id: visits logged this month."""
        return self._visit_counts("visits_by_officer", Visit.officer_id, by_street=False)

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
        tables = ("firm_requests", "request_steps", *self._firms_if_joined())
        return self._kept("requests_by_category", tables, self._requests_by_category, self.today)

    def _requests_by_category(self) -> dict[str, tuple[int, int, int, float]]:
        r = FirmRequest
        resolved_at = (
            sa.select(sa.func.min(RequestStep.created_at))
            .where(RequestStep.request_id == r.id, RequestStep.status == RequestStatus.RESOLVED)
            .scalar_subquery()
        )
        inner = self._in_scope(
            sa.select(
                r.category.label("category"),
                r.status.label("status"),
                r.deadline.label("deadline"),
                days_between(resolved_at, r.received_on).label("days"),
            ),
            r.firm_id,
        ).subquery()
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
        return self._kept("satisfaction", ("firm_requests", *self._firms_if_joined()), self._satisfaction)

    def _satisfaction(self) -> dict[str, int]:
        query = sa.select(FirmRequest.satisfaction, sa.func.count())
        rows = db.session.execute(
            self._in_scope(query, FirmRequest.firm_id)
            .where(FirmRequest.satisfaction.is_not(None))
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
    def core_codes(self) -> list[str]:
        """The industry codes in scope that are digital-economy core industries: the distinct codes
        (a few hundred at most) sorted by domain.industry.is_digital_core, the one place the rule lives."""
        return self._kept("core_codes", ("firms",), self._core_codes)

    def _core_codes(self) -> list[str]:
        codes = db.session.scalars(
            sa.select(Firm.industry_code).distinct().where(self.scope, Firm.industry_code.is_not(None))
        )
        return sorted(code for code in codes if code and is_digital_core(code))

    @cached_property
    def quarter_sums(self) -> dict[tuple[str, str], QuarterTotals]:
        """Sums per (quarter, group) over the last eight quarters, the group being every firm ('all'),
        the digital-economy core ('core': revenue only) or today's key-service firms ('key': firms,
        revenue and tax).

        Grouped by quarter alone, the groups as filtered sums: SQLite then reads the quarter index
        that carries the figures, in order, and sorts nothing; each filtered sum costs a pass of its
        condition, so only the sums some chart shows are made.
        """
        if self.data_quarter is None:
            return {}
        latest = self.data_quarter
        tables = ("quarterly_metrics", "firms")
        return self._kept("quarter_sums", tables, lambda: self._quarter_sums(latest), latest.key)

    def _quarter_sums(self, latest: Quarter) -> dict[tuple[str, str], QuarterTotals]:
        m = QuarterlyMetric
        core = Firm.industry_code.in_(self.core_codes) if self.core_codes else sa.false()
        key = Firm.current_tier == Tier.KEY
        first = (latest - (TREND_QUARTERS - 1)).key
        rows = db.session.execute(
            sa.select(m.quarter, sa.func.count(), sa.func.sum(m.revenue), sa.func.sum(m.tax), sa.func.sum(m.rd_spend))
            .add_columns(
                sa.func.sum(m.revenue).filter(core),
                sa.func.count().filter(key),
                sa.func.sum(m.revenue).filter(key),
                sa.func.sum(m.tax).filter(key),
            )
            .join(Firm, Firm.id == m.firm_id)
            .where(self.scope, m.quarter.between(first, latest.key))
            .group_by(m.quarter)
        )
        result = {}
        for quarter, count, revenue, tax, rd, core_revenue, key_count, key_revenue, key_tax in rows:
            result[quarter, "all"] = QuarterTotals(
                count, to_float(revenue) or 0.0, to_float(tax) or 0.0, to_float(rd) or 0.0
            )
            result[quarter, "core"] = QuarterTotals(count, to_float(core_revenue) or 0.0)
            result[quarter, "key"] = QuarterTotals(key_count, to_float(key_revenue) or 0.0, to_float(key_tax) or 0.0)
        return result

    def totals(self, quarters: list[str], group: str = "all") -> QuarterTotals:
        """Sums over the given quarters for every firm, the core ('core') or the key firms ('key');
        a core total's `firms` counts every firm reporting (data exists), not the core's."""
        total = QuarterTotals()
        for quarter in quarters:
            total = total + self.quarter_sums.get((quarter, group), QuarterTotals())
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
    group = "core" if metric is IndicatorMetric.DIGITAL_CORE_GROWTH else "all"
    now, before = board.totals(current, group), board.totals(previous, group)
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
