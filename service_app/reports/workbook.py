"""The quarter report as a workbook: 说明 (cover and definitions), 汇总 (the platform or the user's
streets, with a street-by-street overview), then one sheet per street. Chinese, like the exports."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from ..domain.followups import Satisfaction
from ..domain.tiers import CHAIN_CHINESE, TIER_CHINESE, Chain, Tier
from ..domain.workdays import CHINA
from ..exports.services import safe_file_name
from ..exports.workbook import DECIMAL_FORMAT, MAX_WIDTH, display_width, set_print_setup, write_key_values
from ..roster.xlsx import HEADER_FONT, safe_cell
from .services import CHAIN_KEYS, NONE, TIER_KEYS, Figures, QuarterReport

PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"
#: Characters a sheet title may not hold.
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")
TIER_NAMES = {**{t.value: TIER_CHINESE[t] for t in Tier}, NONE: "未评定"}
CHAIN_NAMES = {**{c.value: CHAIN_CHINESE[c] for c in Chain}, NONE: "未填"}
SATISFACTION_NAMES = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.MOSTLY: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
}
#: What each figure counts (口径), for the cover sheet.
DEFINITIONS = (
    (
        "服务层级",
        "本季度的分层结果（审批写入的季度层级）；未评定：经营正常、本季度无层级，且季度末前已在名录或报送了本季度数据的企业。",
    ),
    ("层级变动", "上季度层级与本季度层级对比；上调/下调按 重点服务 > 辅导培育 > 观察发展 > 跟踪清退。"),
    ("重点服务企业营收与税收", "本季度层级为重点服务的企业在本季度的营业收入、税收合计（万元）。"),
    ("同比增长", "同口径：仅计两期（本季度与去年同期）均报送该项数据的企业。"),
    ("走访跟进", "到期日在本季度的跟进计划（不含已取消）；已完成；截至统计日仍未完成且已过期的为逾期。"),
    ("走访次数", "走访日期在本季度的走访记录数。"),
    ("诉求受理与逾期", "受理日期在本季度的诉求；其中办结晚于办理时限，或至统计日未办结且已超时限的为逾期。"),
    ("诉求办结与关闭", "办结、关闭时间在本季度的诉求；平均办结天数为受理日至办结日的自然日天数平均。"),
    ("满意度", "回访时间在本季度的诉求；满意率 =（满意 + 基本满意）÷ 回访数。"),
)


class Percent(float):
    """A share shown as a percentage."""


class Days(float):
    """A number of days shown with one decimal."""


def _cell(sheet: WriteOnlyWorksheet, value: Any, **style: Any) -> Any:
    """A typed, injection-safe cell: money with two decimals, shares as percentages, — for none."""
    if value is None:
        return safe_cell(sheet, "—", **style)
    if isinstance(value, Decimal | Percent | Days):
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = (
            PERCENT_FORMAT if isinstance(value, Percent) else DAYS_FORMAT if isinstance(value, Days) else DECIMAL_FORMAT
        )
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell
    return safe_cell(sheet, value, **style)


def _percent(value: float | None) -> Percent | None:
    return None if value is None else Percent(value)


def _days(value: float | None) -> Days | None:
    return None if value is None else Days(value)


def _grid(
    sheet: WriteOnlyWorksheet,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    labelled: bool = True,
) -> None:
    """A titled table with a bold header (and bold row labels when `labelled`), then a blank row."""
    sheet.append([safe_cell(sheet, title, font=HEADER_FONT)])
    sheet.append([safe_cell(sheet, h, font=HEADER_FONT) for h in header])
    for row in rows:
        if labelled:
            label, *values = row
            sheet.append([_cell(sheet, label, font=HEADER_FONT), *(_cell(sheet, v) for v in values)])
        else:
            sheet.append([_cell(sheet, v) for v in row])
    sheet.append([])


def _set_widths(sheet: WriteOnlyWorksheet, first: int, others: int, count: int) -> None:
    sheet.column_dimensions["A"].width = first
    for index in range(2, count + 1):
        sheet.column_dimensions[get_column_letter(index)].width = others
    set_print_setup(sheet)


def write_figures(sheet: WriteOnlyWorksheet, figures: Figures, report: QuarterReport) -> None:
    """The blocks every area gets: tiers × chains, changes, key firms' money, follow-ups, requests."""
    quarter, previous, year_ago = report.quarter.key, report.previous.key, report.year_ago.key
    rows: list[list[Any]] = []
    for tier in TIER_KEYS:
        counts = [figures.tier_chain[(tier, chain)] for chain in CHAIN_KEYS]
        rows.append([TIER_NAMES[tier], *counts, sum(counts)])
    rows.append(["合计", *(figures.chain_total(chain) for chain in CHAIN_KEYS), figures.firms])
    _grid(sheet, f"按服务层级和产业链统计（{quarter}，家）", ["服务层级", *CHAIN_NAMES.values(), "合计"], rows)

    matrix = [
        [TIER_NAMES[before], *(figures.transitions[(before, after)] for after in TIER_KEYS)] for before in TIER_KEYS
    ]
    _grid(sheet, f"层级变动（行：{previous}，列：{quarter}，家）", ["", *TIER_NAMES.values()], matrix)
    changes = figures.changes
    _grid(
        sheet,
        "层级变动汇总（家）",
        ["上调", "下调", "不变", "新纳入分类", "退出分类"],
        [[changes["up"], changes["down"], changes["same"], changes["new"], changes["left"]]],
        labelled=False,
    )

    _grid(
        sheet,
        f"重点服务企业营收与税收（万元，同比对比{year_ago}）",
        ["指标", f"{quarter}合计", f"{quarter}（同口径）", f"{year_ago}（同口径）", "同比增长"],
        [
            [
                "营业收入",
                figures.revenue,
                figures.revenue_comparable,
                figures.revenue_year_ago,
                _percent(figures.revenue_growth),
            ],
            ["税收", figures.tax, figures.tax_comparable, figures.tax_year_ago, _percent(figures.tax_growth)],
        ],
    )
    _grid(
        sheet,
        "重点服务企业数据报送（家）",
        ["重点服务企业", "本季度报送数据"],
        [[figures.key_firms, figures.key_reporting]],
        labelled=False,
    )
    _grid(
        sheet,
        "走访跟进（次）",
        ["本季度到期计划", "已完成", "逾期未完成", "本季度走访次数"],
        [[figures.followups_planned, figures.followups_done, figures.followups_overdue, figures.visits]],
        labelled=False,
    )
    _grid(
        sheet,
        "企业诉求（件）",
        ["本季度受理", "其中逾期", "本季度办结", "平均办结天数", "本季度关闭"],
        labelled=False,
        rows=[
            [
                figures.requests_opened,
                figures.requests_overdue,
                figures.requests_resolved,
                _days(figures.average_resolve_days),
                figures.requests_closed,
            ]
        ],
    )
    _grid(
        sheet,
        "回访满意度（件）",
        [*SATISFACTION_NAMES.values(), "回访合计", "满意率"],
        labelled=False,
        rows=[
            [
                *(figures.satisfaction[s.value] for s in SATISFACTION_NAMES),
                figures.satisfaction_total,
                _percent(figures.satisfaction_rate),
            ]
        ],
    )


