"""Reading roster cells: a parser per column (chosen once from the header), a reader that parses a
column of a block of rows at a time, and telling data rows from title, notes and 合计 rows.
Messages are Chinese: they go back to street offices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from ..domain.credit_codes import CreditCodeError, passes_quickly, validate_credit_code
from ..domain.industry import IndustryCodeError, validate_industry_code
from ..domain.text import clean_code, clean_text
from ..domain.tiers import CHAIN_CHINESE, Chain, FirmStatus
from . import cells
from .cells import CellError
from .columns import FIRM_COLUMNS, METRIC_COLUMNS, HeaderRow, header_label, money_scale
from .reading import normalise_cell

#: Words in the first cells that mark a totals row (合计) or a notes row.
TOTAL_WORDS = ("合计", "总计", "小计", "累计")
NOTE_PREFIXES = ("注", "说明", "备注", "填表", "制表", "审核", "单位：", "单位:")
STATUS_WORDS = {
    "正常": FirmStatus.ACTIVE,
    "在营": FirmStatus.ACTIVE,
    "存续": FirmStatus.ACTIVE,
    "开业": FirmStatus.ACTIVE,
    "ACTIVE": FirmStatus.ACTIVE,
    "迁出": FirmStatus.RELOCATING,
    "迁出中": FirmStatus.RELOCATING,
    "拟迁出": FirmStatus.RELOCATING,
    "RELOCATING": FirmStatus.RELOCATING,
    "注销": FirmStatus.DEREGISTERED,
    "已注销": FirmStatus.DEREGISTERED,
    "吊销": FirmStatus.DEREGISTERED,
    "DEREGISTERED": FirmStatus.DEREGISTERED,
}
CHAIN_WORDS = {name: chain for chain, name in CHAIN_CHINESE.items()} | {c.value.upper(): c for c in Chain}


def display(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()[:10]
    return str(value)[:200]


def _parse_name(value: object) -> str:
    text = cells.parse_text(value, 200)
    if not text:
        raise CellError("企业名称不能为空")
    return text


def _parse_registration_number(value: object) -> str:
    text = clean_code(cells.parse_text(value, 20))
    if not (text.isdigit() and len(text) == 15):
        raise CellError("工商注册号应为15位数字")
    return text


def _parse_chain(value: object) -> Chain:
    text = clean_code(value).upper().replace(" ", "")
    for word, chain in CHAIN_WORDS.items():
        if text == word.upper() or (len(text) >= 2 and word.endswith(text)):
            return chain
    raise CellError("产业链应为 数字时尚、数字贸易、数字科技 或 其他")


def _parse_industry_code(value: object) -> str:
    try:
        if isinstance(value, float):
            value = int(value)  # a numeric cell: 3511.0 → "3511"; inf and nan fail here
        return validate_industry_code(str(value))
    except (IndustryCodeError, ValueError, OverflowError) as exc:
        raise CellError("国民经济行业代码无效，应为门类字母加2–4位数字（如 C3511）") from exc


def _parse_established(value: object) -> dt.date:
    day = cells.parse_date(value)
    if not dt.date(1900, 1, 1) <= day <= dt.date.today():
        raise CellError("成立日期不合理（不能晚于今天）")
    return day


def _parse_status(value: object) -> FirmStatus:
    word = clean_code(value).upper()
    if word in STATUS_WORDS:
        return STATUS_WORDS[word]
    raise CellError("经营状态应为 正常、迁出中 或 已注销")


def _unchanged(value: object) -> object:
    return value  # street, building and officer names are resolved with the lookups


def cell_parser(name: str, header: str) -> Callable[[object], Any]:
    """The function that reads one column's cells, given the column's header (for its unit)."""
    simple: dict[str, Callable[[object], Any]] = {
        "credit_code": lambda value: validate_credit_code(str(value)),
        "quarter": cells.parse_quarter,
        "name": _parse_name,
        "registration_number": _parse_registration_number,
        "chain": _parse_chain,
        "industry_code": _parse_industry_code,
        "established": _parse_established,
        "status": _parse_status,
        "contact_name": partial(cells.parse_text, max_length=64),
        "contact_phone": cells.parse_phone,
        "street": _unchanged,
        "building": _unchanged,
        "officer": _unchanged,
        "employees": cells.parse_count,
        "floor_area_m2": cells.parse_area,
        "land_mu": cells.parse_area,
    }
    if name in simple:
        return simple[name]
    if name in ("registered_capital", "revenue", "tax", "rd_spend"):
        return partial(cells.parse_money, unit_scale=money_scale(header))
    return cells.parse_flag  # the is_* / above_scale flags


@dataclass(frozen=True)
class Column:
    """One mapped column: where it is, what it holds and how to read it."""

    index: int
    name: str
    label: str
    kind: str  # "code", "quarter", "metric" or "firm"
    parse: Callable[[object], Any]


def columns_for(mapping: dict[int, str], header: HeaderRow) -> list[Column]:
    columns = []
    for index, name in sorted(mapping.items()):
        label = header.headers[index] if index < len(header.headers) and header.headers[index] else header_label(name)
        kind = {"credit_code": "code", "quarter": "quarter"}.get(name) or (
            "metric" if name in METRIC_COLUMNS else "firm"
        )
        if kind == "firm" and name not in FIRM_COLUMNS:
            continue  # informational columns (服务层级) are read, not imported
        columns.append(Column(index, name, label, kind, cell_parser(name, label)))
    return columns


CREDIT_CODE_MESSAGES = {
    "length": "统一社会信用代码应为18位",
    "format": "统一社会信用代码含有不允许的字符（不使用 I、O、S、V、Z）",
    "checksum": "统一社会信用代码校验位不正确，请核对营业执照",
}

#: A blank cell, once read.
BLANK: Any = object()
#: Amount columns (万元, m², 亩) are kept as floats: every valid amount has two decimals and at most
#: 15 significant digits, so `to_decimal` gives back exactly the Decimal the parser made.
AMOUNT_COLUMNS = frozenset({"registered_capital", "revenue", "tax", "rd_spend", "floor_area_m2", "land_mu"})
_CENTS = cells.CENTS
_SLOW: Any = object()
_EARLIEST = dt.date(1900, 1, 1)
#: Distinct texts remembered per column: enough for streets, chains and flags, bounded for names.
_REMEMBERED = 16384
#: Columns whose texts rarely repeat: remembering them would only cost.
_UNIQUE_TEXT = frozenset({"credit_code", "name", "contact_phone", "registration_number"})


@dataclass(frozen=True, slots=True)
class Failure:
    """A cell that did not parse: the message for the error report."""

    message: str
    bad_code: bool  # a credit code that failed: the row needs no "missing code" error too


def to_decimal(amount: float) -> Decimal:
    """The Decimal an amount column's parser made, from the float it is kept as."""
    return Decimal(repr(amount)).quantize(_CENTS)


