"""Planning an import: read every row, normalise and validate it, match it to the roster, and
decide what would be created, updated or left unchanged — before anything is written.

One firm may span several rows (one per quarter of metrics); the plan holds one entry per firm
with its metric rows. The plan reads the database but writes nothing; `apply.py` writes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..domain.credit_codes import CreditCodeError, normalise_credit_code
from ..domain.text import clean_text
from ..domain.tiers import Role
from ..extensions import db
from ..firms.services import FIRM_FIELDS
from ..models import Building, Firm, ImportMode, QuarterlyMetric, Street, User, user_streets
from ..permissions import OFFICER_FIRM_FIELDS, can_create_firm
from ..scoping import street_ids_for
from . import cells
from .cells import CellError
from .columns import HEADER_SEARCH_ROWS, METRIC_COLUMNS, HeaderRow, header_at, header_label
from .parsing import CREDIT_CODE_MESSAGES, Column, columns_for, display, is_note_or_total
from .reading import Table

CHUNK = 500
PREVIEW_ROWS = 20
#: Firm columns as stored: the roster's street/building/officer become ids.
STORED_FIELD = {"street": "street_id", "building": "building_id", "officer": "officer_id"}
REQUIRED_FOR_NEW = ("name", "street")
#: Never cleared by "empty cells clear stored values": the firm cannot be without them.
NEVER_BLANKED = frozenset({"credit_code", "name", "street", "status"})
#: What a user with a street scope is told about a firm it may not see, whether or not it exists.
NOT_YOURS = "不在您负责的街道范围内或系统中没有该企业"
#: The stored firm columns an import reads and may set.
FIRM_STORED_COLUMNS = tuple(f for f in FIRM_FIELDS if f != "credit_code_exception")


class ImportPermissionError(PermissionError):
    """The user may not import rosters at all."""


class RosterFormatError(ValueError):
    """The file has no recognisable roster header; the message says what to do."""


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


@dataclass(slots=True)
class MetricWrite:
    """One quarter's metric row to insert or change."""

    row: int
    quarter: str
    values: dict[str, Any]  # the columns to write (new values)
    before: dict[str, Any] | None  # the stored row before; None when it does not exist

    @property
    def after(self) -> dict[str, Any]:
        """The whole row as it will be stored."""
        return {name: (self.before or {}).get(name) for name in METRIC_COLUMNS} | self.values


@dataclass(slots=True)
class PlannedFirm:
    """One firm of the file and what applying does to it."""

    rows: list[int]  # the Excel rows it came from
    credit_code: str
    firm_id: int | None  # None: the firm will be created
    firm_values: dict[str, Any]  # stored column → value: all of a new firm's, or the changed ones
    firm_before: dict[str, Any]  # stored column → value before, for the changed ones
    version: int | None  # the stored version the changes are based on
    metrics: list[MetricWrite] = field(default_factory=list)

    @property
    def row(self) -> int:
        return self.rows[0]

    @property
    def action(self) -> str:
        """created, updated or unchanged."""
        if self.firm_id is None:
            return "created"
        return "updated" if self.firm_values or self.metrics else "unchanged"


@dataclass
class ImportPlan:
    """Everything the preview shows and the apply step writes."""

    table_format: str
    header: HeaderRow | None
    mapping: dict[int, str]
    total_rows: int = 0
    firms: list[PlannedFirm] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    invalid_rows: set[int] = field(default_factory=set)
    preview: list[dict[str, Any]] = field(default_factory=list)

    def count(self, action: str) -> int:
        """How many firms would be created, updated or left unchanged."""
        return sum(1 for firm in self.firms if firm.action == action)

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


