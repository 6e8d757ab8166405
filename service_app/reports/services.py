"""The quarter report: one quarter's figures for each street a user sees, and their sum.

Every figure is a GROUP BY over the street (属地) in SQL; Python only adds the handful of street
rows into the total. The definitions (口径) are written on the workbook's cover and the page:

- tiers: the tier assignments *for* the quarter (approval writes one per firm per quarter), by
  the firm's chain; 未评定 are active firms without one that were on the roster by the quarter's
  end or reported figures for the quarter;
- changes: the previous quarter's assignment against this quarter's (either may be missing);
- key-service money: the quarter's figures of the firms holding `key` for the quarter; growth is
  year on year (同比) over the firms that reported the value in both quarters (同口径);
- follow-ups: those due in the quarter (not cancelled), how many are done, how many are still
  open past their due date; visits logged in the quarter;
- requests: received in the quarter and how many of those ran past their deadline (resolved
  after it, or unresolved and past it); closed in the quarter; resolved in the quarter and the
  average whole days from 受理 to 办结; satisfaction of the 回访 calls made in the quarter.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..database import china_date, days_between
from ..domain.followups import UNRESOLVED, FollowupStatus, RequestStatus, Satisfaction
from ..domain.quarters import Quarter
from ..domain.tiers import Chain, FirmStatus, Tier
from ..domain.workdays import CHINA, china_today
from ..extensions import db
from ..models import Firm, FirmRequest, Followup, QuarterlyMetric, RequestStep, Street, TierAssignment, User, Visit
from ..scoping import firm_scope, street_ids_for

#: Stands for "no tier" and "no chain" in the counters.
NONE = "none"
#: Rows of the tier tables, best first, then not assessed.
TIER_KEYS: tuple[str, ...] = (*(t.value for t in Tier), NONE)
#: Columns of the tier × chain table, then no chain given.
CHAIN_KEYS: tuple[str, ...] = (*(c.value for c in Chain), NONE)
_TIER_RANK = {tier.value: rank for rank, tier in enumerate(Tier)}
ZERO = Decimal("0.00")


class ReportError(ValueError):
    """A report that cannot be made as asked (a street outside the user's scope)."""


@dataclass
class Figures:
    """One area's figures for a quarter: a street, or the sum of several."""

    #: (tier or NONE, chain or NONE) → firms.
    tier_chain: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (previous quarter's tier or NONE, this quarter's or NONE) → firms.
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    key_firms: int = 0
    #: Key-service firms with a figures row for the quarter.
    key_reporting: int = 0
    revenue: Decimal = ZERO
    tax: Decimal = ZERO
    #: Revenue this quarter and a year before, of the key firms that reported it in both.
    revenue_comparable: Decimal = ZERO
    revenue_year_ago: Decimal = ZERO
    tax_comparable: Decimal = ZERO
    tax_year_ago: Decimal = ZERO
    followups_planned: int = 0
    followups_done: int = 0
    followups_overdue: int = 0
    visits: int = 0
    requests_opened: int = 0
    #: Of the requests opened in the quarter, those that ran past their deadline.
    requests_overdue: int = 0
    requests_closed: int = 0
    requests_resolved: int = 0
    #: Whole days from 受理 to 办结, summed over the requests resolved in the quarter.
    resolve_days: int = 0
    #: Satisfaction value → 回访 calls in the quarter.
    satisfaction: Counter[str] = field(default_factory=Counter)

    def add(self, other: Figures) -> None:
        """Add another area's figures to these (the total of several streets)."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def tier_total(self, tier: str) -> int:
        """Firms of one tier (or NONE), all chains."""
        return sum(count for (t, _chain), count in self.tier_chain.items() if t == tier)

    def chain_total(self, chain: str) -> int:
        """Firms of one chain (or NONE), all tiers."""
        return sum(count for (_tier, c), count in self.tier_chain.items() if c == chain)

    @property
    def assessed(self) -> int:
        """Firms with a tier for the quarter."""
        return sum(count for (tier, _chain), count in self.tier_chain.items() if tier != NONE)

    @property
    def firms(self) -> int:
        """Firms counted in the tier table (assessed and not)."""
        return sum(self.tier_chain.values())

    @property
    def changes(self) -> dict[str, int]:
        """The transitions in words: up, down, same, new (no tier before), left (none now)."""
        tally = dict.fromkeys(("up", "down", "same", "new", "left"), 0)
        for (before, after), count in self.transitions.items():
            if before == NONE:
                tally["new"] += count
            elif after == NONE:
                tally["left"] += count
            elif before == after:
                tally["same"] += count
            else:
                tally["up" if _TIER_RANK[after] < _TIER_RANK[before] else "down"] += count
        return tally

    @property
    def revenue_growth(self) -> float | None:
        """Year-on-year growth of comparable revenue; None without a base."""
        return _growth(self.revenue_comparable, self.revenue_year_ago)

    @property
    def tax_growth(self) -> float | None:
        """Year-on-year growth of comparable tax; None without a base."""
        return _growth(self.tax_comparable, self.tax_year_ago)

    @property
    def average_resolve_days(self) -> float | None:
        """Average whole days from 受理 to 办结; None when nothing was resolved."""
        return self.resolve_days / self.requests_resolved if self.requests_resolved else None

    @property
    def satisfaction_total(self) -> int:
        return sum(self.satisfaction.values())

    @property
    def satisfaction_rate(self) -> float | None:
        """满意 plus 基本满意 over all answers; None without answers."""
        total = self.satisfaction_total
        if not total:
            return None
        pleased = self.satisfaction[Satisfaction.SATISFIED.value] + self.satisfaction[Satisfaction.MOSTLY.value]
        return pleased / total


def _growth(now: Decimal, before: Decimal) -> float | None:
    if not before:
        return None
    return float((now - before) / before)


@dataclass
class StreetFigures:
    """One street's section of the report."""

    street: Street
    figures: Figures


@dataclass
class QuarterReport:
    """A quarter's figures: per street and their total, with the quarters compared against."""

    quarter: Quarter
    streets: list[StreetFigures]
    total: Figures
    #: True when the total covers every street (the platform), False for a subset.
    whole_platform: bool
    today: dt.date

    @property
    def previous(self) -> Quarter:
        return self.quarter - 1

    @property
    def year_ago(self) -> Quarter:
        return self.quarter - 4

    @property
    def street_names(self) -> str:
        return "、".join(s.street.name for s in self.streets)


def report_quarters() -> list[str]:
    """Quarters that have figures or tiers, newest first, with the current quarter."""
    keys = set(db.session.scalars(sa.select(QuarterlyMetric.quarter).distinct()))
    keys |= set(db.session.scalars(sa.select(TierAssignment.quarter).distinct()))
    keys.add(Quarter.of(china_today()).key)
    return sorted(keys, reverse=True)


def default_report_quarter() -> Quarter:
    """The latest quarter with figures, else with tiers, else the current quarter."""
    latest = db.session.scalar(sa.select(sa.func.max(QuarterlyMetric.quarter))) or db.session.scalar(
        sa.select(sa.func.max(TierAssignment.quarter))
    )
    return Quarter.parse(latest) if latest else Quarter.of(china_today())


def report_quarter(text: str | None) -> Quarter:
    """The quarter asked for (any accepted form), or the default; ValueError when it cannot be read
    or has no year before it to compare with."""
    quarter = Quarter.parse(text) if text else default_report_quarter()
    if quarter.year <= 1900:
        raise ValueError(f"{quarter.key} has no year before it to compare with")
    return quarter


def report_streets(user: User | None, street_id: int | None = None) -> list[Street]:
    """The streets a report covers: those the user sees (None: all), or the one asked for."""
    query = sa.select(Street).order_by(Street.id)
    ids = street_ids_for(user) if user is not None else None
    if ids is not None:
        query = query.where(Street.id.in_(ids))
    if street_id is not None:
        query = query.where(Street.id == street_id)
    streets = list(db.session.scalars(query))
    if street_id is not None and not streets:
        raise ReportError(f"street {street_id} is not in the user's scope")
    return streets


def _utc_start(day: dt.date) -> dt.datetime:
    """Midnight of a Beijing day, in UTC (timestamps are stored in UTC)."""
    return dt.datetime.combine(day, dt.time(), CHINA).astimezone(dt.UTC)


def quarter_report(
    user: User | None, quarter: Quarter, street_id: int | None = None, *, today: dt.date | None = None
) -> QuarterReport:
    """The quarter's figures for every street the user sees (or the one asked for), and their sum."""
    streets = report_streets(user, street_id)
    today = today or china_today()
    by_street = {street.id: Figures() for street in streets}
    where: list[sa.ColumnElement[bool]] = [Firm.street_id.in_(list(by_street))]
    if user is not None:
        where.append(firm_scope(user))
    if by_street:
        _count_tiers(by_street, where, quarter)
        _count_transitions(by_street, where, quarter)
        _count_key_money(by_street, where, quarter)
        _count_followups(by_street, where, quarter, today)
        _count_requests(by_street, where, quarter, today)
    total = Figures()
    for figures in by_street.values():
        total.add(figures)
    whole = street_id is None and (user is None or user.sees_all_streets)
    return QuarterReport(
        quarter, [StreetFigures(s, by_street[s.id]) for s in streets], total, whole_platform=whole, today=today
    )


def _rows(query: sa.Executable) -> Iterable[Sequence[Any]]:
    return db.session.execute(query).all()


def _count_tiers(by_street: dict[int, Figures], where: list[sa.ColumnElement[bool]], quarter: Quarter) -> None:
    """Tier × chain from the quarter's assignments; 未评定 for active firms without one that were on the
    roster by the quarter's end or reported figures for it."""
    assigned = (
        sa.select(Firm.street_id, TierAssignment.tier, Firm.chain, sa.func.count())
        .join(Firm, Firm.id == TierAssignment.firm_id)
        .where(TierAssignment.quarter == quarter.key, *where)
        .group_by(Firm.street_id, TierAssignment.tier, Firm.chain)
    )
    for street, tier, chain, count in _rows(assigned):
        by_street[street].tier_chain[(tier.value, chain.value if chain else NONE)] += count
    has_tier = sa.exists().where(TierAssignment.firm_id == Firm.id, TierAssignment.quarter == quarter.key)
    reported = sa.exists().where(QuarterlyMetric.firm_id == Firm.id, QuarterlyMetric.quarter == quarter.key)
    unassessed = (
        sa.select(Firm.street_id, Firm.chain, sa.func.count())
        .where(
            Firm.status == FirmStatus.ACTIVE,
            sa.or_(Firm.created_at < _utc_start(quarter.last_day + dt.timedelta(days=1)), reported),
            ~has_tier,
            *where,
        )
        .group_by(Firm.street_id, Firm.chain)
    )
    for street, chain, count in _rows(unassessed):
        by_street[street].tier_chain[(NONE, chain.value if chain else NONE)] += count


def _count_transitions(by_street: dict[int, Figures], where: list[sa.ColumnElement[bool]], quarter: Quarter) -> None:
    """The previous quarter's tier against this quarter's, for firms with either."""
    before = aliased(TierAssignment)
    after = aliased(TierAssignment)
    query = (
        sa.select(Firm.street_id, before.tier, after.tier, sa.func.count())
        .select_from(Firm)
        .outerjoin(before, sa.and_(before.firm_id == Firm.id, before.quarter == (quarter - 1).key))
        .outerjoin(after, sa.and_(after.firm_id == Firm.id, after.quarter == quarter.key))
        .where(sa.or_(before.id.is_not(None), after.id.is_not(None)), *where)
        .group_by(Firm.street_id, before.tier, after.tier)
    )
    for street, tier_before, tier_after, count in _rows(query):
        key = (tier_before.value if tier_before else NONE, tier_after.value if tier_after else NONE)
        by_street[street].transitions[key] += count


def _count_key_money(by_street: dict[int, Figures], where: list[sa.ColumnElement[bool]], quarter: Quarter) -> None:
    """Revenue and tax of the quarter's key-service firms, and the same firms' a year before."""
    now = aliased(QuarterlyMetric)
    then = aliased(QuarterlyMetric)
    revenue_both = sa.and_(now.revenue.is_not(None), then.revenue.is_not(None))
    tax_both = sa.and_(now.tax.is_not(None), then.tax.is_not(None))
    query = (
        sa.select(
            Firm.street_id,
            sa.func.count(),
            sa.func.count(now.id),
            sa.func.sum(now.revenue),
            sa.func.sum(now.tax),
            sa.func.sum(sa.case((revenue_both, now.revenue))),
            sa.func.sum(sa.case((revenue_both, then.revenue))),
            sa.func.sum(sa.case((tax_both, now.tax))),
            sa.func.sum(sa.case((tax_both, then.tax))),
        )
        .select_from(TierAssignment)
        .join(Firm, Firm.id == TierAssignment.firm_id)
        .outerjoin(now, sa.and_(now.firm_id == Firm.id, now.quarter == quarter.key))
        .outerjoin(then, sa.and_(then.firm_id == Firm.id, then.quarter == (quarter - 4).key))
        .where(TierAssignment.quarter == quarter.key, TierAssignment.tier == Tier.KEY, *where)
        .group_by(Firm.street_id)
    )
    for street, firms, reporting, *money in _rows(query):
        figures = by_street[street]
        figures.key_firms, figures.key_reporting = firms, reporting
        (
            figures.revenue,
            figures.tax,
            figures.revenue_comparable,
            figures.revenue_year_ago,
            figures.tax_comparable,
            figures.tax_year_ago,
        ) = (_money(value) for value in money)


def _money(value: Any) -> Decimal:
    """A summed money value as an exact two-decimal Decimal (SQLite sums floats)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _count_followups(
    by_street: dict[int, Figures], where: list[sa.ColumnElement[bool]], quarter: Quarter, today: dt.date
) -> None:
    """Follow-ups due in the quarter (done, still open past due) and visits logged in it."""
    in_quarter = Followup.due_date.between(quarter.first_day, quarter.last_day)
    followups = (
        sa.select(
            Firm.street_id,
            sa.func.count(),
            sa.func.count().filter(Followup.status == FollowupStatus.DONE),
            sa.func.count().filter(Followup.status == FollowupStatus.OPEN, Followup.due_date < today),
        )
        .select_from(Followup)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(in_quarter, Followup.status != FollowupStatus.CANCELLED, *where)
        .group_by(Firm.street_id)
    )
    for street, planned, done, overdue in _rows(followups):
        figures = by_street[street]
        figures.followups_planned, figures.followups_done, figures.followups_overdue = planned, done, overdue
    visits = (
        sa.select(Firm.street_id, sa.func.count())
        .select_from(Visit)
        .join(Firm, Firm.id == Visit.firm_id)
        .where(Visit.visited_on.between(quarter.first_day, quarter.last_day), *where)
        .group_by(Firm.street_id)
    )
    for street, count in _rows(visits):
        by_street[street].visits = count


def _first_step(status: RequestStatus) -> Any:
    """Per request, when it first reached `status`."""
    return (
        sa.select(RequestStep.request_id, sa.func.min(RequestStep.created_at).label("at"))
        .where(RequestStep.status == status)
        .group_by(RequestStep.request_id)
        .subquery()
    )


def _count_requests(
    by_street: dict[int, Figures], where: list[sa.ColumnElement[bool]], quarter: Quarter, today: dt.date
) -> None:
    """Requests opened (and how many ran late), closed, resolved (and how fast), and satisfaction."""
    start, end = _utc_start(quarter.first_day), _utc_start(quarter.last_day + dt.timedelta(days=1))
    resolved = _first_step(RequestStatus.RESOLVED)
    late = sa.or_(
        sa.and_(resolved.c.at.is_(None), FirmRequest.status.in_(UNRESOLVED), FirmRequest.deadline < today),
        sa.and_(resolved.c.at.is_not(None), china_date(resolved.c.at) > FirmRequest.deadline),
    )
    opened = (
        sa.select(Firm.street_id, sa.func.count(), sa.func.count().filter(late))
        .select_from(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .outerjoin(resolved, resolved.c.request_id == FirmRequest.id)
        .where(FirmRequest.received_on.between(quarter.first_day, quarter.last_day), *where)
        .group_by(Firm.street_id)
    )
    for street, count, overdue in _rows(opened):
        by_street[street].requests_opened, by_street[street].requests_overdue = count, overdue
    closed = (
        sa.select(Firm.street_id, sa.func.count())
        .select_from(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .where(FirmRequest.closed_at >= start, FirmRequest.closed_at < end, *where)
        .group_by(Firm.street_id)
    )
    for street, count in _rows(closed):
        by_street[street].requests_closed = count
    days = days_between(FirmRequest.received_on, china_date(resolved.c.at))
    finished = (
        sa.select(Firm.street_id, sa.func.count(), sa.func.sum(days))
        .select_from(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .join(resolved, resolved.c.request_id == FirmRequest.id)
        .where(resolved.c.at >= start, resolved.c.at < end, *where)
        .group_by(Firm.street_id)
    )
    for street, count, total_days in _rows(finished):
        by_street[street].requests_resolved, by_street[street].resolve_days = count, int(total_days or 0)
    revisited = _first_step(RequestStatus.REVISITED)
    answers = (
        sa.select(Firm.street_id, FirmRequest.satisfaction, sa.func.count())
        .select_from(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .join(revisited, revisited.c.request_id == FirmRequest.id)
        .where(revisited.c.at >= start, revisited.c.at < end, FirmRequest.satisfaction.is_not(None), *where)
        .group_by(Firm.street_id, FirmRequest.satisfaction)
    )
    for street, satisfaction, count in _rows(answers):
        by_street[street].satisfaction[satisfaction.value] += count
