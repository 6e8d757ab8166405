"""The transitions report as a workbook: the counts matrix and the firms that moved."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook

from ..domain.quarters import Quarter
from ..domain.scoring import TIER_NAMES, TIER_ORDER
from ..domain.tiers import Tier
from ..roster.xlsx import HEADER_FONT, safe_cell, workbook_bytes

NONE_LABEL = "未评定"


def _name(tier: Tier | str | None) -> str:
    if tier in (None, "none"):
        return NONE_LABEL
    return TIER_NAMES[Tier(tier)]


def transitions_workbook(first: Quarter, second: Quarter, rows: list[Any], matrix: dict[str, dict[str, int]]) -> bytes:
    """Sheet 1: the matrix (first quarter's tier down, second's across); sheet 2: every firm."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("变动矩阵")
    keys = [t.value for t in TIER_ORDER] + ["none"]
    sheet.append(
        [safe_cell(sheet, f"{first.key} → {second.key}", font=HEADER_FONT)]
        + [safe_cell(sheet, _name(k), font=HEADER_FONT) for k in keys]
        + [safe_cell(sheet, "合计", font=HEADER_FONT)]
    )
    for a in keys:
        counts = [matrix.get(a, {}).get(b, 0) for b in keys]
        sheet.append([safe_cell(sheet, _name(a), font=HEADER_FONT), *counts, sum(counts)])
    firms = workbook.create_sheet("企业明细")
    firms.append(
        [
            safe_cell(firms, h, font=HEADER_FONT)
            for h in ("统一社会信用代码", "企业名称", "所在街道", f"{first.key}层级", f"{second.key}层级", "变动")
        ]
    )
    order = {t: i for i, t in enumerate(TIER_ORDER)}
    for firm, tier_a, tier_b in rows:
        if tier_a is None or tier_b is None:
            change = "新增" if tier_a is None else "无"
        elif tier_a == tier_b:
            change = "不变"
        else:
            change = "上调" if order[tier_b] < order[tier_a] else "下调"
        firms.append(
            [
                safe_cell(firms, v)
                for v in (firm.credit_code, firm.name, firm.street.name, _name(tier_a), _name(tier_b), change)
            ]
        )
    return workbook_bytes(workbook)
