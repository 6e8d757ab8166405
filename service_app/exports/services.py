"""Roster exports: the firms a user sees, as the workbook street offices receive, and packs of them.

The rows come from the firm list's own filter clauses (`firms.services.firm_filter_clauses`), so
an export holds exactly what the list shows, scoped to the user. Headers are the importer's
(`roster.columns.HEADERS`), so an exported file imports back unchanged.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.orm import aliased

from ..domain.followups import FollowupStatus, RequestStatus
from ..domain.quarters import Quarter
from ..domain.tiers import CHAIN_CHINESE, TIER_CHINESE, Chain, FirmStatus, Tier
from ..domain.workdays import CHINA
from ..extensions import db
from ..firms.services import FLAG_FIELDS, NO_TIER, FirmFilters, firm_filter_clauses, firm_ordering
from ..models import Building, Firm, FirmRequest, Followup, QuarterlyMetric, Street, TierAssignment, User, Visit
from ..roster.columns import FIRM_COLUMNS, METRIC_COLUMNS, header_label
from ..scoping import firm_scope
from . import workbook as book
from .workbook import Column

log = logging.getLogger(__name__)

STATUS_CHINESE = {FirmStatus.ACTIVE: "正常", FirmStatus.RELOCATING: "迁出中", FirmStatus.DEREGISTERED: "已注销"}
COVER_NOTE = (
    "各层级工作表的表头与导入模板一致，修改后可直接导入；服务层级、分层依据、走访与诉求列仅供查阅，导入时不读取。"
)
#: Sheet of firms not assessed yet (written only when there are some).
UNASSESSED_SHEET = "未分类"
OPEN_REQUEST_STATUSES = (RequestStatus.RECEIVED, RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)
_DECIMAL_FIELDS = frozenset({"registered_capital", "revenue", "tax", "rd_spend", "floor_area_m2", "land_mu"})
_FLAG_SET = frozenset(FLAG_FIELDS)
#: Reports progress: (units done, units in all).
Progress = Callable[[int, int], None]
#: Rows between two progress reports while a sheet is written.
PROGRESS_EVERY = 2000
#: Characters no file name may carry (path separators, Windows' reserved set, controls).
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def _column(field_name: str) -> Column:
    if field_name in _DECIMAL_FIELDS:
        return Column(header_label(field_name), "decimal")
    if field_name == "established":
        return Column(header_label(field_name), "date")
    if field_name == "employees":
        return Column(header_label(field_name), "count")
    if field_name == "tier":
        return Column(header_label(field_name), choices=tuple(TIER_CHINESE.values()))
    return Column(header_label(field_name))


#: The tier sheets' columns: 序号, every importer header, then what people read but do not import.
ROSTER_COLUMNS: tuple[Column, ...] = (
    Column("序号", "count"),
    *(_column(name) for name in (*FIRM_COLUMNS, "tier", "quarter", *METRIC_COLUMNS)),
    Column("备注"),
    Column("分层依据"),
    Column("最近走访日期", "date"),
    Column("下次跟进日期", "date"),
    Column("未办结诉求（件）", "count"),
)


@dataclass
class ExportResult:
    """What an export wrote: where, for which quarter, how many firms per sheet."""

    path: Path
    quarter: str
    counts: dict[str, int] = field(default_factory=dict)
    street: Street | None = None  #: set for the workbooks of a pack

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def export_quarter(quarter: str | None) -> str:
    """The quarter an export is for: the one given, else the latest assessed, else today's."""
    if quarter:
        return Quarter.parse(quarter).key
    latest = db.session.scalar(sa.select(sa.func.max(TierAssignment.quarter)))
    return latest or Quarter.of(dt.date.today()).key


def _data_quarter(quarter: str) -> str | None:
    """The newest quarter of figures at or before the export quarter."""
    return db.session.scalar(sa.select(sa.func.max(QuarterlyMetric.quarter)).where(QuarterlyMetric.quarter <= quarter))