def read_cell(column: Column, value: object) -> Any:
    """The parsed value, or a Failure saying what is wrong."""
    try:
        return column.parse(value)
    except CreditCodeError as exc:
        return Failure(CREDIT_CODE_MESSAGES.get(exc.reason, "统一社会信用代码无效"), True)
    except CellError as exc:
        return Failure(str(exc), False)
    except (ValueError, ArithmeticError, TypeError):  # a value no parser foresaw: an error, not a crash
        return Failure("无法识别该值，请检查单元格内容", False)


def _plain_text(max_length: int) -> Callable[[object], Any]:
    """Text that is already clean (printable, trimmed, not a placeholder) reads as itself."""

    def quick(value: object) -> Any:
        if (
            value.__class__ is str
            and 0 < len(value) <= max_length  # type: ignore[arg-type]
            and value.isprintable()  # type: ignore[attr-defined]
            and not value[0].isspace()  # type: ignore[index]
            and not value[-1].isspace()  # type: ignore[index]
            and (len(value) > 4 or value not in cells.BLANKS)  # type: ignore[arg-type]
        ):
            return value
        return _SLOW

    return quick


def _quick_code(value: object) -> Any:
    return value if value.__class__ is str and passes_quickly(value) else _SLOW  # type: ignore[arg-type]


def _quick_phone(value: object) -> Any:
    if value.__class__ is str and value.isdigit() and value.isascii() and 5 <= len(value) <= 32:  # type: ignore[attr-defined,arg-type]
        return value
    return _SLOW


def _quick_count(value: object) -> Any:
    return value if value.__class__ is int and 0 <= value <= 10_000_000 else _SLOW  # type: ignore[operator]


def _quick_established(earliest: dt.date, today: dt.date) -> Callable[[object], Any]:
    def quick(value: object) -> Any:
        return value if value.__class__ is dt.date and earliest <= value <= today else _SLOW  # type: ignore[operator]

    return quick


def _no_quick(value: object) -> Any:
    return _SLOW


