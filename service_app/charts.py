"""Chart tables: the rows behind a chart, shown as the chart's table view, served as the JSON the
browser draws from, and downloaded as .xlsx — one object, so the three always agree.

The first column holds the categories (a street, a quarter, a tier); `series` names the columns
the chart plots. `static/js/charts.js` turns the JSON into an ECharts option by `kind`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Response, current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from openpyxl import Workbook

from .domain.workdays import CHINA
from .exports.workbook import Column as SheetColumn
from .exports.workbook import fitted_widths, start_table, write_key_values
from .models import User
from .models.types import utcnow
from .roster.xlsx import workbook_bytes
from .scoping import visible_streets
from .security import attachment_header

#: Chart kinds charts.js draws.
KINDS = frozenset({"pie", "bar", "stack", "hbar", "line", "sankey"})
#: Decimal places kept per column kind; counts are integers, text is text.
PLACES = {"decimal": 2, "percent": 1}
#: The tiers' colours (as in app.css), for series and slices that are tiers.
TIER_COLOURS = {
    "key": "#b02a37",
    "cultivate": "#0d6efd",
    "observe": "#6c757d",
    "exit": "#343a40",
    "none": "#adb5bd",
}
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    """One column of a chart table: a key for the JSON, a label for people, and its kind
    (text, count, decimal or percent)."""

    key: str
    label: str
    kind: str = "text"

    def value(self, raw: Any) -> Any:
        """The raw value as the table stores it: ints for counts, rounded floats for figures."""
        if raw is None:
            return None
        if self.kind == "count":
            return int(raw)
        if self.kind in PLACES:
            return round(float(raw), PLACES[self.kind])
        return str(raw)


@dataclass
class ChartTable:
    """A chart's data as a table; `links` optionally gives each row's first cell a link."""

    name: str
    title: str
    kind: str
    columns: list[Column]
    series: tuple[str, ...] = ()
    rows: list[list[Any]] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)
    note: str = ""
    #: Hints for the chart: colours, which series are bars on a line chart, a second axis, …
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown chart kind {self.kind!r}")
        keys = {c.key for c in self.columns}
        missing = [s for s in self.series if s not in keys]
        if missing:
            raise ValueError(f"series {missing} are not columns of {self.name}")

    def add(self, values: Sequence[Any], link: str | None = None) -> None:
        """Append a row, each value normalised by its column's kind."""
        if len(values) != len(self.columns):
            raise ValueError(f"{self.name}: {len(values)} values for {len(self.columns)} columns")
        self.rows.append([column.value(v) for column, v in zip(self.columns, values, strict=True)])
        self.links.append(link)

    @property
    def has_data(self) -> bool:
        """Whether any plotted value is more than nothing (an all-zero chart shows "no data")."""
        indexes = [i for i, c in enumerate(self.columns) if c.key in self.series]
        return any(row[i] for row in self.rows for i in indexes)

    def as_json(self) -> dict[str, Any]:
        """What the chart's data endpoint returns."""
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "series": list(self.series),
            "rows": self.rows,
            "options": self.options,
        }


def to_float(value: Decimal | float | int | None) -> float | None:
    """A database sum as a float (PostgreSQL gives Decimals, SQLite floats)."""
    return None if value is None else float(value)


def sheet_title(text: str) -> str:
    """A worksheet name Excel accepts: no []:*?/\\, at most 31 characters."""
    return _SHEET_NAME_FORBIDDEN.sub(" ", text).strip()[:31] or "Sheet"


def table_workbook(table: ChartTable, about_title: str, about: Sequence[tuple[str, Any]]) -> bytes:
    """The table as a workbook: its rows on the first sheet (the headers the page shows), then a
    sheet saying what it is (scope, data quarter, when, by whom). Text is written injection-safe."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(table.title))
    columns = [
        SheetColumn(c.label, {"count": "count", "decimal": "decimal", "percent": "decimal"}.get(c.kind, "text"))
        for c in table.columns
    ]
    writer = start_table(sheet, columns, fitted_widths(columns, table.rows), len(table.rows))
    for row in table.rows:
        writer.append(row)
    write_key_values(workbook.create_sheet(sheet_title(about_title)), table.title, about)
    return workbook_bytes(workbook)


def scope_label(user: User) -> str:
    """The streets a user's figures cover, in words."""
    if user.sees_all_streets:
        return _("All streets")
    return "、".join(street.name for street in visible_streets(user)) or _("No street")


def xlsx_response(table: ChartTable, data_quarter: str) -> Response:
    """The table as an .xlsx download, with a sheet saying what it is and for whom."""
    about = [
        (_("Platform"), current_app.config["PLATFORM_NAME"]),
        (_("Streets"), scope_label(current_user)),
        (_("Data through"), data_quarter or "—"),
        (_("Made at"), format_datetime(utcnow(), "yyyy-MM-dd HH:mm")),
        (_("Made by"), current_user.label),
        (_("Rows"), len(table.rows)),
    ]
    data = table_workbook(table, _("About"), about)
    day = utcnow().astimezone(CHINA).strftime("%Y%m%d")
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment_header(f"{table.name}_{day}.xlsx", f"{table.title}_{day}.xlsx")},
    )