def _roster_select(clauses: list[sa.ColumnElement[bool]], quarter: str, data_quarter: str | None) -> sa.Select[Any]:
    """One row per firm: its fields, the quarter's figures and reasons, visits, follow-up, requests."""
    officer = aliased(User)
    metric = aliased(QuarterlyMetric)
    assignment = aliased(TierAssignment)
    last_visit = sa.select(Visit.firm_id, sa.func.max(Visit.visited_on).label("day")).group_by(Visit.firm_id).subquery()
    next_due = (
        sa.select(Followup.firm_id, sa.func.min(Followup.due_date).label("day"))
        .where(Followup.status == FollowupStatus.OPEN)
        .group_by(Followup.firm_id)
        .subquery()
    )
    open_requests = (
        sa.select(FirmRequest.firm_id, sa.func.count().label("n"))
        .where(FirmRequest.status.in_(OPEN_REQUEST_STATUSES))
        .group_by(FirmRequest.firm_id)
        .subquery()
    )
    fields = {
        "street": Street.name,
        "building": Building.name,
        "officer": officer.username,
        "tier": Firm.current_tier,
        "quarter": metric.quarter,
        **{name: getattr(metric, name) for name in METRIC_COLUMNS},
    }
    selected: list[Any] = [
        fields[name] if name in fields else getattr(Firm, name) for name in (*FIRM_COLUMNS, "tier", "quarter")
    ]
    selected += [fields[name] for name in METRIC_COLUMNS]
    return (
        sa.select(
            *selected,
            Firm.notes,
            assignment.reasons,
            last_visit.c.day,
            next_due.c.day,
            open_requests.c.n,
        )
        .join(Street, Street.id == Firm.street_id)
        .outerjoin(Building, Building.id == Firm.building_id)
        .outerjoin(officer, officer.id == Firm.officer_id)
        .outerjoin(metric, sa.and_(metric.firm_id == Firm.id, metric.quarter == (data_quarter or "")))
        .outerjoin(assignment, sa.and_(assignment.firm_id == Firm.id, assignment.quarter == quarter))
        .outerjoin(last_visit, last_visit.c.firm_id == Firm.id)
        .outerjoin(next_due, next_due.c.firm_id == Firm.id)
        .outerjoin(open_requests, open_requests.c.firm_id == Firm.id)
        .where(*clauses)
    )


def _cells(number: int, row: Sequence[Any]) -> list[Any]:
    """A database row as the sheet's values: Chinese words for codes, 是/否 for flags."""
    values: list[Any] = [number]
    width = len(FIRM_COLUMNS) + 2 + len(METRIC_COLUMNS)
    names = (*FIRM_COLUMNS, "tier", "quarter", *METRIC_COLUMNS)
    for name, value in zip(names, row[:width], strict=True):
        if value is None:
            values.append(None)
        elif name in _FLAG_SET:
            values.append("是" if value else "否")
        elif name == "chain":
            values.append(CHAIN_CHINESE[Chain(value)])
        elif name == "status":
            values.append(STATUS_CHINESE[FirmStatus(value)])
        elif name == "tier":
            values.append(TIER_CHINESE[Tier(value)])
        else:
            values.append(value)
    notes, reasons, last_visit, next_due, open_requests = row[width:]
    values.append(notes or None)
    values.append("；".join(str(r.get("text") or r.get("code", "")) for r in reasons or []) or None)
    values += [last_visit, next_due, open_requests or 0]
    return values


def describe_filters(filters: FirmFilters) -> str:
    """The filters in words, for the cover sheet."""
    parts = []
    if filters.q.strip():
        parts.append(f"关键词：{filters.q.strip()}")
    if filters.tier == NO_TIER:
        parts.append("服务层级：未分类")
    elif filters.tier in Tier.__members__.values():
        parts.append(f"服务层级：{TIER_CHINESE[Tier(filters.tier)]}")
    if filters.street_id:
        street = db.session.get(Street, filters.street_id)
        parts.append(f"街道：{street.name if street else filters.street_id}")
    if filters.chain in Chain.__members__.values():
        parts.append(f"产业链：{CHAIN_CHINESE[Chain(filters.chain)]}")
    if filters.building_id:
        building = db.session.get(Building, filters.building_id)
        parts.append(f"楼宇：{building.name if building else filters.building_id}")
    if filters.status in FirmStatus.__members__.values():
        parts.append(f"经营状态：{STATUS_CHINESE[FirmStatus(filters.status)]}")
    parts += [f"{header_label(flag)}：是" for flag in filters.flags if flag in _FLAG_SET]
    return "；".join(parts) or "无（全部可见企业）"


def _tier_changes(clauses: list[sa.ColumnElement[bool]], quarter: str) -> Counter[tuple[str | None, str]]:
    """(tier last quarter, tier this quarter) → firms, for the firms in the export."""
    current = aliased(TierAssignment)
    previous = aliased(TierAssignment)
    last_quarter = (Quarter.parse(quarter) - 1).key
    query = (
        sa.select(previous.tier, current.tier, sa.func.count())
        .select_from(Firm)
        .join(current, sa.and_(current.firm_id == Firm.id, current.quarter == quarter))
        .outerjoin(previous, sa.and_(previous.firm_id == Firm.id, previous.quarter == last_quarter))
        .where(*clauses)
        .group_by(previous.tier, current.tier)
    )
    return Counter({(before, after): count for before, after, count in db.session.execute(query)})