class ColumnReader:
    """Reads one mapped column of a block of raw rows: each cell to its value, BLANK or a Failure.

    The same values as `read_cell` of the normalised cell, faster: cells a roster usually holds (clean text, whole
    numbers, dates, amounts with two decimals) take a quick path, and repeated texts (streets,
    chains, flags, quarters) are parsed once. Amount columns give floats (see AMOUNT_COLUMNS).
    """

    def __init__(self, column: Column) -> None:
        self.column = column
        self.remembered: dict[str, Any] = {}
        self.remembering = column.name not in _UNIQUE_TEXT
        self.amount = column.name in AMOUNT_COLUMNS
        # Floats below this with at most two decimals read as themselves (万元 columns and areas only).
        self.quick_below = -1.0
        if column.name in ("floor_area_m2", "land_mu"):
            self.quick_below = 1e10
        elif self.amount and money_scale(column.label) == 10_000:
            self.quick_below = 1e11
        quick: dict[str, Callable[[object], Any]] = {
            "credit_code": _quick_code,
            "name": _plain_text(200),
            "contact_name": _plain_text(64),
            "contact_phone": _quick_phone,
            "employees": _quick_count,
            "established": _quick_established(_EARLIEST, dt.date.today()),
        }
        self.quick = quick.get(column.name, _no_quick)
        #: Some cell of the column failed: blocks must be searched for Failures.
        self.failed = False
        #: Head counts and dates, by the raw cell (a float or a date): they repeat across a roster.
        self.interned: dict[object, Any] = {}
        self.interned_kind: type | None = {"employees": float, "established": dt.date}.get(column.name)

    def read(self, values: Sequence[object]) -> list[Any]:
        """The column's cells of a block, read."""
        miss = self._miss
        remembered = self.remembered
        if self.amount:
            below = self.quick_below
            return [
                BLANK
                if v is None
                else v
                if v.__class__ is float and 0.0 <= v < below and round(v, 2) == v  # type: ignore[operator,call-overload]
                else remembered[v]  # type: ignore[index]
                if v.__class__ is str and v in remembered
                else miss(v)
                for v in values
            ]
        interned = self.interned
        if self.quick is _quick_count:  # whole numbers come as floats
            return [
                interned[v] if v.__class__ is float and v in interned else BLANK if v is None else miss(v)
                for v in values
            ]
        if self.quick is _quick_code:
            return [v if v.__class__ is str and passes_quickly(v) else BLANK if v is None else miss(v) for v in values]  # type: ignore[arg-type]
        if self.quick is _quick_phone:
            return [
                v
                if v.__class__ is str and v.isdigit() and v.isascii() and 5 <= len(v) <= 32  # type: ignore[attr-defined,arg-type]
                else BLANK
                if v is None
                else miss(v)
                for v in values
            ]
        if self.column.name == "established":
            return [
                interned[v] if v.__class__ is dt.date and v in interned else BLANK if v is None else miss(v)
                for v in values
            ]
        if not self.remembering:
            return [BLANK if v is None else miss(v) for v in values]
        return [
            BLANK if v is None else remembered[v] if v.__class__ is str and v in remembered else miss(v)  # type: ignore[index]
            for v in values
        ]

    def _miss(self, value: object) -> Any:
        raw = value
        if value.__class__ is float:  # a raw cell: a whole number reads as the int it is
            value = normalise_cell(value)
        parsed = self._read(value)
        if raw.__class__ is self.interned_kind and len(self.interned) < _REMEMBERED:
            self.interned[raw] = parsed  # one object for each head count or date, not one per cell
        return parsed

    def _read(self, value: object) -> Any:
        parsed = self.quick(value)
        if value.__class__ is str:
            if parsed is _SLOW:
                parsed = BLANK if cells.is_blank(value) else self._parse(value)
            if self.remembering and len(self.remembered) < _REMEMBERED:
                self.remembered[value] = parsed  # type: ignore[index]
            return parsed
        if parsed is not _SLOW:
            return parsed
        if self.amount and value.__class__ is int and 0 <= value < self.quick_below:  # type: ignore[operator]
            return float(value)  # type: ignore[arg-type]
        return self._parse(value)

    def _parse(self, value: object) -> Any:
        parsed = read_cell(self.column, value)
        if parsed.__class__ is Failure:
            self.failed = True
        elif self.amount and isinstance(parsed, Decimal):
            return float(parsed)
        return parsed


def is_note_or_total(row: Sequence[object], code_index: int | None) -> bool:
    """A 合计 row, a 注/说明 row or a row of blanks: not data."""
    code = row[code_index] if code_index is not None and code_index < len(row) else None
    if isinstance(code, str) and 15 <= len(code) <= 20 and code.isascii():  # the usual data row, decided cheaply
        first = row[0]
        return isinstance(first, str) and first.strip().startswith(TOTAL_WORDS)
    filled = [c for c in row if not cells.is_blank(c)]
    if not filled:
        return True
    leading = [clean_text(c).replace(" ", "") for c in row[:3] if isinstance(c, str)]
    if any(text in TOTAL_WORDS or text.startswith(TOTAL_WORDS) for text in leading):
        return True
    if len(filled) == 1 and isinstance(filled[0], str):  # a lone sentence: a title or a note
        text = clean_text(filled[0])
        return text.startswith(NOTE_PREFIXES) or len(text) > 20
    return False
