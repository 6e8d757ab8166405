"""Planning an import: read every row, normalise and validate it, match it to the roster, and
decide what would be created, updated or left unchanged — before anything is written.

The plan reads the database (streets, buildings, officers, existing firms and metrics) but
writes nothing; `apply.py` writes a plan in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa

from ..domain.credit_codes import CreditCodeError, validate_credit_code
from ..domain.industry import IndustryCodeError, validate_industry_code
from ..domain.text import clean_code, clean_text
from ..domain.tiers import CHAIN_CHINESE, Chain, FirmStatus, Role
from ..extensions import db
from ..models import Building, Firm, ImportMode, QuarterlyMetric, Street, User
from ..permissions import OFFICER_FIRM_FIELDS, can_create_firm
from ..scoping import street_ids_for
from . import cells
from .cells import CellError
from .columns import FIRM_COLUMNS, HEADER_SEARCH_ROWS, METRIC_COLUMNS, HeaderRow, header_at, header_label, money_scale
from .reading import Table

CHUNK = 500
PREVIEW_ROWS = 20
#: Words in the first cells that mark a totals row (合计) or a notes row.
TOTAL_WORDS = ("合计", "总计", "小计", "累计")
NOTE_PREFIXES = ("注", "说明", "备注", "填表", "制表", "审核", "单位：", "单位:")

#: Firm columns as stored: the roster's street/building/officer become ids.
STORED_FIELD = {"street": "street_id", "building": "building_id", "officer": "officer_id"}
REQUIRED_FOR_NEW = ("name", "street")
_STATUS_WORDS = {
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
_CHAIN_WORDS = {name: chain for chain, name in CHAIN_CHINESE.items()} | {c.value.upper(): c for c in Chain}


class ImportPermissionError(PermissionError):
    """The user may not import rosters at all."""


@dataclass
class ImportOptions:
    """What the user chose on the upload form or the command line."""

    mode: ImportMode = ImportMode.UPSERT
    overwrite_blanks: bool = False
    skip_invalid: bool = False
    default_quarter: str | None = None


@dataclass
class RowError:
    """One problem in one cell: the Excel row, the column header, the value, a message."""

    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


@dataclass
class PlannedRow:
    """One valid data row and what applying it does."""

    row: int
    credit_code: str
    firm_id: int | None  # None: the firm will be created
    firm_values: dict[str, Any]  # stored column → value, for a new firm or the changed fields
    firm_before: dict[str, Any]  # stored column → value before, for changed fields
    version: int | None
    quarter: str | None
    metric_values: dict[str, Any]  # metric column → value to write (changed or new)
    metric_before: dict[str, Any] | None  # the metric row before (None: it will be created)
    metric_exists: bool = False

    @property
    def action(self) -> str:
        """created, updated or unchanged."""
        if self.firm_id is None:
            return "created"
        return "updated" if self.firm_values or self.metric_values else "unchanged"


@dataclass
class ImportPlan:
    """Everything the preview shows and the apply step writes."""

    table_format: str
    header: HeaderRow | None
    mapping: dict[int, str]
    total_rows: int = 0
    rows: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    invalid_rows: set[int] = field(default_factory=set)
    preview: list[dict[str, Any]] = field(default_factory=list)

    def count(self, action: str) -> int:
        """How many rows would be created, updated or left unchanged."""
        return sum(1 for row in self.rows if row.action == action)

    @property
    def has_metrics(self) -> bool:
        return any(f in METRIC_COLUMNS for f in self.mapping.values())

    def summary(self) -> dict[str, Any]:
        """The counts and errors, as the CLI prints them."""
        return {
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "skipped": len(self.invalid_rows),
            "errors": [e.as_dict() for e in self.errors],
        }


class RosterFormatError(ValueError):
    """The file has no recognisable roster header; the message says what to do."""


def _display(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()[:10]
    return str(value)[:200]


class _Lookups:
    """Streets, buildings and officers by name, loaded once per plan."""

    def __init__(self) -> None:
        self.streets = {s.name: s.id for s in db.session.scalars(sa.select(Street))}
        self.street_names = {v: k for k, v in self.streets.items()}
        self.buildings = {(b.street_id, b.name): b.id for b in db.session.scalars(sa.select(Building))}
        self.officers: dict[str, int] = {}
        for user in db.session.scalars(sa.select(User).where(User.role == Role.OFFICER)):
            self.officers.setdefault(user.username, user.id)
            if user.display_name:
                self.officers.setdefault(user.display_name, user.id)

    def street_id(self, value: object) -> int:
        if isinstance(value, str) and value in self.streets:  # the usual case, exact
            return self.streets[value]
        name = clean_text(value).replace(" ", "")
        if name in self.streets:
            return self.streets[name]
        candidates = [sid for sname, sid in self.streets.items() if sname.startswith(name) or name.startswith(sname)]
        if len(candidates) == 1 and len(name) >= 2:
            return candidates[0]
        raise CellError(f"街道“{name}”不在街道列表中，请使用系统中的街道名称（如 临平街道、塘栖镇）")

    def building_id(self, value: object, street_id: int | None) -> int:
        name = clean_text(value)
        if street_id is not None and (street_id, name) in self.buildings:
            return self.buildings[(street_id, name)]
        matches = [bid for (sid, bname), bid in self.buildings.items() if bname == name]
        if street_id is None and len(matches) == 1:
            return matches[0]
        raise CellError(f"楼宇“{name}”不在该街道的楼宇列表中，请先由管理员添加该楼宇")

    def officer_id(self, value: object) -> int:
        name = clean_text(value)
        if name in self.officers:
            return self.officers[name]
        raise CellError(f"服务专员“{name}”不是系统中的服务专员账号")


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
    for word, chain in _CHAIN_WORDS.items():
        if text == word.upper() or (len(text) >= 2 and word.endswith(text)):
            return chain
    raise CellError("产业链应为 数字时尚、数字贸易、数字科技 或 其他")


def _parse_industry_code(value: object) -> str:
    try:
        return validate_industry_code(str(int(value)) if isinstance(value, float) else str(value))
    except IndustryCodeError as exc:
        raise CellError("国民经济行业代码无效，应为门类字母加2–4位数字（如 C3511）") from exc


def _parse_established(value: object) -> dt.date:
    day = cells.parse_date(value)
    if not dt.date(1900, 1, 1) <= day <= dt.date.today():
        raise CellError("成立日期不合理（不能晚于今天）")
    return day


def _parse_status(value: object) -> FirmStatus:
    word = clean_code(value).upper()
    if word in _STATUS_WORDS:
        return _STATUS_WORDS[word]
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
class _Column:
    """One mapped column: where it is, what it holds and how to read it."""

    index: int
    name: str
    label: str
    kind: str  # "code", "quarter", "metric" or "firm"
    parse: Callable[[object], Any]


def _columns(mapping: dict[int, str], header: HeaderRow) -> list[_Column]:
    columns = []
    for index, name in sorted(mapping.items()):
        label = header.headers[index] if index < len(header.headers) and header.headers[index] else header_label(name)
        kind = {"credit_code": "code", "quarter": "quarter"}.get(name) or (
            "metric" if name in METRIC_COLUMNS else "firm"
        )
        if kind == "firm" and name not in FIRM_COLUMNS:
            continue  # informational columns (服务层级) are read, not imported
        columns.append(_Column(index, name, label, kind, cell_parser(name, label)))
    return columns


_CREDIT_CODE_MESSAGES = {
    "length": "统一社会信用代码应为18位",
    "format": "统一社会信用代码含有不允许的字符（不使用 I、O、S、V、Z）",
    "checksum": "统一社会信用代码校验位不正确，请核对营业执照",
}


def _is_note_or_total(row: Sequence[object], code_index: int | None) -> bool:
    """A 合计 row, a 注/说明 row or a row of blanks: not data."""
    code = row[code_index] if code_index is not None and code_index < len(row) else None
    if isinstance(code, str) and len(code) >= 15:  # the usual data row, decided cheaply
        first = row[0]
        return isinstance(first, str) and first.strip().startswith(TOTAL_WORDS)
    filled = [c for c in row if not cells.is_blank(c)]
    if not filled:
        return True
    leading = [clean_text(c).replace(" ", "") for c in row[:3] if isinstance(c, str)]
    if any(text in TOTAL_WORDS or text.startswith(TOTAL_WORDS) for text in leading):
        return True
    has_code = code_index is not None and code_index < len(row) and not cells.is_blank(row[code_index])
    if not has_code and len(filled) == 1 and isinstance(filled[0], str):
        return clean_text(filled[0]).startswith(NOTE_PREFIXES) or len(filled[0]) > 20
    return False


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_FIRM_STORED_COLUMNS = [
    "credit_code",
    "name",
    "registration_number",
    "chain",
    "industry_code",
    "street_id",
    "building_id",
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
    "officer_id",
]


def _existing_firms(codes: list[str]) -> dict[str, dict[str, Any]]:
    """Stored firms by credit code, as plain dicts (no ORM objects: apply writes with Core)."""
    table = Firm.__table__
    columns = [table.c.id, table.c.version] + [table.c[name] for name in _FIRM_STORED_COLUMNS]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(codes):
        for row in db.session.execute(sa.select(*columns).where(table.c.credit_code.in_(chunk))).mappings():
            found[row["credit_code"]] = dict(row)
    return found


def _existing_metrics(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    table = QuarterlyMetric.__table__
    columns = [table.c.firm_id, table.c.quarter] + [table.c[name] for name in METRIC_COLUMNS]
    found: dict[tuple[int, str], dict[str, Any]] = {}
    by_quarter: dict[str, list[int]] = {}
    for firm_id, quarter in pairs:
        by_quarter.setdefault(quarter, []).append(firm_id)
    for quarter, firm_ids in by_quarter.items():
        for chunk in _chunks(firm_ids):
            query = sa.select(*columns).where(table.c.quarter == quarter, table.c.firm_id.in_(chunk))
            for row in db.session.execute(query).mappings():
                found[(row["firm_id"], row["quarter"])] = {name: row[name] for name in METRIC_COLUMNS}
    return found


@dataclass
class _ParsedRow:
    row: int
    credit_code: str
    firm: dict[str, Any]  # roster field → parsed value (street/building/officer still names)
    blanks: set[str]  # mapped fields whose cell was blank
    metrics: dict[str, Any]
    metric_blanks: set[str]
    quarter: str | None


class RosterPlanner:
    """Builds an ImportPlan from a table, a mapping, options and the importing user."""

    def __init__(
        self,
        user: User | None,
        options: ImportOptions,
        remembered: Callable[[HeaderRow], dict[int, str] | None] | None = None,
    ) -> None:
        if user is not None and user.role == Role.DISTRICT:
            raise ImportPermissionError("street office viewers read rosters; they do not import them")
        self.user = user
        self.options = options
        self.remembered = remembered
        self.scope = street_ids_for(user) if user is not None else None
        self.may_create = user is None or can_create_firm(user)
        self.firm_fields = None if user is None or user.role in (Role.ADMIN, Role.SUPERVISOR) else OFFICER_FIRM_FIELDS

    def plan(self, table: Table, mapping: dict[int, str] | None = None, header: HeaderRow | None = None) -> ImportPlan:
        """Read, validate and match every row; write nothing."""
        rows = table.rows()
        if header is None:
            for index, cells_ in enumerate(rows):
                header = header_at(index, cells_)
                if header is not None or index + 1 >= HEADER_SEARCH_ROWS:
                    break
            if header is None:
                raise RosterFormatError(
                    "没有找到表头：请确认第一张工作表中有一行表头，至少包含“统一社会信用代码”“企业名称”“所在街道”等三列"
                )
        else:
            for index, _cells in enumerate(rows):
                if index >= header.index:
                    break
        if mapping is None and self.remembered is not None:
            mapping = self.remembered(header)
        mapping = dict(mapping if mapping is not None else header.mapping)
        plan = ImportPlan(table_format=table.format, header=header, mapping=mapping)
        code_index = next((i for i, f in mapping.items() if f == "credit_code"), None)
        if code_index is None:
            plan.errors.append(RowError(header.index + 1, "统一社会信用代码", "", "表头中没有“统一社会信用代码”列"))
            return plan
        columns = _columns(mapping, header)
        parsed: list[_ParsedRow] = []
        seen: dict[tuple[str, str | None], int] = {}
        lookups = _Lookups()
        excel_row = header.index + 1
        for cells_ in rows:
            excel_row += 1
            if _is_note_or_total(cells_, code_index):
                continue
            plan.total_rows += 1
            row = self._parse_row(excel_row, cells_, columns, plan)
            if row is None:
                continue
            key = (row.credit_code, row.quarter)
            if key in seen:
                self._error(plan, excel_row, "统一社会信用代码", row.credit_code, f"与第 {seen[key]} 行重复")
                continue
            seen[key] = excel_row
            parsed.append(row)
        self._match(parsed, lookups, plan)
        plan.errors.sort(key=lambda e: e.row)
        return plan

    def _error(self, plan: ImportPlan, row: int, column: str, value: object, message: str) -> None:
        plan.errors.append(RowError(row, column, _display(value), message))
        plan.invalid_rows.add(row)

    def _parse_row(
        self, excel_row: int, row_cells: Sequence[object], columns: list[_Column], plan: ImportPlan
    ) -> _ParsedRow | None:
        errors_before = len(plan.errors)
        firm: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        blanks: set[str] = set()
        metric_blanks: set[str] = set()
        code = ""
        code_failed = False
        quarter = self.options.default_quarter
        width = len(row_cells)
        for column in columns:
            value = row_cells[column.index] if column.index < width else None
            if value is None or cells.is_blank(value):
                if column.kind == "metric":
                    metric_blanks.add(column.name)
                elif column.kind == "firm":
                    blanks.add(column.name)
                continue
            try:
                parsed = column.parse(value)
            except CreditCodeError as exc:
                code_failed = True
                message = _CREDIT_CODE_MESSAGES.get(exc.reason, "统一社会信用代码无效")
                self._error(plan, excel_row, column.label, value, message)
                continue
            except CellError as exc:
                self._error(plan, excel_row, column.label, value, str(exc))
                continue
            if column.kind == "firm":
                firm[column.name] = parsed
            elif column.kind == "metric":
                metrics[column.name] = parsed
            elif column.kind == "code":
                code = parsed
            else:
                quarter = parsed
        if not code and not code_failed:
            self._error(plan, excel_row, header_label("credit_code"), "", "缺少统一社会信用代码")
        if metrics and not quarter:
            self._error(plan, excel_row, "季度", "", "有经营数据但没有季度：请增加“季度”列或在导入时选择季度")
        if len(plan.errors) > errors_before:
            return None
        return _ParsedRow(excel_row, code, firm, blanks, metrics, metric_blanks, quarter)

    def _resolve(
        self,
        row: _ParsedRow,
        existing: dict[str, Any] | None,
        lookups: _Lookups,
        plan: ImportPlan,
        labels: dict[str, str],
    ) -> dict[str, Any] | None:
        """Roster fields to stored columns (names to ids), with blanks per the overwrite option."""
        values: dict[str, Any] = {}
        ok = True
        for name, value in row.firm.items():
            try:
                if name == "street":
                    values["street_id"] = lookups.street_id(value)
                elif name == "officer":
                    values["officer_id"] = lookups.officer_id(value)
                elif name != "building":
                    values[name] = value
            except CellError as exc:
                self._error(plan, row.row, labels[name], value, str(exc))
                ok = False
        if "building" in row.firm:
            street_id = values.get("street_id", existing["street_id"] if existing else None)
            try:
                values["building_id"] = lookups.building_id(row.firm["building"], street_id)
            except CellError as exc:
                self._error(plan, row.row, labels["building"], row.firm["building"], str(exc))
                ok = False
        if self.options.overwrite_blanks and existing is not None:
            for name in row.blanks:
                stored = STORED_FIELD.get(name, name)
                if name in ("name", "street", "credit_code"):
                    continue  # never blanked: required
                values[stored] = False if name.startswith(("is_", "has_", "above_")) else None
        return values if ok else None

    def _match(self, parsed: list[_ParsedRow], lookups: _Lookups, plan: ImportPlan) -> None:
        labels = {name: plan.header.headers[i] if plan.header else name for i, name in plan.mapping.items()}
        existing = _existing_firms([r.credit_code for r in parsed])
        metric_pairs = [
            (existing[r.credit_code]["id"], r.quarter) for r in parsed if r.quarter and r.credit_code in existing
        ]
        metrics = _existing_metrics(metric_pairs) if plan.has_metrics else {}
        for row in parsed:
            stored = existing.get(row.credit_code)
            values = self._resolve(row, stored, lookups, plan, labels)
            if values is None:
                continue
            code_label = labels.get("credit_code", "统一社会信用代码")
            if stored is None:
                planned = self._plan_new(row, values, plan, code_label, lookups)
            else:
                planned = self._plan_update(row, values, stored, metrics, plan, code_label, lookups)
            if planned is not None:
                plan.rows.append(planned)
                if len(plan.preview) < PREVIEW_ROWS:
                    plan.preview.append(self._preview(planned, stored, lookups))

    def _in_scope(self, street_id: int | None) -> bool:
        return self.scope is None or street_id in self.scope

    def _plan_new(
        self, row: _ParsedRow, values: dict[str, Any], plan: ImportPlan, code_label: str, lookups: _Lookups
    ) -> PlannedRow | None:
        if self.options.mode == ImportMode.UPDATE:
            self._error(plan, row.row, code_label, row.credit_code, "系统中没有该企业（当前为“仅更新”模式）")
            return None
        if not self.may_create:
            self._error(plan, row.row, code_label, row.credit_code, "系统中没有该企业，您的角色不能新增企业")
            return None
        missing = [f for f in REQUIRED_FOR_NEW if STORED_FIELD.get(f, f) not in values]
        if missing:
            names = "、".join(header_label(f) for f in missing)
            self._error(plan, row.row, code_label, row.credit_code, f"新企业缺少必填项：{names}")
            return None
        if not self._in_scope(values["street_id"]):
            street = lookups.street_names.get(values["street_id"], "")
            self._error(plan, row.row, "所在街道", street, f"{street}不在您负责的街道范围内")
            return None
        values = {**values, "credit_code": row.credit_code}
        metric_values = dict(row.metrics) if row.metrics else {}
        return PlannedRow(
            row.row,
            row.credit_code,
            None,
            values,
            {},
            None,
            row.quarter if metric_values else None,
            metric_values,
            None,
        )

    def _plan_update(
        self,
        row: _ParsedRow,
        values: dict[str, Any],
        stored: dict[str, Any],
        metrics: dict[tuple[int, str], dict[str, Any]],
        plan: ImportPlan,
        code_label: str,
        lookups: _Lookups,
    ) -> PlannedRow | None:
        if self.options.mode == ImportMode.CREATE:
            self._error(plan, row.row, code_label, row.credit_code, "系统中已有该企业（当前为“仅新增”模式）")
            return None
        for street_id in {stored["street_id"], values.get("street_id", stored["street_id"])}:
            if not self._in_scope(street_id):
                street = lookups.street_names.get(street_id, "")
                self._error(plan, row.row, "所在街道", street, f"该企业属于{street}，不在您负责的街道范围内")
                return None
        changes = {k: v for k, v in values.items() if not _same(stored.get(k), v)}
        if self.firm_fields is not None:
            forbidden = sorted(set(changes) - self.firm_fields)
            if forbidden:
                names = "、".join(
                    header_label(next((f for f, s in STORED_FIELD.items() if s == n), n)) for n in forbidden
                )
                self._error(plan, row.row, code_label, row.credit_code, f"您的角色不能修改：{names}")
                return None
        before = {k: stored.get(k) for k in changes}
        metric_values: dict[str, Any] = {}
        metric_before = None
        metric_exists = False
        if row.quarter and (row.metrics or (self.options.overwrite_blanks and row.metric_blanks)):
            current = metrics.get((stored["id"], row.quarter))
            metric_exists = current is not None
            wanted = dict(row.metrics)
            if self.options.overwrite_blanks:
                wanted.update({name: None for name in row.metric_blanks})
            if current is None:
                metric_values = {k: v for k, v in wanted.items() if v is not None}
            else:
                metric_values = {k: v for k, v in wanted.items() if not _same(current.get(k), v)}
                metric_before = current
        return PlannedRow(
            row.row,
            row.credit_code,
            stored["id"],
            changes,
            before,
            stored["version"],
            row.quarter if metric_values else None,
            metric_values,
            metric_before,
            metric_exists,
        )

    def _preview(self, planned: PlannedRow, stored: dict[str, Any] | None, lookups: _Lookups) -> dict[str, Any]:
        merged = {**(stored or {}), **planned.firm_values}
        return {
            "row": planned.row,
            "action": planned.action,
            "credit_code": planned.credit_code,
            "name": merged.get("name", ""),
            "street": lookups.street_names.get(merged.get("street_id") or 0, ""),
            "changes": {k: _display(v) for k, v in planned.firm_values.items() if k != "credit_code"},
            "quarter": planned.quarter,
            "metrics": {k: _display(v) for k, v in planned.metric_values.items()},
        }


def _same(stored: object, new: object) -> bool:
    """Equal as stored: decimals by value, enums by value, dates by day."""
    if stored is None or new is None:
        return stored is None and new is None
    if isinstance(new, Decimal) or isinstance(stored, Decimal):
        try:
            return Decimal(str(stored)) == Decimal(str(new))
        except ArithmeticError:
            return False
    if hasattr(stored, "value") or hasattr(new, "value"):
        return getattr(stored, "value", stored) == getattr(new, "value", new)
    if isinstance(stored, dt.datetime):
        stored = stored.date()
    return bool(stored == new)
