"""The buildings pages' chart tables: the ranking, 亿元楼 and candidates, a building's tier mix and
its tax-per-m² trend."""

from __future__ import annotations

from collections.abc import Sequence

from flask import url_for
from flask_babel import gettext as _

from ..charts import TIER_COLOURS, ChartTable, Column
from ..dashboard.charts import TIER_KEYS, tier_label
from ..domain.indicators import YIYUAN_TAX, share_percent
from ..domain.quarters import Quarter
from .services import YUAN_PER_WAN, BuildingFigures

#: How many buildings the ranking chart shows.
TOP = 20


def mark_label(mark: str) -> str:
    """亿元楼 or candidate, in words."""
    return {"yiyuan": _("100-million building"), "candidate": _("100-million candidate")}.get(mark, "")


def ranking_table(rows: Sequence[BuildingFigures], name: str, title: str) -> ChartTable:
    """Buildings with their rank, firms, TTM tax and tax per m² (元), as the ranking shows them."""
    table = ChartTable(
        name,
        title,
        "hbar",
        [
            Column("building", _("Building")),
            Column("rank", _("Rank"), "count"),
            Column("street", _("Street")),
            Column("area", _("Floor area (m²)"), "decimal"),
            Column("firms", _("Firms"), "count"),
            Column("key_firms", _("Key-service firms"), "count"),
            Column("tax_ttm", _("Tax, last four quarters (10k CNY)"), "decimal"),
            Column("growth", _("Tax growth on a year earlier (%)"), "percent"),
            Column("per_m2", _("Tax per m² (CNY)"), "decimal"),
            Column("mark", _("100-million building")),
        ],
        series=("per_m2",),
        options={"colors": ["#0d6efd"]},
    )
    for row in rows:
        table.add(
            [
                row.name,
                row.rank,
                row.street,
                row.area,
                row.firms,
                row.key_firms,
                row.tax_ttm,
                row.growth,
                row.per_m2,
                mark_label(row.mark),
            ],
            url_for("buildings.detail", building_id=row.id),
        )
    return table


def yiyuan_table(rows: Sequence[BuildingFigures]) -> ChartTable:
    """亿元楼 and candidates, with what each candidate still lacks."""
    table = ChartTable(
        "yiyuan",
        _("100-million buildings and candidates"),
        "hbar",
        [
            Column("building", _("Building")),
            Column("street", _("Street")),
            Column("tax_ttm", _("Tax, last four quarters (10k CNY)"), "decimal"),
            Column("gap", _("Short of 100 million (10k CNY)"), "decimal"),
            Column("mark", _("Class")),
        ],
        series=("tax_ttm",),
        options={"colors": ["#b02a37"]},
    )
    for row in rows:
        tax = row.tax_ttm or 0.0
        table.add(
            [row.name, row.street, tax, max(YIYUAN_TAX - tax, 0.0), mark_label(row.mark)],
            url_for("buildings.detail", building_id=row.id),
        )
    return table


def tier_mix_table(counts: dict[str, int], building_id: int) -> ChartTable:
    """The building's firms per tier."""
    table = ChartTable(
        "tiers",
        _("Firms by tier"),
        "pie",
        [Column("tier", _("Tier")), Column("firms", _("Firms"), "count"), Column("share", _("Share (%)"), "percent")],
        series=("firms",),
        options={"colors": [TIER_COLOURS[k] for k in TIER_KEYS]},
    )
    total = sum(counts.values())
    for key in TIER_KEYS:
        table.add(
            [tier_label(key), counts.get(key, 0), share_percent(counts.get(key, 0), total)],
            url_for("firms.index", building=building_id, tier=key),
        )
    return table


def trend_table(by_quarter: dict[str, tuple[int, float]], latest: Quarter | None, area: float | None) -> ChartTable:
    """Eight quarters of the building's tax, its TTM sum and TTM tax per m² (today's floor area);
    the TTM figures need all four quarters reported."""
    table = ChartTable(
        "trend",
        _("Tax per m², last four quarters, by quarter"),
        "line",
        [
            Column("quarter", _("Quarter")),
            Column("firms", _("Firms reporting"), "count"),
            Column("tax", _("Tax in the quarter (10k CNY)"), "decimal"),
            Column("tax_ttm", _("Tax, last four quarters (10k CNY)"), "decimal"),
            Column("per_m2", _("Tax per m², last four quarters (CNY)"), "decimal"),
        ],
        series=("tax", "per_m2"),
        options={"colors": ["#adb5bd", "#0d6efd"], "bars": ["tax"], "right_axis": ["per_m2"]},
    )
    if latest is None:
        return table
    for quarter in latest.trailing(8):
        window = [by_quarter[q.key] for q in quarter.trailing(4) if q.key in by_quarter]
        firms, tax = by_quarter.get(quarter.key, (0, None))
        ttm = sum(t for _n, t in window) if len(window) == 4 else None  # a full year, or nothing
        per_m2 = ttm * YUAN_PER_WAN / area if ttm is not None and area else None
        table.add([quarter.key, firms, tax, ttm, per_m2])
    return table
