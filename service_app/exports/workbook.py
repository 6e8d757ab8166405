"""Writing roster workbooks: streamed (write-only) sheets of safe cells, fitted widths, print setup.

Plain openpyxl, no Flask and no database: `services.py` gathers the rows, this module lays them
out. Every text cell goes through the same guard as the import error report (`safe_cell`), so a
firm name such as `=HYPERLINK(…)` is written as text, never as a formula.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation

from ..roster.xlsx import FORMULA_TRIGGERS, HEADER_FONT, safe_cell

#: Money (万元) and areas: numbers shown with two decimals.
DECIMAL_FORMAT = "0.00"
#: The OOXML paper size code of A4.
PAPER_A4 = "9"
MAX_WIDTH = 60
#: Text whose first character needs the guard: formula triggers, and `#` (openpyxl reads `#N/A` as an error).
_GUARDED_START = frozenset(FORMULA_TRIGGERS) | {"#"}
_FIXED_WIDTHS = {"date": 12, "decimal": 14, "count": 9}


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its header and what its cells hold."""

    header: str
    kind: str = "text"  # text, date, decimal or count
    choices: tuple[str, ...] = ()  # a drop-down list on the column when set


def display_width(text: str) -> int:
    """Columns a text takes in Excel: CJK (three UTF-8 bytes) counts as two, ASCII as one."""
    if text.isascii():
        return len(text)
    return len(text) + (len(text.encode("utf-8")) - len(text)) // 2


def fitted_widths(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> list[float]:
    """Width of each column: its longest text (or a fixed width for numbers and dates), within bounds."""
    widths = [display_width(c.header) for c in columns]
    text_columns = [i for i, c in enumerate(columns) if c.kind == "text"]
    for i, column in enumerate(columns):
        widths[i] = max(widths[i], _FIXED_WIDTHS.get(column.kind, 0))
    for row in rows:
        for i in text_columns:
            value = row[i]
            if value is not None:
                width = display_width(value if isinstance(value, str) else str(value))
                if width > widths[i]:
                    widths[i] = width
    return [min(w, MAX_WIDTH) + 2 for w in widths]


class SheetWriter:
    """Appends rows to one write-only sheet, turning values into safe, formatted cells."""

    def __init__(self, sheet: WriteOnlyWorksheet, columns: Sequence[Column]) -> None:
        self.sheet = sheet
        self.columns = list(columns)
        decimal_proto = WriteOnlyCell(sheet)
        decimal_proto.number_format = DECIMAL_FORMAT
        self._decimal_style = decimal_proto._style  # one shared style array: cheap per cell
        self._decimal_columns = {i for i, c in enumerate(columns) if c.kind == "decimal"}
        self.rows_written = 0

    def cell(self, value: Any, index: int) -> Any:
        """A value ready for `append`: safe text, a styled number, or the value itself."""
        if value is None:
            return None
        if isinstance(value, str):
            if value and (value[0] in _GUARDED_START or not value.isprintable()):
                return safe_cell(self.sheet, value)
            return value
        if index in self._decimal_columns:
            cell = WriteOnlyCell(self.sheet, value=value)
            cell._style = self._decimal_style
            return cell
        return value  # ints, dates (openpyxl gives dates yyyy-mm-dd) and bools

    def append(self, values: Sequence[Any]) -> None:
        """Write one data row."""
        cell = self.cell
        self.sheet.append([cell(v, i) for i, v in enumerate(values)])
        self.rows_written += 1


def start_table(
    sheet: WriteOnlyWorksheet, columns: Sequence[Column], widths: Sequence[float], rows: int
) -> SheetWriter:
    """Set up a table sheet (widths, frozen bold header, filter, drop-downs, print) and write its header.

    Write-only sheets emit widths and panes with the first row, so this comes before any data.
    """
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A1:{last}{rows + 1}"
    for index, column in enumerate(columns, start=1):
        if column.choices and rows:
            letter = get_column_letter(index)
            validation = DataValidation(type="list", formula1='"' + ",".join(column.choices) + '"', allow_blank=True)
            validation.add(f"{letter}2:{letter}{rows + 1}")
            sheet.data_validations.append(validation)
    set_print_setup(sheet, title_rows="1:1")
    sheet.append([safe_cell(sheet, c.header, font=HEADER_FONT) for c in columns])
    return SheetWriter(sheet, columns)


def set_print_setup(sheet: WriteOnlyWorksheet, title_rows: str | None = None) -> None:
    """Landscape A4, fitted to the page width, the header repeated on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = PAPER_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    if title_rows:
        sheet.print_title_rows = title_rows


def write_key_values(sheet: WriteOnlyWorksheet, title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    """A two-column sheet of labels and values under a bold title (the 说明 cover)."""
    labels = [display_width(label) for label, _ in pairs] or [8]
    values = [display_width(str(value)) for _, value in pairs] or [8]
    sheet.column_dimensions["A"].width = min(max(labels), MAX_WIDTH) + 4
    sheet.column_dimensions["B"].width = min(max(values), MAX_WIDTH * 2) + 4
    set_print_setup(sheet)
    sheet.append([safe_cell(sheet, title, font=HEADER_FONT)])
    sheet.append([])
    wrap = Alignment(wrap_text=True, vertical="top")
    for label, value in pairs:
        sheet.append([safe_cell(sheet, label, font=HEADER_FONT), safe_cell(sheet, value, alignment=wrap)])


def write_grid(sheet: WriteOnlyWorksheet, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A small titled table (a block of the 汇总 sheet), followed by a blank row."""
    sheet.append([safe_cell(sheet, title, font=HEADER_FONT)])
    sheet.append([safe_cell(sheet, h, font=HEADER_FONT) for h in header])
    for row in rows:
        sheet.append([safe_cell(sheet, v) for v in row])
    sheet.append([])


def save_atomically(workbook: Workbook | bytes, path: Path) -> None:
    """Save (a workbook, or its bytes) beside the target, then rename over it: readers never see
    half a file."""
    path = Path(path)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:40]}.", suffix=".part")
    os.close(handle)
    try:
        if isinstance(workbook, bytes):
            Path(partial).write_bytes(workbook)
        else:
            workbook.save(partial)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
