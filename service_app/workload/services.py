"""Officers' workload: per officer, firms by tier, open and overdue follow-ups and requests, and
visits this quarter, each a GROUP BY in SQL joined to the officers; sorting and paging in SQL too.

Counts respect the viewer's scope (`scoping.firm_scope`): a street office sees the officers who
serve its street and only that street's figures; an officer sees its own row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from ..domain.followups import UNRESOLVED, FollowupStatus
from ..domain.quarters import Quarter
from ..domain.tiers import FirmStatus, Role, Tier
from ..extensions import db
from ..models import Firm, FirmRequest, Followup, User, Visit, user_streets
from ..scoping import firm_scope, street_ids_for

#: The count columns of a workload row, in display order.
TIER_COLUMNS: dict[Tier, str] = {tier: f"tier_{tier.value}" for tier in Tier}
COUNT_COLUMNS: tuple[str, ...] = (
    *TIER_COLUMNS.values(),
    "unassessed",
    "total",
    "open_followups",
    "overdue_followups",
    "open_requests",
    "overdue_requests",
    "visits",
)
SORTS: tuple[str, ...] = ("name", *COUNT_COLUMNS)
#: A row is flagged as overloaded when its firms exceed the team average by this factor.
OVERLOAD_RATIO = 1.25
PER_PAGE = 50


@dataclass
class WorkloadFilters:
    """What the workload table is narrowed and ordered by."""

    street_id: int | None = None
    q: str = ""
    sort: str = "total"
    descending: bool = True


@dataclass
class WorkloadSummary:
    """The table's totals and averages over every row that matches (not only the page)."""

    officers: int
    totals: dict[str, int]
    average_total: float
    average_overdue: float
    #: Firms in scope that no officer holds.
    unassigned: int

    def overloaded(self, total: int) -> bool:
        """More firms than the team average by OVERLOAD_RATIO (never with fewer than two officers)."""
        return self.officers > 1 and total > self.average_total * OVERLOAD_RATIO


class RowPagination(Pagination):
    """Flask-SQLAlchemy's pagination over a select of rows (db.paginate keeps only the first
    column); items are mappings of column name to value."""

    def _query_items(self) -> list[Any]:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(db.session.execute(select).mappings().all())

    def _query_count(self) -> int:
        if self._query_args.get("total") is not None:  # already counted (the summary's officers)
            return int(self._query_args["total"])
        sub = self._query_args["select"].order_by(None).subquery()
        return int(db.session.execute(sa.select(sa.func.count()).select_from(sub)).scalar() or 0)


def _firm_where(user: User, street_id: int | None) -> list[sa.ColumnElement[bool]]:
    where = [firm_scope(user)]
    if street_id is not None:
        where.append(Firm.street_id == street_id)
    return where


def _load_subqueries(user: User, street_id: int | None, today: dt.date) -> list[Any]:
    """One grouped subquery per source of work, each keyed by `officer_id`."""
    where = _firm_where(user, street_id)
    firms = (
        sa.select(
            Firm.officer_id.label("officer_id"),
            *(sa.func.count().filter(Firm.current_tier == tier).label(name) for tier, name in TIER_COLUMNS.items()),
            sa.func.count().filter(Firm.current_tier.is_(None)).label("unassessed"),
            sa.func.count().label("total"),
        )
        .where(Firm.officer_id.is_not(None), Firm.status != FirmStatus.DEREGISTERED, *where)
        .group_by(Firm.officer_id)
        .subquery("firm_load")
    )
    followups = (
        sa.select(
            Followup.officer_id.label("officer_id"),
            sa.func.count().label("open_followups"),
            sa.func.count().filter(Followup.due_date < today).label("overdue_followups"),
        )
        .join(Firm, Firm.id == Followup.firm_id)
        .where(Followup.officer_id.is_not(None), Followup.status == FollowupStatus.OPEN, *where)
        .group_by(Followup.officer_id)
        .subquery("followup_load")
    )
    # A request is the owner's once assigned (交办) to an officer, the firm's officer until then.
    holder = sa.func.coalesce(FirmRequest.owner_id, Firm.officer_id)
    requests = (
        sa.select(
            holder.label("officer_id"),
            sa.func.count().label("open_requests"),
            sa.func.count().filter(FirmRequest.deadline < today).label("overdue_requests"),
        )
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .where(holder.is_not(None), FirmRequest.status.in_(UNRESOLVED), *where)
        .group_by(holder)
        .subquery("request_load")
    )
    quarter = Quarter.of(today)
    visits = (
        sa.select(Visit.officer_id.label("officer_id"), sa.func.count().label("visits"))
        .join(Firm, Firm.id == Visit.firm_id)
        .where(Visit.officer_id.is_not(None), Visit.visited_on.between(quarter.first_day, quarter.last_day), *where)
        .group_by(Visit.officer_id)
        .subquery("visit_load")
    )
    return [firms, followups, requests, visits]