def _summary(sheet: Any, chains: Counter[tuple[str, str]], changes: Counter[tuple[Any, Any]], quarter: str) -> None:
    """The 汇总 sheet: firms by tier × chain, then the tier changes since last quarter."""
    sheet.column_dimensions["A"].width = 16
    for letter in "BCDEFGH":
        sheet.column_dimensions[letter].width = 12
    book.set_print_setup(sheet)
    tier_names = [*TIER_CHINESE.values(), UNASSESSED_SHEET]
    chain_names = [*CHAIN_CHINESE.values(), "未填"]
    rows = []
    for tier in tier_names:
        counts = [chains[(tier, chain)] for chain in chain_names]
        rows.append([tier, *counts, sum(counts)])
    totals = [sum(chains[(t, c)] for t in tier_names) for c in chain_names]
    rows.append(["合计", *totals, sum(totals)])
    book.write_grid(sheet, "按服务层级和产业链统计（家）", ["服务层级", *chain_names, "合计"], rows)
    order = list(Tier)
    moves: Counter[str] = Counter()
    for (before, after), count in changes.items():
        if before is None:
            moves["新纳入分类"] += count
        elif before == after:
            moves["层级不变"] += count
        else:
            moves["上调" if order.index(Tier(after)) < order.index(Tier(before)) else "下调"] += count
    last_quarter = (Quarter.parse(quarter) - 1).key
    book.write_grid(
        sheet,
        f"较上季度（{last_quarter}）层级变动（家）",
        ["变动", "企业数"],
        [[name, moves[name]] for name in ("上调", "下调", "层级不变", "新纳入分类")],
    )
    matrix = [[TIER_CHINESE[before], *(changes[(before, after)] for after in Tier)] for before in Tier] + [
        ["上季度未分类", *(changes[(None, after)] for after in Tier)]
    ]
    book.write_grid(sheet, f"层级变动明细：行为{last_quarter}，列为{quarter}", ["", *TIER_CHINESE.values()], matrix)