def _overview(sheet: WriteOnlyWorksheet, report: QuarterReport) -> None:
    """One row per street of headline figures, and the total."""
    header = [
        "街道",
        *(TIER_NAMES[t] for t in TIER_KEYS),
        "合计",
        "重点企业营收（万元）",
        "营收同比",
        "重点企业税收（万元）",
        "税收同比",
        "到期跟进",
        "完成跟进",
        "逾期跟进",
        "受理诉求",
        "逾期诉求",
        "平均办结天数",
        "满意率",
    ]

    def line(label: str, f: Figures) -> list[Any]:
        return [
            label,
            *(f.tier_total(t) for t in TIER_KEYS),
            f.firms,
            f.revenue,
            _percent(f.revenue_growth),
            f.tax,
            _percent(f.tax_growth),
            f.followups_planned,
            f.followups_done,
            f.followups_overdue,
            f.requests_opened,
            f.requests_overdue,
            _days(f.average_resolve_days),
            _percent(f.satisfaction_rate),
        ]

    rows = [line(s.street.name, s.figures) for s in report.streets] + [line("合计", report.total)]
    _grid(sheet, f"各街道概览（{report.quarter.key}）", header, rows)


def sheet_title(name: str, used: set[str]) -> str:
    """A sheet title Excel accepts (no []:*?/\\, at most 31 characters), unique in the workbook."""
    base = _SHEET_UNSAFE.sub("", name).strip("' ")[:31] or "街道"
    title, number = base, 2
    while title in used:
        suffix = f"({number})"
        title, number = base[: 31 - len(suffix)] + suffix, number + 1
    used.add(title)
    return title


def quarter_workbook(report: QuarterReport, *, platform: str, author: str) -> Workbook:
    """The whole report as a write-only workbook, ready to save."""
    workbook = Workbook(write_only=True)
    scope = "全部街道" if report.whole_platform else report.street_names
    summary_title = platform if report.whole_platform else scope
    quarter = report.quarter
    cover = workbook.create_sheet("说明")
    write_key_values(
        cover,
        f"{platform}企业分类服务季度报告（{quarter.key}）",
        [
            ("平台", platform),
            ("范围", scope or "无"),
            ("季度", quarter.key),
            ("统计区间", f"{quarter.first_day.isoformat()} 至 {quarter.last_day.isoformat()}"),
            ("对比季度", f"上季度 {report.previous.key}；去年同期 {report.year_ago.key}"),
            ("逾期统计截至", report.today.isoformat()),
            ("生成时间", dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")),
            ("生成人", author),
            ("工作表", "汇总；" + "；".join(s.street.name for s in report.streets)),
            *((f"口径：{name}", text) for name, text in DEFINITIONS),
        ],
    )
    used = {"说明", "汇总"}
    summary = workbook.create_sheet("汇总")
    _set_widths(summary, max(16, min(display_width(summary_title) + 4, MAX_WIDTH)), 14, 18)
    summary.append([safe_cell(summary, f"{summary_title} · {quarter.key}", font=HEADER_FONT)])
    summary.append([])
    _overview(summary, report)
    write_figures(summary, report.total, report)
    for section in report.streets:
        sheet = workbook.create_sheet(sheet_title(section.street.name, used))
        _set_widths(sheet, 26, 14, 7)
        sheet.append([safe_cell(sheet, f"{section.street.name} · {quarter.key}", font=HEADER_FONT)])
        sheet.append([])
        write_figures(sheet, section.figures, report)
    return workbook


def quarter_file_name(scope: str, quarter: str) -> str:
    """`临平新城_2026Q3_季度报告.xlsx` (without unsafe characters)."""
    return safe_file_name(f"{scope}_{quarter}_季度报告.xlsx")
