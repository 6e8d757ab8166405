"""楼宇经济: each building's firms, tier mix and tax per m² over the last four quarters (TTM), the
ranking, and the 亿元楼 (TTM tax ≥ 1亿元) with their candidates (≥ 8,000万元).

A building's figures add up the firms in the user's scope that sit in it today; tax per m² divides
by the building's lettable floor area (元 per m², money being in 万元). All sums are SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from ..charts import to_float
from ..domain.indicators import building_class
from ..domain.quarters import Quarter
from ..domain.tiers import Tier
from ..extensions import db
from ..models import Building, Firm, QuarterlyMetric, Street, User
from ..scoping import firm_scope, street_ids_for

#: 元 in a 万元: tax per m² is shown in 元.
YUAN_PER_WAN = 10_000
#: Sort orders of the ranking.
SORTS = ("per_m2", "tax_ttm", "growth", "firms", "name")


class RowPagination(SelectPagination):
    """db.paginate for a select of several columns: its items are rows, not first columns."""

    def _query_items(self) -> list[Any]:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def paginate_rows(select: sa.Select[Any], page: int, per_page: int) -> RowPagination:
    """A page of a multi-column select (the pager macro reads it like db.paginate's)."""
    return RowPagination(select=select, session=db.session(), page=page, per_page=per_page, error_out=False)


def building_scope(user: User) -> sa.ColumnElement[bool]:
    """Buildings in the streets the user sees."""
    ids = street_ids_for(user)
    if ids is None:
        return sa.true()
    return Building.street_id.in_(ids) if ids else sa.false()


def ttm_keys(latest: Quarter) -> tuple[list[str], list[str]]:
    """The four quarters ending at `latest`, and the four a year before them."""
    return [q.key for q in latest.trailing(4)], [q.key for q in (latest - 4).trailing(4)]


def figures_query(user: User, latest: Quarter | None) -> sa.Select[Any]:
    """Every building in scope with its firms, key firms, TTM tax, TTM tax a year earlier, tax per
    m² and rank by tax per m² (1 = highest; buildings without tax or area come last, unranked)."""
    scope = firm_scope(user)
    counts = (
        sa.select(
            Firm.building_id.label("building_id"),
            sa.func.count().label("firms"),
            sa.func.count().filter(Firm.current_tier == Tier.KEY).label("key_firms"),
        )
        .where(scope, Firm.building_id.is_not(None))
        .group_by(Firm.building_id)
        .subquery()
    )
    now, before = ttm_keys(latest) if latest else ([""], [""])
    m = QuarterlyMetric
    taxes = (
        sa.select(
            Firm.building_id.label("building_id"),
            # Ranges, not IN lists: a comparison per row instead of a lookup.
            sa.func.sum(sa.case((m.quarter >= now[0], m.tax))).label("tax_ttm"),
            sa.func.sum(sa.case((m.quarter < now[0], m.tax))).label("tax_before"),
        )
        .join(Firm, Firm.id == m.firm_id)
        .where(scope, Firm.building_id.is_not(None), m.quarter.between(before[0], now[-1]) if latest else sa.false())
        .group_by(Firm.building_id)
        .subquery()
    )
    per_m2 = sa.case(
        (Building.floor_area_m2 > 0, taxes.c.tax_ttm * YUAN_PER_WAN / Building.floor_area_m2),
    )
    growth = sa.case(
        (taxes.c.tax_before > 0, (taxes.c.tax_ttm / taxes.c.tax_before - 1) * 100),
    )
    return (
        sa.select(
            Building.id,
            Building.name,
            Building.street_id,
            Street.name.label("street"),
            Building.floor_area_m2,
            Building.is_key,
            Building.is_star,
            sa.func.coalesce(counts.c.firms, 0),
            sa.func.coalesce(counts.c.key_firms, 0),
            taxes.c.tax_ttm,
            taxes.c.tax_before,
            growth,
            per_m2,
            sa.case((per_m2.is_not(None), sa.func.rank().over(order_by=per_m2.desc().nulls_last()))),
        )
        .join(Street, Street.id == Building.street_id)
        .outerjoin(counts, counts.c.building_id == Building.id)
        .outerjoin(taxes, taxes.c.building_id == Building.id)
        .where(building_scope(user))
    )


@dataclass(frozen=True)
class BuildingFigures:
    """One building's figures over the last four quarters (money in 万元, tax per m² in 元)."""

    id: int
    name: str
    street_id: int
    street: str
    area: float | None
    is_key: bool
    is_star: bool
    firms: int
    key_firms: int
    tax_ttm: float | None
    tax_before: float | None
    growth: float | None  # percent, TTM tax against the TTM a year earlier
    per_m2: float | None
    rank: int | None  # by tax per m² among the buildings in scope

    @property
    def mark(self) -> str:
        """'yiyuan' (亿元楼), 'candidate' or ''."""
        return building_class(self.tax_ttm)


def building_figures(user: User, latest: Quarter | None) -> list[BuildingFigures]:
    """Every building in scope with its figures, in one aggregate query (a platform has hundreds of
    buildings, not tens of thousands: the ranking page filters, sorts and pages this list)."""
    rows = db.session.execute(figures_query(user, latest)).all()
    return [
        BuildingFigures(
            id=row[0],
            name=row[1],
            street_id=row[2],
            street=row[3],
            area=to_float(row[4]),
            is_key=bool(row[5]),
            is_star=bool(row[6]),
            firms=row[7],
            key_firms=row[8],
            tax_ttm=to_float(row[9]),
            tax_before=to_float(row[10]),
            growth=to_float(row[11]),
            per_m2=to_float(row[12]),
            rank=row[13],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class RankingFilters:
    """The ranking page's search, filters and order."""

    q: str = ""
    street_id: int | None = None
    mark: str = ""  # yiyuan (亿元楼), candidate, key (重点楼宇) or star (星级楼宇)
    sort: str = "per_m2"


def _matches(building: BuildingFigures, filters: RankingFilters) -> bool:
    if filters.q and filters.q.casefold() not in building.name.casefold():
        return False
    if filters.street_id and building.street_id != filters.street_id:
        return False
    if filters.mark in ("yiyuan", "candidate"):
        return building.mark == filters.mark
    if filters.mark == "key":
        return building.is_key
    if filters.mark == "star":
        return building.is_star
    return True


def ranking(buildings: list[BuildingFigures], filters: RankingFilters) -> list[BuildingFigures]:
    """The buildings that match, in the chosen order (largest first, missing figures last; ties by name)."""
    found = [b for b in buildings if _matches(b, filters)]
    if filters.sort == "name":
        return sorted(found, key=lambda b: (b.name, b.id))
    field = filters.sort if filters.sort in ("tax_ttm", "growth", "firms") else "per_m2"

    def order(building: BuildingFigures) -> tuple[bool, float, str, int]:
        value = getattr(building, field)
        return (value is None, -(value or 0), building.name, building.id)

    return sorted(found, key=order)


def yiyuan_buildings(buildings: list[BuildingFigures]) -> list[BuildingFigures]:
    """亿元楼 and their candidates (TTM tax ≥ 8,000万元), most tax first."""
    marked = [b for b in buildings if b.mark]
    return sorted(marked, key=lambda b: (-(b.tax_ttm or 0), b.name))


def ranking_totals(buildings: list[BuildingFigures]) -> dict[str, Any]:
    """Buildings, firms in them, their TTM tax, 亿元楼 and candidates, in scope."""
    taxes = [b.tax_ttm for b in buildings if b.tax_ttm is not None]
    return {
        "buildings": len(buildings),
        "firms": sum(b.firms for b in buildings),
        "tax": sum(taxes) if taxes else None,
        "yiyuan": sum(1 for b in buildings if b.mark == "yiyuan"),
        "candidates": sum(1 for b in buildings if b.mark == "candidate"),
    }


class ListPagination(Pagination):
    """A page of a list already in memory, for the pager macro (like db.paginate's pages)."""

    def _query_items(self) -> list[Any]:
        return list(self._query_args["items"][self._query_offset : self._query_offset + self.per_page])

    def _query_count(self) -> int:
        return len(self._query_args["items"])


def paginate_list(items: list[Any], page: int, per_page: int) -> ListPagination:
    """One page of a list."""
    return ListPagination(items=items, page=page, per_page=per_page, error_out=False)


def tier_mix(user: User, building_id: int) -> dict[str, int]:
    """The building's firms (in scope) per tier, 'none' for not assessed."""
    rows = db.session.execute(
        sa.select(Firm.current_tier, sa.func.count())
        .where(firm_scope(user), Firm.building_id == building_id)
        .group_by(Firm.current_tier)
    )
    return {(tier.value if tier else "none"): count for tier, count in rows}


def quarterly_tax(user: User, building_id: int, latest: Quarter, quarters: int) -> dict[str, tuple[int, float]]:
    """Per quarter of the `quarters` ending at `latest`: firms reporting and their tax (万元)."""
    first = (latest - (quarters - 1)).key
    rows = db.session.execute(
        sa.select(QuarterlyMetric.quarter, sa.func.count(), sa.func.sum(QuarterlyMetric.tax))
        .join(Firm, Firm.id == QuarterlyMetric.firm_id)
        .where(firm_scope(user), Firm.building_id == building_id, QuarterlyMetric.quarter.between(first, latest.key))
        .group_by(QuarterlyMetric.quarter)
    )
    return {quarter: (count, to_float(tax) or 0.0) for quarter, count, tax in rows}


def building_firms(user: User, building_id: int, latest: Quarter | None, q: str) -> sa.Select[Any]:
    """The building's firms in scope, with their TTM tax and latest reported floor area, most tax first."""
    now = ttm_keys(latest)[0] if latest else []
    m = QuarterlyMetric
    ttm = (
        sa.select(
            m.firm_id.label("firm_id"),
            sa.func.sum(m.tax).label("tax_ttm"),
            sa.func.max(m.quarter).label("last_quarter"),
        )
        .join(Firm, Firm.id == m.firm_id)
        .where(Firm.building_id == building_id, m.quarter.in_(now))
        .group_by(m.firm_id)
        .subquery()
    )
    area = m.__table__.alias("area")  # type: ignore[attr-defined]
    query = (
        sa.select(Firm, ttm.c.tax_ttm, area.c.floor_area_m2)
        .outerjoin(ttm, ttm.c.firm_id == Firm.id)
        .outerjoin(area, sa.and_(area.c.firm_id == Firm.id, area.c.quarter == ttm.c.last_quarter))
        .where(firm_scope(user), Firm.building_id == building_id)
    )
    if q:
        query = query.where(sa.or_(Firm.name.contains(q, autoescape=True), Firm.credit_code == q.upper()))
    return query.order_by(ttm.c.tax_ttm.desc().nulls_last(), Firm.name, Firm.id)