class _Lookups:
    """Streets, buildings and active officers by name, loaded once per plan."""

    def __init__(self) -> None:
        self.streets = {s.name: s.id for s in db.session.scalars(sa.select(Street))}
        self.street_names = {v: k for k, v in self.streets.items()}
        self.buildings = {(b.street_id, b.name): b.id for b in db.session.scalars(sa.select(Building))}
        self.building_street = {bid: sid for (sid, _), bid in self.buildings.items()}
        self.officers: dict[str, int | None] = {}  # None: two officers share the name
        officers = db.session.scalars(sa.select(User).where(User.role == Role.OFFICER, User.active.is_(True)))
        for user in officers:
            self.officers[user.username] = user.id
        for user in db.session.scalars(sa.select(User).where(User.role == Role.OFFICER, User.active.is_(True))):
            if user.display_name and user.display_name != user.username:
                taken = user.display_name in self.officers and self.officers[user.display_name] != user.id
                self.officers[user.display_name] = None if taken else user.id
        self.officer_streets: dict[int, set[int]] = {}
        for user_id, street_id in db.session.execute(sa.select(user_streets.c.user_id, user_streets.c.street_id)):
            self.officer_streets.setdefault(user_id, set()).add(street_id)

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

    def building_id(self, value: object, street_id: int) -> int:
        name = clean_text(value)
        if (street_id, name) in self.buildings:
            return self.buildings[(street_id, name)]
        raise CellError(
            f"楼宇“{name}”不在{self.street_names.get(street_id, '该街道')}的楼宇列表中，请先由管理员添加该楼宇"
        )

    def officer_id(self, value: object, street_id: int) -> int:
        name = clean_text(value)
        if name not in self.officers:
            raise CellError(f"服务专员“{name}”不是系统中在用的服务专员账号")
        user_id = self.officers[name]
        if user_id is None:
            raise CellError(f"有多名服务专员叫“{name}”，请填写其登录名")
        if street_id not in self.officer_streets.get(user_id, set()):
            raise CellError(f"服务专员“{name}”不负责{self.street_names.get(street_id, '该街道')}")
        return user_id


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_firms(codes: list[str]) -> dict[str, dict[str, Any]]:
    """Stored firms by credit code, as plain dicts (no ORM objects: apply writes with Core)."""
    table = Firm.__table__
    columns = [table.c.id, table.c.version, table.c.credit_code_exception] + [table.c[n] for n in FIRM_STORED_COLUMNS]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(codes):
        for row in db.session.execute(sa.select(*columns).where(table.c.credit_code.in_(chunk))).mappings():
            found[row["credit_code"]] = dict(row)
    return found


