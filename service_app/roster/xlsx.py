"""Writing workbooks safely: text that looks like a formula stays text, control characters go."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: A leading character that makes Excel, WPS or LibreOffice evaluate a cell (CSV/formula injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
HEADER_FONT = Font(bold=True)


def clean_cell_text(text: str) -> str:
    """Text without the control characters XML cannot hold."""
    return _CONTROL.sub("", text)


def safe_cell(sheet: WriteOnlyWorksheet, value: Any, **style: Any) -> WriteOnlyCell:
    """A cell whose text is never a formula: numbers stay numbers, dates dates, text text."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, str):
        risky = value.startswith(FORMULA_TRIGGERS)
        cell = WriteOnlyCell(sheet, value=clean_cell_text(value))
        cell.data_type = "s"  # never "f", whatever the text starts with
        if risky:
            cell.style = "Normal"
            cell.quotePrefix = True
    else:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, dt.datetime | dt.date):
            cell.number_format = "yyyy-mm-dd"
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def workbook_bytes(workbook: Workbook) -> bytes:
    """Serialise a workbook into memory."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def error_report(rows: Iterable[Sequence[object]], header_index: int, errors: list[dict[str, Any]]) -> bytes:
    """The uploaded rows again, with a 错误说明 column and the bad cells highlighted."""
    by_row: dict[int, list[dict[str, Any]]] = {}
    for error in errors:
        by_row.setdefault(int(error["row"]), []).append(error)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("错误报告")
    headers: list[str] = []
    for index, cells in enumerate(rows):
        excel_row = index + 1
        if index == header_index:
            headers = ["" if c is None else str(c).strip() for c in cells]
            out = [safe_cell(sheet, c, font=HEADER_FONT) for c in cells]
            out.append(safe_cell(sheet, "错误说明", font=HEADER_FONT))
            sheet.append(out)
            continue
        problems = by_row.get(excel_row, [])
        bad_columns = {e["column"] for e in problems}
        out = []
        for column, value in enumerate(cells):
            header = headers[column] if column < len(headers) else ""
            out.append(safe_cell(sheet, value, **({"fill": ERROR_FILL} if header and header in bad_columns else {})))
        if problems:
            width = max(len(cells), len(headers))
            out.extend(safe_cell(sheet, None) for _ in range(width - len(cells)))
            text = "；".join(f"{e['column']}：{e['message']}" for e in problems)
            out.append(safe_cell(sheet, text, fill=ERROR_FILL))
        sheet.append(out)
    return workbook_bytes(workbook)
