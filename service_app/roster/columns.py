"""Roster columns: the Chinese headers and aliases of domain.md, and finding the header row.

Plain Python: the importer, the exporter and the tests share these tables.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..domain.text import clean_code

#: Firm fields a roster may carry.
FIRM_COLUMNS = (
    "credit_code",
    "name",
    "registration_number",
    "chain",
    "industry_code",
    "street",
    "building",
    "established",
    "registered_capital",
    "above_scale",
    "is_high_tech",
    "is_specialised",
    "is_listed",
    "is_chain_leader",
    "is_abnormal",
    "has_serious_violation",
    "status",
    "contact_name",
    "contact_phone",
    "officer",
)
#: Quarterly metric fields a roster may carry (with credit_code and quarter).
METRIC_COLUMNS = ("revenue", "tax", "employees", "rd_spend", "floor_area_m2", "land_mu")
#: Columns read but never imported (exports carry them for people to read).
INFORMATIONAL_COLUMNS = ("tier",)

#: field → (the header exports write, aliases accepted on import). Headers keep their units;
#: matching strips them.
HEADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "credit_code": ("统一社会信用代码", ("信用代码", "社会信用代码", "USCC", "统一信用代码")),
    "name": ("企业名称", ("单位名称", "公司名称", "企业全称", "名称")),
    "registration_number": ("工商注册号", ("注册号",)),
    "chain": ("所属产业链", ("产业链", "产业")),
    "industry_code": ("国民经济行业代码", ("行业代码", "国民经济行业分类代码")),
    "street": ("所在街道", ("街道", "镇街", "属地", "所属街道", "街道镇")),
    "building": ("所在楼宇", ("楼宇", "办公楼宇", "所属楼宇")),
    "established": ("成立日期", ("注册日期", "成立时间")),
    "registered_capital": ("注册资本（万元）", ("注册资本",)),
    "above_scale": ("是否规上", ("规上企业", "规上")),
    "is_high_tech": ("是否高新技术企业", ("高新技术企业", "高新企业")),
    "is_specialised": ("是否专精特新", ("专精特新", "专精特新企业")),
    "is_listed": ("是否上市", ("上市企业",)),
    "is_chain_leader": ("是否链主企业", ("链主企业", "链主")),
    "is_abnormal": ("是否列入经营异常名录", ("经营异常名录", "经营异常")),
    "has_serious_violation": ("是否有严重违法", ("严重违法", "严重违法失信")),
    "status": ("经营状态", ("状态", "企业状态")),
    "contact_name": ("联系人", ("企业联系人",)),
    "contact_phone": ("联系电话", ("手机", "电话", "联系方式", "手机号码")),
    "officer": ("服务专员", ("专员", "联络员")),
    "tier": ("服务层级", ("分类", "层级")),
    "quarter": ("季度", ("统计季度",)),
    "revenue": ("营业收入（万元）", ("营收", "营业收入")),
    "tax": ("税收（万元）", ("纳税额", "实缴税金", "税收")),
    "employees": ("从业人数", ("员工人数", "职工人数")),
    "rd_spend": ("研发投入（万元）", ("研发费用", "研发投入")),
    "floor_area_m2": ("使用面积（平方米）", ("办公面积", "使用面积")),
    "land_mu": ("用地面积（亩）", ("占地面积", "用地面积")),
}

_BRACKETS = re.compile(r"[(（\[【<《].*?[)）\]】>》]")
_UNIT_SUFFIX = re.compile(r"(万元|亿元|元|平方米|㎡|m2|亩|人)$", re.IGNORECASE)
_UNIT_IN_HEADER = re.compile(r"(亿元|万元|元)")
_SPACES = re.compile(r"\s+")

MIN_HEADER_MATCHES = 3
HEADER_SEARCH_ROWS = 50


def normalise_header(value: object) -> str:
    """Half-width, no spaces, no bracketed parts, no trailing unit: `营业收入（万元）` → `营业收入`."""
    text = clean_code(value)
    text = _SPACES.sub("", text)
    text = _BRACKETS.sub("", text)
    text = _UNIT_SUFFIX.sub("", text)
    return text.upper() if text.isascii() else text


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for field_name, (header, aliases) in HEADERS.items():
        for name in (header, *aliases):
            lookup.setdefault(normalise_header(name), field_name)
    return lookup


_LOOKUP = _build_lookup()


def field_for_header(value: object) -> str | None:
    """The field a header names, or None."""
    return _LOOKUP.get(normalise_header(value))


def money_scale(header: object) -> int:
    """How many 元 one unit of a money column holds per its header: 亿元 → 1e8, 元 → 1, else 万元."""
    match = _UNIT_IN_HEADER.search(clean_code(header))
    return {"亿元": 100_000_000, "元": 1}.get(match.group(1) if match else "", 10_000)


@dataclass(frozen=True)
class HeaderRow:
    """Where the header is and what each column maps to."""

    index: int  # 0-based row index in the sheet
    headers: tuple[str, ...]  # the cells as written (cleaned)
    mapping: dict[int, str]  # column index → field name

    @property
    def signature(self) -> str:
        """A key for remembering the user's mapping of this set of headers."""
        joined = "\x1f".join(normalise_header(h) for h in self.headers)
        return hashlib.sha1(joined.encode("utf-8"), usedforsecurity=False).hexdigest()


def guess_mapping(cells: Sequence[object]) -> dict[int, str]:
    """Column index → field for the cells that name a known field (first column wins)."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, cell in enumerate(cells):
        field_name = field_for_header(cell) if cell is not None else None
        if field_name and field_name not in taken:
            mapping[index] = field_name
            taken.add(field_name)
    return mapping


def header_at(index: int, cells: Sequence[object]) -> HeaderRow | None:
    """The row as a header if at least three of its cells match known headers."""
    mapping = guess_mapping(cells)
    if len(mapping) < MIN_HEADER_MATCHES:
        return None
    headers = tuple("" if c is None else str(c).strip() for c in cells)
    return HeaderRow(index=index, headers=headers, mapping=mapping)


def find_header(rows: Iterable[Sequence[object]]) -> HeaderRow | None:
    """The first row (of the first 50) in which at least three cells match known headers."""
    for index, cells in enumerate(rows):
        if index >= HEADER_SEARCH_ROWS:
            return None
        header = header_at(index, cells)
        if header is not None:
            return header
    return None


def header_label(field_name: str) -> str:
    """The Chinese header a field is exported under."""
    return HEADERS[field_name][0]
