"""The dashboard's charts: each turns the Dashboard's figures into one ChartTable, by name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import url_for
from flask_babel import gettext as _

from ..charts import TIER_COLOURS, ChartTable, Column
from ..domain.followups import RequestCategory, Satisfaction
from ..domain.indicators import growth_percent, indicator_status, share_percent
from ..domain.tiers import Chain, Role, Tier
from ..i18n import CHAIN_LABELS, REQUEST_CATEGORY_LABELS, SATISFACTION_LABELS, TIER_LABELS
from .services import TREND_QUARTERS, Dashboard

#: Tier keys in display order; 'none' is a firm not assessed yet.
TIER_KEYS = [t.value for t in Tier] + ["none"]
WORKERS = (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER)
STATUS_COLOURS = {"green": "#198754", "amber": "#fd7e14", "red": "#dc3545", "none": "#adb5bd"}


def tier_label(key: str) -> str:
    """A tier's name, or "Not assessed"."""
    return str(TIER_LABELS[Tier(key)]) if key != "none" else _("Not assessed")


def status_label(status: str) -> str:
    """What an indicator's colour means."""
    return {
        "green": _("On target"),
        "amber": _("Slightly behind"),
        "red": _("Behind"),
        "none": _("No data yet"),
    }[status]


def tiers_overall(board: Dashboard) -> ChartTable:
    """Firms per tier, with shares."""
    counts: Counter[str] = board.tier_counts().get(None, Counter())
    total = sum(counts.values())
    table = ChartTable(
        "tiers",
        _("Firms by tier"),
        "pie",
        [Column("tier", _("Tier")), Column("firms", _("Firms"), "count"), Column("share", _("Share (%)"), "percent")],
        series=("firms",),
        options={"colors": [TIER_COLOURS[k] for k in TIER_KEYS]},
    )
    for key in TIER_KEYS:
        n = counts.get(key, 0)
        table.add([tier_label(key), n, share_percent(n, total)], url_for("firms.index", tier=key))
    return table


def _tiers_by(board: Dashboard, name: str, title: str, first: str, groups: list[tuple[Any, str, str]]) -> ChartTable:
    """Firms per tier for each group (street or chain): counts, then each tier's share."""
    columns = [Column("group", first), Column("total", _("Firms"), "count")]
    for key in TIER_KEYS:
        columns.append(Column(key, tier_label(key), "count"))
        columns.append(Column(f"{key}_share", _("%(tier)s (%%)", tier=tier_label(key)), "percent"))
    table = ChartTable(
        name, title, "stack", columns, series=tuple(TIER_KEYS), options={"colors": [TIER_COLOURS[k] for k in TIER_KEYS]}
    )
    counts = board.tier_counts(name.removeprefix("tiers_by_"))
    for key, label, link in groups:
        row: Counter[str] = counts.get(key, Counter())
        total = sum(row.values())
        values: list[Any] = [label, total]
        for tier in TIER_KEYS:
            values += [row.get(tier, 0), share_percent(row.get(tier, 0), total)]
        table.add(values, link)
    return table


def tiers_by_street(board: Dashboard) -> ChartTable:
    """Firms per tier in each street the user sees."""
    groups = [(s.id, s.name, url_for("firms.index", street=s.id)) for s in board.streets]
    return _tiers_by(board, "tiers_by_street", _("Tiers by street"), _("Street"), groups)


def tiers_by_chain(board: Dashboard) -> ChartTable:
    """Firms per tier in each industry chain (and firms with none)."""
    groups: list[tuple[Any, str, str]] = [
        (c.value, str(CHAIN_LABELS[c]), url_for("firms.index", chain=c.value)) for c in Chain
    ]
    if None in board.tier_counts("chain"):
        groups.append((None, _("No chain"), url_for("firms.index")))
    return _tiers_by(board, "tiers_by_chain", _("Tiers by industry chain"), _("Industry chain"), groups)