def workload_select(user: User, filters: WorkloadFilters, today: dt.date) -> sa.Select[Any]:
    """One row per officer the user may see: id, username, display_name, active, then COUNT_COLUMNS."""
    subqueries = _load_subqueries(user, filters.street_id, today)
    columns = {
        column.name: sa.func.coalesce(column, 0).label(column.name)
        for sub in subqueries
        for column in sub.c
        if column.name != "officer_id"
    }
    query = sa.select(User.id, User.username, User.display_name, User.active, *(columns[n] for n in COUNT_COLUMNS))
    for sub in subqueries:
        query = query.outerjoin(sub, sub.c.officer_id == User.id)
    query = query.where(User.role == Role.OFFICER)
    if user.role == Role.OFFICER:
        query = query.where(User.id == user.id)
    else:
        # Active officers who cover the streets in view, and anyone holding work in them.
        relevant = [filters.street_id] if filters.street_id is not None else street_ids_for(user)
        covers: sa.ColumnElement[bool] = User.active.is_(True)
        if relevant is not None:
            covers = sa.and_(
                covers,
                sa.exists().where(user_streets.c.user_id == User.id, user_streets.c.street_id.in_(relevant)),
            )
        holds_work = sa.or_(*(sub.c.officer_id.is_not(None) for sub in subqueries))
        query = query.where(sa.or_(covers, holds_work))
    text = filters.q.strip()[:64]
    if text:
        query = query.where(
            sa.or_(User.username.contains(text, autoescape=True), User.display_name.contains(text, autoescape=True))
        )
    if filters.sort == "name":
        order: list[Any] = [User.display_name, User.username]
        if filters.descending:
            order = [o.desc() for o in order]
    else:
        column = columns[filters.sort if filters.sort in COUNT_COLUMNS else "total"]
        order = [column.desc() if filters.descending else column.asc(), User.username]
    return query.order_by(*order, User.id)


def workload_page(
    user: User, filters: WorkloadFilters, today: dt.date, page: int | None = None, *, total: int | None = None
) -> RowPagination:
    """A page of workload rows (`total`: the number of rows when known, which saves counting them)."""
    return RowPagination(
        select=workload_select(user, filters, today), total=total, page=page, per_page=PER_PAGE, error_out=False
    )


def workload_summary(user: User, filters: WorkloadFilters, today: dt.date) -> WorkloadSummary:
    """Totals and averages over all matching rows, and the firms nobody holds."""
    rows = workload_select(user, filters, today).order_by(None).subquery()
    found = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.avg(rows.c.total),
            sa.func.avg(rows.c.overdue_followups),
            *(sa.func.sum(rows.c[name]) for name in COUNT_COLUMNS),
        )
    ).one()
    officers, average_total, average_overdue, *sums = found
    unassigned = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Firm)
        .where(Firm.officer_id.is_(None), Firm.status != FirmStatus.DEREGISTERED, *_firm_where(user, filters.street_id))
    )
    return WorkloadSummary(
        officers=int(officers or 0),
        totals={name: int(value or 0) for name, value in zip(COUNT_COLUMNS, sums, strict=True)},
        average_total=float(average_total or 0),
        average_overdue=float(average_overdue or 0),
        unassigned=int(unassigned or 0),
    )


def rebalance_firms_select(source: User, tier: str, street_id: int | None) -> sa.Select[Any]:
    """The source officer's firms under the rebalance page's filters (tier value, `none`, or any)."""
    query = sa.select(Firm).where(Firm.officer_id == source.id)
    if tier == "none":
        query = query.where(Firm.current_tier.is_(None))
    elif tier in {t.value for t in Tier}:
        query = query.where(Firm.current_tier == Tier(tier))
    if street_id is not None:
        query = query.where(Firm.street_id == street_id)
    return query.order_by(Firm.street_id, Firm.name, Firm.id)


def tiers_filter(tier: str) -> list[Tier | None] | None:
    """The tier filter as `followups.services.reassign_firms` takes it."""
    if tier == "none":
        return [None]
    if tier in {t.value for t in Tier}:
        return [Tier(tier)]
    return None