def roster_workbook(
    path: Path,
    user: User | None,
    filters: FirmFilters,
    quarter: str | None = None,
    *,
    platform: str = "",
    street_name: str = "",
    progress: Progress | None = None,
) -> ExportResult:
    """Write the roster of the firms `user` sees through `filters` to `path` (None user: all streets).

    `progress`, when given, hears (rows written, rows in all) every few thousand rows.
    """
    quarter = export_quarter(quarter)
    clauses = firm_filter_clauses(user, filters)
    tick = None
    if progress is not None:
        total = count_firms(clauses)
        progress(0, total)

        def tick(done: int) -> None:
            progress(done, total)

    select = _roster_select(clauses, quarter, _data_quarter(quarter)).order_by(*firm_ordering(filters))
    workbook = Workbook(write_only=True)
    cover = workbook.create_sheet("说明")  # created first so they come first; filled last
    summary = workbook.create_sheet("汇总")
    result = ExportResult(Path(path), quarter)
    chains = _write_tier_sheets(workbook, select, result.counts, tick)
    _summary(summary, chains, _tier_changes(clauses, quarter), quarter)
    book.write_key_values(
        cover,
        f"{platform}企业分类名录（{quarter}）",
        [
            ("平台", platform),
            ("街道", street_name or _streets_in_scope(user, filters)),
            ("季度", quarter),
            ("导出时间", dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")),
            ("导出人", user.label if user is not None else "系统"),
            ("筛选条件", describe_filters(filters)),
            ("企业总数（家）", result.total),
            *((f"{title}（家）", count) for title, count in result.counts.items()),
            ("说明", COVER_NOTE),
        ],
    )
    book.save_atomically(workbook, result.path)
    log.info("roster export: %s firms, quarter %s, to %s", result.total, quarter, result.path)
    return result


def count_firms(clauses: list[sa.ColumnElement[bool]]) -> int:
    """How many firms the clauses select."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Firm).where(*clauses)) or 0


def _write_tier_sheets(
    workbook: Workbook, select: sa.Select[Any], counts: dict[str, int], tick: Callable[[int], None] | None = None
) -> Counter[tuple[str, str]]:
    """One sheet per tier (未分类 only when needed); fills `counts` and returns (tier, chain) → firms.

    A sheet's rows are read before it is written: write-only sheets need their widths up front.
    One tier's rows at a time stay in memory, never the whole roster.
    """
    chains: Counter[tuple[str, str]] = Counter()
    chain_index = 1 + FIRM_COLUMNS.index("chain")
    sheets = [(TIER_CHINESE[t], Firm.current_tier == t) for t in Tier]
    sheets.append((UNASSESSED_SHEET, Firm.current_tier.is_(None)))
    written = 0
    for title, condition in sheets:
        rows = [_cells(n, row) for n, row in enumerate(db.session.execute(select.where(condition)), start=1)]
        if not rows and title == UNASSESSED_SHEET:
            continue
        sheet = workbook.create_sheet(title)
        writer = book.start_table(sheet, ROSTER_COLUMNS, book.fitted_widths(ROSTER_COLUMNS, rows), len(rows))
        for values in rows:
            writer.append(values)
            chains[(title, values[chain_index] or "未填")] += 1
            written += 1
            if tick is not None and written % PROGRESS_EVERY == 0:
                tick(written)
        counts[title] = len(rows)
        del rows  # before the next tier's rows are read, not after
    return chains


def _streets_in_scope(user: User | None, filters: FirmFilters) -> str:
    if filters.street_id:
        street = db.session.get(Street, filters.street_id)
        return street.name if street else ""
    if user is None or user.sees_all_streets:
        return "全部街道"
    return "、".join(s.name for s in user.streets)


def street_label(user: User | None, filters: FirmFilters, platform: str) -> str:
    """What a download is named after: the filtered street, the user's one street, or the platform."""
    if filters.street_id:
        street = db.session.get(Street, filters.street_id)
        if street is not None:
            return street.name
    if user is not None and not user.sees_all_streets and len(user.streets) == 1:
        return user.streets[0].name
    return platform


def safe_file_name(name: str) -> str:
    """A file name without path separators, reserved characters or leading dots."""
    cleaned = _UNSAFE_NAME.sub("", name).strip().lstrip(".")
    return cleaned[:150] or "export"


def roster_file_name(street: str, quarter: str) -> str:
    """`临平街道_2026Q4_企业分类名录.xlsx`."""
    return safe_file_name(f"{street}_{quarter}_企业分类名录.xlsx")


def pack_file_name(platform: str, quarter: str) -> str:
    """`临平新城_2026Q4_分街道名录.zip`."""
    return safe_file_name(f"{platform}_{quarter}_分街道名录.zip")


def export_pack(
    path: Path,
    user: User | None,
    quarter: str | None = None,
    *,
    platform: str = "",
    keep_in: Path | None = None,
    progress: Progress | None = None,
) -> list[ExportResult]:
    """A zip of one roster workbook per street the user sees, written atomically to `path`.

    With `keep_in`, the street workbooks stay in that folder as well (for per-street downloads).
    `progress` hears (firm rows written, firm rows in all) across the streets.
    """
    quarter = export_quarter(quarter)
    query = sa.select(Street).order_by(Street.id)
    if user is not None and not user.sees_all_streets:
        query = query.where(Street.id.in_([s.id for s in user.streets]))
    path = Path(path)
    results = []
    street_progress = None
    if progress is not None:
        scope = [firm_scope(user)] if user is not None else []
        total, before = count_firms(scope), 0
        progress(0, total)

        def street_progress(done: int, _total: int) -> None:
            if done:
                progress(before + done, total)

    with tempfile.TemporaryDirectory(dir=path.parent) as work:
        partial = Path(work) / "pack.zip"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for street in db.session.scalars(query):
                name = roster_file_name(street.name, quarter)
                member = (keep_in or Path(work)) / (name if keep_in else f"street-{street.id}.xlsx")
                result = roster_workbook(
                    member,
                    user,
                    FirmFilters(street_id=street.id),
                    quarter,
                    platform=platform,
                    street_name=street.name,
                    progress=street_progress,
                )
                if progress is not None:
                    before += result.total
                    progress(before, total)
                archive.write(member, name)
                if keep_in is None:
                    member.unlink()
                result.path = Path(name)
                result.street = street
                results.append(result)
        os.replace(partial, path)
    return results


def streets_by_name(names: Sequence[str]) -> dict[str, Street]:
    """Streets by name, for the command line."""
    return {s.name: s for s in db.session.scalars(sa.select(Street).where(Street.name.in_(list(names))))}