def transitions(board: Dashboard) -> ChartTable:
    """The transition matrix: last quarter's tier down, this quarter's across."""
    second = board.tier_quarter
    first = second - 1 if second else None
    columns = [Column("from", _("From \\ to"))]
    columns += [Column(key, tier_label(key), "count") for key in TIER_KEYS]
    columns.append(Column("total", _("Total"), "count"))
    title = _("Tier changes %(first)s → %(second)s", first=first.key, second=second.key) if second and first else ""
    table = ChartTable(
        "transitions",
        title or _("Tier changes since last quarter"),
        "sankey",
        columns,
        series=tuple(TIER_KEYS),
        options={
            "colors": [TIER_COLOURS[k] for k in TIER_KEYS],
            "from": first.key if first else "",
            "to": second.key if second else "",
        },
    )
    if second is None:
        return table
    for source in TIER_KEYS:
        counts = [board.transitions.get((source, target), 0) for target in TIER_KEYS]
        table.add([tier_label(source), *counts, sum(counts)])
    return table


def followups_by_street(board: Dashboard) -> ChartTable:
    """Follow-up health per street: open, overdue, this month's plan and visits."""
    table = ChartTable(
        "followups_by_street",
        _("Follow-ups by street"),
        "bar",
        [
            Column("street", _("Street")),
            Column("open", _("Open follow-ups"), "count"),
            Column("overdue", _("Overdue"), "count"),
            Column("overdue_share", _("Overdue (%)"), "percent"),
            Column("planned", _("Due this month"), "count"),
            Column("done", _("Done of those"), "count"),
            Column("completion", _("Plan completed (%)"), "percent"),
            Column("visits", _("Visits this month"), "count"),
        ],
        series=("overdue", "planned", "done", "visits"),
        options={"colors": ["#dc3545", "#6c757d", "#198754", "#0d6efd"]},
    )
    worker = board.user.role in WORKERS
    for street in board.streets:
        open_, overdue, planned, done = board.followups_by_street.get(street.id, (0, 0, 0, 0))
        link = url_for("followups.index", street=street.id, view="overdue", officer="all") if worker else None
        table.add(
            [
                street.name,
                open_,
                overdue,
                share_percent(overdue, open_),
                planned,
                done,
                share_percent(done, planned),
                board.visits_by_street.get(street.id, 0),
            ],
            link,
        )
    return table


def overdue_by_officer(board: Dashboard) -> ChartTable:
    """Follow-up health per officer, most overdue first."""
    table = ChartTable(
        "overdue_by_officer",
        _("Follow-ups by officer"),
        "hbar",
        [
            Column("officer", _("Service officer")),
            Column("open", _("Open follow-ups"), "count"),
            Column("overdue", _("Overdue"), "count"),
            Column("planned", _("Due this month"), "count"),
            Column("done", _("Done of those"), "count"),
            Column("visits", _("Visits this month"), "count"),
        ],
        series=("overdue", "visits"),
        options={"colors": ["#dc3545", "#0d6efd"]},
    )
    names = board.officer_names
    people = set(board.followups_by_officer) | set(board.visits_by_officer)
    rows: list[tuple[str, int, int, int, int, int]] = []
    for officer in people:
        open_, overdue, planned, done = board.followups_by_officer.get(officer, (0, 0, 0, 0))
        label = names.get(officer, "") if officer is not None else _("Nobody assigned")
        rows.append((label, open_, overdue, planned, done, board.visits_by_officer.get(officer, 0)))
    for row in sorted(rows, key=lambda r: (-r[2], -r[1], r[0])):
        table.add(row)
    return table


def requests_by_category(board: Dashboard) -> ChartTable:
    """Requests per category: open, overdue, resolved and the average days to resolve."""
    table = ChartTable(
        "requests_by_category",
        _("Requests by category"),
        "bar",
        [
            Column("category", _("Category")),
            Column("open", _("Open"), "count"),
            Column("overdue", _("Overdue"), "count"),
            Column("resolved", _("Resolved"), "count"),
            Column("days", _("Average days to resolve"), "decimal"),
        ],
        series=("open", "overdue"),
        options={"colors": ["#0d6efd", "#dc3545"]},
    )
    worker = board.user.role in WORKERS
    for category in RequestCategory:
        open_, overdue, resolved, days = board.requests_by_category.get(category.value, (0, 0, 0, 0.0))
        link = url_for("firm_requests.index", category=category.value, status="open") if worker else None
        table.add(
            [str(REQUEST_CATEGORY_LABELS[category]), open_, overdue, resolved, days / resolved if resolved else None],
            link,
        )
    return table