def _existing_metrics(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    table = QuarterlyMetric.__table__
    columns = [table.c.firm_id, table.c.quarter, table.c.import_batch_id] + [table.c[name] for name in METRIC_COLUMNS]
    found: dict[tuple[int, str], dict[str, Any]] = {}
    by_quarter: dict[str, list[int]] = {}
    for firm_id, quarter in pairs:
        by_quarter.setdefault(quarter, []).append(firm_id)
    for quarter, firm_ids in by_quarter.items():
        for chunk in _chunks(firm_ids):
            query = sa.select(*columns).where(table.c.quarter == quarter, table.c.firm_id.in_(chunk))
            for row in db.session.execute(query).mappings():
                # The writing batch too: undoing a later batch hands the row back to it.
                before = {name: row[name] for name in METRIC_COLUMNS}
                before["import_batch_id"] = row["import_batch_id"]
                found[(row["firm_id"], row["quarter"])] = before
    return found


def same_value(stored: object, new: object) -> bool:
    """Equal as stored: decimals by value, enums by value, dates by day."""
    if stored is None or new is None:
        return stored is None and new is None
    if isinstance(new, Decimal | float) or isinstance(stored, Decimal | float):
        try:
            return Decimal(str(stored)) == Decimal(str(new))
        except ArithmeticError:
            return False
    if hasattr(stored, "value") or hasattr(new, "value"):
        return getattr(stored, "value", stored) == getattr(new, "value", new)
    if isinstance(stored, dt.datetime):
        stored = stored.date()
    return bool(stored == new)


@dataclass(slots=True)
class _ParsedRow:
    row: int
    credit_code: str
    firm: dict[str, Any]  # roster field → parsed value (street/building/officer still names)
    blanks: AbstractSet[str]  # mapped firm fields whose cell was blank
    metrics: dict[str, Any]
    metric_blanks: AbstractSet[str]
    quarter: str | None


@dataclass(slots=True)
class _FirmRows:
    """The rows of one credit code, merged: firm fields from all, a metric entry per quarter."""

    rows: list[int]
    firm: dict[str, Any]
    blanks: AbstractSet[str]
    metrics: list[_ParsedRow]


#: A blank cell, in a column's cache of parsed text.
_BLANK: Any = object()
_NO_BLANKS: frozenset[str] = frozenset()
#: Distinct texts remembered per column: enough for streets, chains and flags, bounded for names and codes.
_SEEN_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Failure:
    """A cell that did not parse: the message for the error report."""

    message: str
    bad_code: bool  # a credit code that failed: the row needs no "missing code" error too


#: A column, its index, kind and name (read once per cell, so kept at hand) and its parsed
#: texts (text → value, _BLANK or _Failure).
_ColumnReader = tuple[Column, int, str, str, dict[str, Any]]


def _parse_cell(column: Column, value: object) -> Any:
    """The parsed value, or a _Failure saying what is wrong."""
    try:
        return column.parse(value)
    except CreditCodeError as exc:
        return _Failure(CREDIT_CODE_MESSAGES.get(exc.reason, "统一社会信用代码无效"), True)
    except CellError as exc:
        return _Failure(str(exc), False)
    except (ValueError, ArithmeticError, TypeError):  # a value no parser foresaw: an error, not a crash
        return _Failure("无法识别该值，请检查单元格内容", False)


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

    # --- reading -----------------------------------------------------------------------------

    def plan(self, table: Table, mapping: dict[int, str] | None = None) -> ImportPlan:
        """Read, validate and match every row; write nothing. Closes the table once its rows are read."""
        rows = table.rows()
        header = None
        for index, row_cells in enumerate(rows):
            header = header_at(index, row_cells)
            if header is not None or index + 1 >= HEADER_SEARCH_ROWS:
                break
        if header is None:
            raise RosterFormatError(
                "没有找到表头：请确认第一张工作表中有一行表头，至少包含“统一社会信用代码”“企业名称”“所在街道”等三列"
            )
        if mapping is None and self.remembered is not None:
            mapping = self.remembered(header)
        width = len(header.headers)
        mapping = {i: f for i, f in (mapping if mapping is not None else header.mapping).items() if 0 <= i < width}
        plan = ImportPlan(table_format=table.format, header=header, mapping=mapping)
        columns = [self._accepting_known_exceptions(c) if c.kind == "code" else c for c in columns_for(mapping, header)]
        code_index = next((c.index for c in columns if c.kind == "code"), None)
        if code_index is None:
            plan.errors.append(RowError(header.index + 1, "统一社会信用代码", "", "表头中没有“统一社会信用代码”列"))
            return plan
        readers: list[_ColumnReader] = [(c, c.index, c.kind, c.name, {}) for c in columns]
        parsed: list[_ParsedRow] = []
        excel_row = header.index + 1
        for row_cells in rows:
            excel_row += 1
            if is_note_or_total(row_cells, code_index):
                continue
            plan.total_rows += 1
            row = self._parse_row(excel_row, row_cells, readers, plan)
            if row is not None:
                parsed.append(row)
        table.close()  # the parsed rows hold all that matching needs
        labels = {c.name: c.label for c in columns}
        self._match(self._merge(parsed, labels, plan), labels, plan)
        plan.errors.sort(key=lambda e: e.row)
        return plan

    @staticmethod
    def _accepting_known_exceptions(column: Column) -> Column:
        """A stored firm whose failing code an admin accepted imports under that code again."""
        accepted = set(db.session.scalars(sa.select(Firm.credit_code).where(Firm.credit_code_exception.is_not(None))))
        if not accepted:
            return column

        def parse(value: object) -> Any:
            try:
                return column.parse(value)
            except CreditCodeError:
                code = normalise_credit_code(str(value))
                if code in accepted:
                    return code
                raise

        return Column(column.index, column.name, column.label, column.kind, parse)

    def _error(self, plan: ImportPlan, row: int, column: str, value: object, message: str) -> None:
        plan.errors.append(RowError(row, column, display(value), message))
        plan.invalid_rows.add(row)

    def _parse_row(
        self, excel_row: int, row_cells: Sequence[object], readers: list[_ColumnReader], plan: ImportPlan
    ) -> _ParsedRow | None:
        errors_before = len(plan.errors)
        firm: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        blanks: AbstractSet[str] = _NO_BLANKS
        metric_blanks: AbstractSet[str] = _NO_BLANKS
        code = ""
        code_failed = False
        quarter = self.options.default_quarter
        width = len(row_cells)
        for column, index, kind, name, seen in readers:
            value = row_cells[index] if index < width else None
            if value is None:
                parsed: Any = _BLANK
            elif isinstance(value, str):  # rosters repeat streets, chains, flags and quarters: parse each once
                parsed = seen.get(value, _BLANK)
                if parsed is _BLANK and not cells.is_blank(value):
                    parsed = _parse_cell(column, value)
                    if len(seen) < _SEEN_LIMIT:
                        seen[value] = parsed
            else:
                parsed = _parse_cell(column, value)
            if parsed is _BLANK:
                if kind == "metric":
                    metric_blanks = metric_blanks | {name}
                elif kind == "firm":
                    blanks = blanks | {name}
            elif type(parsed) is _Failure:
                code_failed = code_failed or parsed.bad_code
                self._error(plan, excel_row, column.label, value, parsed.message)
            elif kind == "firm":
                firm[name] = parsed
            elif kind == "metric":
                metrics[name] = parsed
            elif kind == "code":
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

    def _merge(self, parsed: list[_ParsedRow], labels: dict[str, str], plan: ImportPlan) -> dict[str, _FirmRows]:
        """Group rows by credit code: firm fields must agree; one metric row per quarter."""
        merged: dict[str, _FirmRows] = {}
        quarters: dict[tuple[str, str], int] = {}
        for row in parsed:
            group = merged.get(row.credit_code)
            if group is None:
                # The group takes the row's own dict and set: nothing reads a row's firm fields after this.
                merged[row.credit_code] = _FirmRows([row.row], row.firm, row.blanks, [row] if row.quarter else [])
                if row.quarter:
                    quarters[(row.credit_code, row.quarter)] = row.row
                continue
            clash = next((n for n, v in row.firm.items() if n in group.firm and not same_value(group.firm[n], v)), None)
            if clash is not None:
                self._error(
                    plan,
                    row.row,
                    labels.get(clash, clash),
                    row.firm[clash],
                    f"与第 {group.rows[0]} 行同一企业的信息不一致",
                )
                continue
            if row.quarter is None or (row.credit_code, row.quarter) in quarters:
                first = quarters.get((row.credit_code, row.quarter or ""), group.rows[0])
                self._error(
                    plan,
                    row.row,
                    labels.get("credit_code", "统一社会信用代码"),
                    row.credit_code,
                    f"与第 {first} 行重复",
                )
                continue
            quarters[(row.credit_code, row.quarter)] = row.row
            group.rows.append(row.row)
            group.firm.update(row.firm)
            group.blanks = group.blanks & row.blanks
            group.metrics.append(row)
        return merged

    # --- matching ----------------------------------------------------------------------------

    def _in_scope(self, street_id: int | None) -> bool:
        return self.scope is None or street_id in self.scope

    def _resolve(
        self,
        code: str,
        group: _FirmRows,
        stored: dict[str, Any] | None,
        lookups: _Lookups,
        labels: dict[str, str],
        plan: ImportPlan,
    ) -> dict[str, Any] | None:
        """Roster fields to stored columns (names to ids), with blanks per the overwrite option.

        The values are the group's own dict, its names taken out: nothing reads them after this,
        and a copy per firm costs ≈70 MB at 200,000 rows.
        """
        names = {name: group.firm.pop(name) for name in STORED_FIELD if name in group.firm}
        values = group.firm
        row = group.rows[0]
        try:
            if "street" in names:
                values["street_id"] = lookups.street_id(names["street"])
        except CellError as exc:
            self._error(plan, row, labels["street"], names["street"], str(exc))
            return None
        street_id = values.get("street_id", stored["street_id"] if stored else None)
        for name, column in (("building", "building_id"), ("officer", "officer_id")):
            if name in names and street_id is not None:
                try:
                    find = lookups.building_id if name == "building" else lookups.officer_id
                    values[column] = find(names[name], street_id)
                except CellError as exc:
                    self._error(plan, row, labels[name], names[name], str(exc))
                    return None
        old_building = stored["building_id"] if stored is not None and street_id != stored["street_id"] else None
        if old_building and "building" not in names and lookups.building_street.get(old_building) != street_id:
            values["building_id"] = None  # the old street's building does not follow the firm
        if self.options.overwrite_blanks and stored is not None:
            for name in group.blanks - NEVER_BLANKED:
                values[STORED_FIELD.get(name, name)] = False if name.startswith(("is_", "has_", "above_")) else None
        return values

    def _match(self, merged: dict[str, _FirmRows], labels: dict[str, str], plan: ImportPlan) -> None:
        lookups = _Lookups()
        existing = _existing_firms(list(merged))
        pairs = [
            (existing[code]["id"], m.quarter)
            for code, g in merged.items()
            if code in existing
            for m in g.metrics
            if m.quarter is not None
        ]
        metrics = _existing_metrics(pairs) if pairs else {}
        code_label = labels.get("credit_code", "统一社会信用代码")
        for code, group in merged.items():
            stored = existing.get(code)
            if stored is not None and not self._in_scope(stored["street_id"]):
                self._error(plan, group.rows[0], code_label, code, NOT_YOURS)
                continue
            values = self._resolve(code, group, stored, lookups, labels, plan)
            if values is None:
                continue
            if stored is None:
                planned = self._plan_new(code, group, values, plan, code_label, lookups)
            else:
                planned = self._plan_update(code, group, values, stored, metrics, plan, code_label)
            if planned is not None:
                plan.firms.append(planned)
                if len(plan.preview) < PREVIEW_ROWS:
                    plan.preview.append(self._preview(planned, stored, lookups))

    def _metric_writes(
        self, group: _FirmRows, firm_id: int | None, metrics: dict[tuple[int, str], dict[str, Any]]
    ) -> list[MetricWrite]:
        writes = []
        for row in group.metrics:
            assert row.quarter is not None
            wanted = row.metrics
            if self.options.overwrite_blanks and row.metric_blanks:
                wanted = wanted | dict.fromkeys(row.metric_blanks)
            current = metrics.get((firm_id, row.quarter)) if firm_id is not None else None
            if current is None:
                # Parsed cells are never None; only blanks clearing stored values are, and there is none.
                values = wanted if wanted is row.metrics else {k: v for k, v in wanted.items() if v is not None}
            else:
                values = {k: v for k, v in wanted.items() if not same_value(current.get(k), v)}
            if values:
                writes.append(MetricWrite(row.row, row.quarter, values, current))
        return writes

    def _plan_new(
        self, code: str, group: _FirmRows, values: dict[str, Any], plan: ImportPlan, code_label: str, lookups: _Lookups
    ) -> PlannedFirm | None:
        row = group.rows[0]
        if not self.may_create:
            self._error(plan, row, code_label, code, NOT_YOURS + "（您的角色不能新增企业）")
            return None
        if self.options.mode == ImportMode.UPDATE:
            self._error(plan, row, code_label, code, "系统中没有该企业（当前为“仅更新”模式）")
            return None
        missing = [f for f in REQUIRED_FOR_NEW if STORED_FIELD.get(f, f) not in values]
        if missing:
            self._error(plan, row, code_label, code, f"新企业缺少必填项：{'、'.join(header_label(f) for f in missing)}")
            return None
        if not self._in_scope(values["street_id"]):
            self._error(plan, row, "所在街道", lookups.street_names.get(values["street_id"], ""), NOT_YOURS)
            return None
        values["credit_code"] = code  # values is this firm's own dict, made by _resolve
        return PlannedFirm(group.rows, code, None, values, {}, None, self._metric_writes(group, None, {}))

    def _plan_update(
        self,
        code: str,
        group: _FirmRows,
        values: dict[str, Any],
        stored: dict[str, Any],
        metrics: dict[tuple[int, str], dict[str, Any]],
        plan: ImportPlan,
        code_label: str,
    ) -> PlannedFirm | None:
        row = group.rows[0]
        if self.options.mode == ImportMode.CREATE:
            self._error(plan, row, code_label, code, "系统中已有该企业（当前为“仅新增”模式）")
            return None
        if not self._in_scope(values.get("street_id", stored["street_id"])):
            self._error(plan, row, "所在街道", "", NOT_YOURS)
            return None
        changes = {k: v for k, v in values.items() if not same_value(stored.get(k), v)}
        if self.firm_fields is not None:
            forbidden = sorted(set(changes) - self.firm_fields)
            if forbidden:
                names = "、".join(
                    header_label(next((f for f, s in STORED_FIELD.items() if s == n), n)) for n in forbidden
                )
                self._error(plan, row, code_label, code, f"您的角色不能修改：{names}")
                return None
        before = {k: stored.get(k) for k in changes}
        writes = self._metric_writes(group, stored["id"], metrics)
        return PlannedFirm(group.rows, code, stored["id"], changes, before, stored["version"], writes)

    def _preview(self, planned: PlannedFirm, stored: dict[str, Any] | None, lookups: _Lookups) -> dict[str, Any]:
        merged = {**(stored or {}), **planned.firm_values}
        return {
            "row": planned.row,
            "action": planned.action,
            "credit_code": planned.credit_code,
            "name": merged.get("name", ""),
            "street": lookups.street_names.get(merged.get("street_id") or 0, ""),
            "changes": {k: display(v) for k, v in planned.firm_values.items() if k != "credit_code"},
            "metrics": [
                {"quarter": m.quarter, **{k: display(v) for k, v in m.values.items()}} for m in planned.metrics
            ],
        }
