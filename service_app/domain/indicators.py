"""The platform's indicators against its annual targets, and the building thresholds of 楼宇经济.

Plain Python: the dashboard computes the sums in SQL and decides growth and colour here.
"""

from __future__ import annotations

from enum import StrEnum

from .quarters import Quarter


class IndicatorMetric(StrEnum):
    """What a target measures; every one is a percentage for the year to date."""

    REVENUE_GROWTH = "revenue_growth"  # 营业收入增长
    TAX_GROWTH = "tax_growth"  # 税收增长
    DIGITAL_CORE_GROWTH = "digital_growth"  # 数字经济核心产业营收增长
    RD_INTENSITY = "rd_intensity"  # 研发投入强度


class Status(StrEnum):
    """How an indicator stands against its target."""

    GREEN = "green"  # at or above the target
    AMBER = "amber"  # a little short
    RED = "red"  # well short
    NONE = "none"  # no data yet


#: Amber covers a shortfall of up to this share of the target …
AMBER_SHARE = 0.2
#: … and never less than this many percentage points.
AMBER_MIN_POINTS = 1.0

#: 亿元楼: a building whose firms paid at least 1亿元 (10,000 万元) of tax over the last four quarters.
YIYUAN_TAX = 10_000.0
#: Candidates for 亿元楼: at least 8,000 万元 over the last four quarters.
CANDIDATE_TAX = 8_000.0


def growth_percent(current: float | None, previous: float | None) -> float | None:
    """Growth in percent, or None when the earlier figure is missing or not positive."""
    if current is None or previous is None or previous <= 0:
        return None
    return (current / previous - 1) * 100


def share_percent(part: float | None, whole: float | None) -> float | None:
    """A part as a percentage of the whole, or None when the whole is missing or zero."""
    if part is None or not whole:
        return None
    return part / whole * 100


def indicator_status(actual: float | None, target: float) -> Status:
    """Green at or above the target; amber when short by no more than a fifth of the target
    (at least one percentage point); red beyond; none without data."""
    if actual is None:
        return Status.NONE
    if actual >= target:
        return Status.GREEN
    if target - actual <= max(abs(target) * AMBER_SHARE, AMBER_MIN_POINTS):
        return Status.AMBER
    return Status.RED


def year_to_date(latest: Quarter, year: int) -> tuple[list[str], list[str]]:
    """The quarter keys of `year` up to the latest quarter with data, and the same quarters a year
    earlier (the whole year once it is over); both empty when `year` has no data yet."""
    if year > latest.year:
        return [], []
    last = latest.number if year == latest.year else 4
    return [Quarter(year, n).key for n in range(1, last + 1)], [Quarter(year - 1, n).key for n in range(1, last + 1)]


def building_class(tax_ttm: float | None) -> str:
    """'yiyuan' (亿元楼), 'candidate' or '' for a building's tax over the last four quarters (万元)."""
    if tax_ttm is None:
        return ""
    if tax_ttm >= YIYUAN_TAX:
        return "yiyuan"
    if tax_ttm >= CANDIDATE_TAX:
        return "candidate"
    return ""