def satisfaction(board: Dashboard) -> ChartTable:
    """The firms' answers at the follow-up call."""
    table = ChartTable(
        "satisfaction",
        _("Satisfaction with resolved requests"),
        "pie",
        [
            Column("answer", _("Answer")),
            Column("requests", _("Requests"), "count"),
            Column("share", _("Share (%)"), "percent"),
        ],
        series=("requests",),
        options={"colors": ["#198754", "#ffc107", "#dc3545"]},
    )
    total = sum(board.satisfaction.values())
    for answer in Satisfaction:
        n = board.satisfaction.get(answer.value, 0)
        table.add([str(SATISFACTION_LABELS[answer]), n, share_percent(n, total)])
    return table


def key_trend(board: Dashboard) -> ChartTable:
    """Revenue and tax of today's key-service firms, quarter by quarter, with growth on a year earlier."""
    table = ChartTable(
        "key_trend",
        _("Key-service firms: revenue and tax by quarter"),
        "line",
        [
            Column("quarter", _("Quarter")),
            Column("firms", _("Firms reporting"), "count"),
            Column("revenue", _("Revenue (10k CNY)"), "decimal"),
            Column("tax", _("Tax (10k CNY)"), "decimal"),
            Column("revenue_growth", _("Revenue growth on a year earlier (%)"), "percent"),
            Column("tax_growth", _("Tax growth on a year earlier (%)"), "percent"),
        ],
        series=("revenue", "tax"),
        options={"colors": ["#0d6efd", "#b02a37"], "bars": ["revenue"], "right_axis": ["tax"]},
    )
    latest = board.data_quarter
    if latest is None:
        return table
    for quarter in latest.trailing(TREND_QUARTERS):
        now = board.totals([quarter.key], "key")
        before = board.totals([(quarter - 4).key], "key")
        table.add(
            [
                quarter.key,
                now.firms,
                now.revenue,
                now.tax,
                growth_percent(now.revenue, before.revenue) if before.firms else None,
                growth_percent(now.tax, before.tax) if before.firms else None,
            ]
        )
    return table


def indicators(board: Dashboard) -> ChartTable:
    """The platform's indicators against the year's targets, year to date, with a status colour."""
    year = board.data_quarter.year if board.data_quarter else None
    table = ChartTable(
        "indicators",
        _("Indicators against the %(year)s targets", year=year) if year else _("Indicators against targets"),
        "bar",
        [
            Column("indicator", _("Indicator")),
            Column("period", _("Year to date")),
            Column("target", _("Target (%)"), "percent"),
            Column("actual", _("Actual (%)"), "percent"),
            Column("status", _("Status")),
        ],
        series=("target", "actual"),
    )
    statuses = []
    for item in board.indicators():
        status = indicator_status(item.actual, float(item.target.threshold)).value
        statuses.append(status)
        period = f"{item.current[0]}–{item.current[-1]}" if item.current else "—"
        table.add([item.target.name, period, item.target.threshold, item.actual, status_label(status)])
    table.options = {"colors": ["#adb5bd", "#0d6efd"], "status": statuses, "status_colors": STATUS_COLOURS}
    return table


#: Every chart of the dashboard by name, in page order.
CHARTS: dict[str, Callable[[Dashboard], ChartTable]] = {
    "indicators": indicators,
    "tiers": tiers_overall,
    "tiers_by_street": tiers_by_street,
    "tiers_by_chain": tiers_by_chain,
    "transitions": transitions,
    "followups_by_street": followups_by_street,
    "overdue_by_officer": overdue_by_officer,
    "requests_by_category": requests_by_category,
    "satisfaction": satisfaction,
    "key_trend": key_trend,
}
