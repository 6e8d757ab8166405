"""Turning roster cells into typed values: numbers with separators and units, three date
styles and Excel serials, quarter keys, yes/no flags. Plain Python; messages in Chinese,
because they go back to street offices in the error report."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from ..domain.quarters import Quarter
from ..domain.text import clean_code, clean_text


class CellError(ValueError):
    """A cell that cannot be read as its column's type; the message says what to fix."""


#: Cells that mean "nothing here" in Chinese rosters.
BLANKS = frozenset(
    {
        "",
        "-",
        "—",
        "--",
        "——",
        "/",
        "无",
        "N/A",
        "NA",
        "n/a",
        "null",
        "NULL",
        "None",
        "－",
        "／",
        "－－",
        "ＮＡ",
        "Ｎ/Ａ",
    }
)
CENTS = Decimal("0.01")
_UNITS = (("亿元", Decimal(100_000_000)), ("万元", Decimal(10_000)), ("元", Decimal(1)))
_OTHER_UNITS = re.compile(r"(平方米|㎡|m2|亩|人|个)$", re.IGNORECASE)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_TRUE = frozenset({"是", "Y", "YES", "1", "√", "✓", "✔", "TRUE", "T", "对", "有"})
_FALSE = frozenset({"否", "N", "NO", "0", "×", "✗", "X", "FALSE", "F", "无", "不是"})


def is_blank(value: object) -> bool:
    """True for None, empty text and the usual placeholders (-, —, /, 无)."""
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        return not text or (len(text) <= 4 and text in BLANKS)
    return False


def parse_decimal(value: object, *, unit_scale: int = 10_000, places: Decimal = CENTS) -> Decimal:
    """A number in 万元 (or the column's unit): `1,234.5`, `１２３４`, `12万元`, `35000元`, 1234.5."""
    if type(value) is float and unit_scale == 10_000 and places == CENTS:  # the usual cell, fast
        if value != value or value in (float("inf"), float("-inf")):
            raise CellError("应为数字")
        if abs(value) >= 1e15:
            raise CellError("数值过大，请确认单位")
        return Decimal(repr(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
    if type(value) is int and unit_scale == 10_000 and abs(value) < 10**15:
        return Decimal(value).quantize(places)
    if isinstance(value, bool):
        raise CellError("应为数字")
    if isinstance(value, int):
        number = Decimal(value)
        scale = Decimal(unit_scale)
    elif isinstance(value, float):
        number = Decimal(repr(value))
        scale = Decimal(unit_scale)
    else:
        text = clean_code(value).replace(",", "").replace("，", "").replace(" ", "")
        scale = Decimal(unit_scale)
        for suffix, suffix_scale in _UNITS:
            if text.endswith(suffix):
                text, scale = text[: -len(suffix)], suffix_scale
                break
        text = _OTHER_UNITS.sub("", text)
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise CellError("应为数字（可带千分位逗号或“万元”单位）") from exc
    if not number.is_finite():
        raise CellError("应为数字")
    try:
        return (number * scale / Decimal(10_000)).quantize(places, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise CellError("数值过大，请确认单位") from exc


def parse_money(value: object, unit_scale: int = 10_000) -> Decimal:
    """Money in 万元 with two decimals; negative amounts are refused."""
    if type(value) is float and unit_scale == 10_000 and 0.0 <= value < 1e11:  # the usual cell: nothing to refuse
        return Decimal(repr(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
    amount = parse_decimal(value, unit_scale=unit_scale)
    if amount < 0:
        raise CellError("金额不能为负数")
    if amount >= Decimal("1e12"):
        raise CellError("金额过大，请确认单位是否为万元")
    return amount


def parse_area(value: object) -> Decimal:
    """An area (m² or 亩), two decimals, not negative."""
    area = parse_decimal(value, unit_scale=10_000)
    if area < 0:
        raise CellError("面积不能为负数")
    if area >= Decimal("1e10"):
        raise CellError("面积过大")
    return area


def parse_count(value: object) -> int:
    """A whole, non-negative number (people)."""
    number = parse_decimal(value, places=Decimal("0.0001"))
    if number != number.to_integral_value():
        raise CellError("应为整数")
    if number < 0:
        raise CellError("人数不能为负数")
    if number > 10_000_000:
        raise CellError("人数过大")
    return int(number)


def parse_date(value: object) -> dt.date:
    """A date cell, an Excel serial, or text `2019/3/5`, `2019-03-05`, `2019年3月5日`, `20190305`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 1 <= value < 2_958_466:
            raise CellError("日期序号超出范围")
        return _EXCEL_EPOCH + dt.timedelta(days=int(value))
    text = clean_code(value)
    if re.fullmatch(r"\d{5}(\.\d+)?", text):  # an Excel serial saved as text
        return parse_date(float(text))
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError as exc:
                raise CellError("日期不存在，请检查年月日") from exc
    raise CellError("日期格式应为 2019-03-05、2019/3/5 或 2019年3月5日")


def parse_flag(value: object) -> bool:
    """是/否, Y/N, 1/0, √/×, true/false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = clean_code(value).upper()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError("应填“是”或“否”")


@lru_cache(maxsize=256)
def _quarter_key(value: object) -> str:
    return Quarter.parse(value).key


def parse_quarter(value: object) -> str:
    """A quarter key from `2026Q3`, `2026-Q3`, `2026 Q3`, `2026年第三季度`, `2026年3季度`."""
    try:
        return _quarter_key(value)
    except ValueError as exc:
        raise CellError("季度格式应为 2026Q3 或 2026年第三季度") from exc


def parse_text(value: object, max_length: int) -> str:
    """Free text, trimmed, within a length."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean_text(value)
    if len(text) > max_length:
        raise CellError(f"内容过长（最多 {max_length} 个字）")
    return text


def parse_phone(value: object) -> str:
    """A phone number; numeric cells lose Excel's `.0`."""
    text = parse_text(value, 32)
    if not re.fullmatch(r"[0-9+\-() 转,，/]{5,32}", clean_code(text)):
        raise CellError("电话号码只能包含数字、空格和 + - ( )")
    return clean_code(text)
