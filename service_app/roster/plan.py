"""Planning an import: read every row, normalise and validate it, match it to the roster, and
decide what would be created, updated or left unchanged — before anything is written.

Rows are read a block at a time and column by column (`parsing.ColumnReader`), and the valid
ones kept compactly (`rows.ParsedRows`), so a 200,000-row roster plans in bounded memory. One
firm may span several rows (one per quarter of metrics). Firms to create stay in the kept rows
until `apply.py` writes them; firms to change get a PlannedFirm with what changes. The plan
reads the database but writes nothing.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..domain.credit_codes import CreditCodeError, normalise_credit_code
from ..domain.tiers import Role
from ..extensions import db
from ..models import Firm, ImportMode, User
from ..permissions import OFFICER_FIRM_FIELDS, can_create_firm
from ..scoping import street_ids_for
from .cells import CellError
from .columns import HEADER_SEARCH_ROWS, METRIC_COLUMNS, HeaderRow, header_at, header_label
from .matching import CHUNK, Lookups, existing_firms, existing_metrics, same_value
from .parsing import BLANK, Column, ColumnReader, Failure, columns_for, display, is_note_or_total
from .reading import Table, normalise_row
from .rows import ParsedRows

__all__ = ["CHUNK", "ImportOptions", "ImportPlan", "MetricWrite", "PlannedFirm", "RosterPlanner", "same_value"]

#: Rows read and parsed at a time.
BLOCK_ROWS = 2048
#: Firms matched against the stored roster at a time.
MATCH_FIRMS = 5000
PREVIEW_ROWS = 20
#: Firm columns as stored: the roster's street/building/officer become ids.
STORED_FIELD = {"street": "street_id", "building": "building_id", "officer": "officer_id"}
REQUIRED_FOR_NEW = ("name", "street")
#: Never cleared by "empty cells clear stored values": the firm cannot be without them.
NEVER_BLANKED = frozenset({"credit_code", "name", "street", "status"})
#: What a user with a street scope is told about a firm it may not see, whether or not it exists.
NOT_YOURS = "不在您负责的街道范围内或系统中没有该企业"


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
    """One stored firm the import changes, and how."""

    rows: list[int]  # the Excel rows it came from
    credit_code: str
    firm_id: int
    firm_values: dict[str, Any]  # stored column → value: the changed ones
    firm_before: dict[str, Any]  # stored column → value before, for the changed ones
    version: int  # the stored version the changes are based on
    metrics: list[MetricWrite] = field(default_factory=list)

    @property
    def row(self) -> int:
        return self.rows[0]


@dataclass
class ImportPlan:
    """Everything the preview shows and the apply step writes."""

    table_format: str
    header: HeaderRow | None
    mapping: dict[int, str]
    total_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    invalid_rows: set[int] = field(default_factory=set)
    preview: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("created", "updated", "unchanged"), 0))
    #: The kept rows; the firms to create are read from them when the plan is applied.
    rows: ParsedRows | None = None
    #: The firms (numbered as in `rows`) to create.
    created: array[int] = field(default_factory=lambda: array("l"))
    #: The stored firms to change.
    changed: list[PlannedFirm] = field(default_factory=list)

    def count(self, action: str) -> int:
        """How many firms would be created, updated or left unchanged."""
        return self.counts[action]

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
        rows = table.raw_rows()  # the readers normalise a column at a time
        header = None
        for index, row_cells in enumerate(rows):
            header = header_at(index, normalise_row(row_cells))
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
        code_column = next((c for c in columns if c.kind == "code"), None)
        if code_column is None:
            plan.errors.append(RowError(header.index + 1, "统一社会信用代码", "", "表头中没有“统一社会信用代码”列"))
            return plan
        firm_names = [c.name for c in columns if c.kind == "firm"]
        metric_names = [c.name for c in columns if c.kind == "metric"]
        kept = ParsedRows(firm_names, metric_names, max(table.row_count - header.index - 1, 0))
        readers = [ColumnReader(column) for column in columns]
        next_row = header.index + 2  # the spreadsheet row of the block's first row
        while block := list(itertools.islice(rows, BLOCK_ROWS)):
            self._read_block(block, next_row, code_column.index, readers, kept, plan)
            next_row += len(block)
        table.close()  # the kept rows hold all that matching needs
        kept.finish()
        labels = {c.name: c.label for c in columns}
        self._group(kept, labels, plan)
        self._match(kept, labels, plan)
        plan.rows = kept
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

    def _read_block(
        self,
        block: list[list[object]],
        first_row: int,
        code_index: int,
        readers: list[ColumnReader],
        kept: ParsedRows,
        plan: ImportPlan,
    ) -> None:
        """Parse a block of rows column by column; keep the rows without errors."""
        numbers, data = [], []
        for number, row_cells in enumerate(block, first_row):
            if not is_note_or_total(row_cells, code_index):
                numbers.append(number)
                data.append(row_cells)
        plan.total_rows += len(data)
        if not data:
            return
        failed = [False] * len(data)
        parsed: dict[str, list[Any]] = {}
        sheet_columns = list(itertools.zip_longest(*data))  # the block column by column, short rows padded
        blank_column = (None,) * len(data)
        for reader in readers:
            index, column = reader.column.index, reader.column
            cells = sheet_columns[index] if index < len(sheet_columns) else blank_column
            values = parsed[column.name] = reader.read(cells)
            if not reader.failed:  # no cell of the column has failed yet: nothing to look for
                continue
            for position in [k for k, value in enumerate(values) if value.__class__ is Failure]:
                self._error(plan, numbers[position], column.label, cells[position], values[position].message)
                failed[position] = True
        codes = parsed["credit_code"]
        for position, code in enumerate(codes):
            if code is BLANK or (code.__class__ is Failure and not code.bad_code):
                self._error(plan, numbers[position], header_label("credit_code"), "", "缺少统一社会信用代码")
                failed[position] = True
        quarters = self._quarters(readers, parsed, len(data))
        metric_columns = [parsed[r.column.name] for r in readers if r.column.kind == "metric"]
        for position in [k for k, quarter in enumerate(quarters) if not quarter and metric_columns]:
            figures = (values[position] for values in metric_columns)
            if any(value is not BLANK and value.__class__ is not Failure for value in figures):
                message = "有经营数据但没有季度：请增加“季度”列或在导入时选择季度"
                self._error(plan, numbers[position], "季度", "", message)
                failed[position] = True
        keep = [not f for f in failed] if any(failed) else None
        kept.extend(numbers, codes, quarters, parsed, keep)

    def _quarters(self, readers: list[ColumnReader], parsed: dict[str, list[Any]], count: int) -> list[str | None]:
        """Each row's quarter: its own cell, else the quarter chosen for the import."""
        default = self.options.default_quarter
        column = next((r.column.name for r in readers if r.column.kind == "quarter"), None)
        if column is None:
            return [default] * count
        return [default if q is BLANK or q.__class__ is Failure else q for q in parsed[column]]

    def _group(self, kept: ParsedRows, labels: dict[str, str], plan: ImportPlan) -> None:
        """Group rows by credit code: firm fields must agree; one metric row per quarter."""
        if len(set(kept.codes)) == len(kept.codes):  # a row a firm, the usual roster: no dict of every code
            kept.first_rows = array("l", range(len(kept.codes)))
            return
        firms: dict[str, int] = {}
        code_label = labels.get("credit_code", "统一社会信用代码")
        for row, code in enumerate(kept.codes):
            firm = firms.get(code)
            if firm is None:
                firms[code] = kept.start_firm(row)
                continue
            first = kept.excel_rows[kept.first_rows[firm]]
            fields = kept.firm_fields(row)
            current = kept.merged.get(firm) or kept.firm_fields(kept.first_rows[firm])
            clash = next((n for n, v in fields.items() if n in current and not same_value(current[n], v)), None)
            if clash is not None:
                message = f"与第 {first} 行同一企业的信息不一致"
                self._error(plan, kept.excel_rows[row], labels.get(clash, clash), fields[clash], message)
                continue
            quarter = kept.quarters[row]
            seen = {kept.quarters[r]: kept.excel_rows[r] for r in kept.metric_rows(firm)}
            if quarter is None or quarter in seen:
                same = seen.get(quarter, first) if quarter is not None else first
                self._error(plan, kept.excel_rows[row], code_label, code, f"与第 {same} 行重复")
                continue
            kept.add_row(firm, row, fields)

    # --- matching ----------------------------------------------------------------------------

    def _in_scope(self, street_id: int | None) -> bool:
        return self.scope is None or street_id in self.scope

    def _match(self, kept: ParsedRows, labels: dict[str, str], plan: ImportPlan) -> None:
        lookups = Lookups()
        for start in range(0, len(kept.first_rows), MATCH_FIRMS):
            firms = range(start, min(start + MATCH_FIRMS, len(kept.first_rows)))
            codes = [kept.codes[kept.first_rows[firm]] for firm in firms]
            stored_firms = existing_firms(codes)
            pairs: list[tuple[int, str]] = [
                (stored_firms[code]["id"], kept.quarters[row])  # type: ignore[misc]  # metric rows have one
                for firm, code in zip(firms, codes, strict=True)
                if code in stored_firms
                for row in kept.metric_rows(firm)
            ]
            metrics = existing_metrics(pairs) if pairs else {}
            for firm, code in zip(firms, codes, strict=True):
                stored = stored_firms.get(code)
                if stored is not None or not self._created_plainly(kept, firm, lookups, plan):
                    self._match_firm(kept, firm, code, stored, metrics, lookups, labels, plan)

    def _created_plainly(self, kept: ParsedRows, firm: int, lookups: Lookups, plan: ImportPlan) -> bool:
        """Plan the usual new firm cheaply: one row, a name, a street named exactly, in scope, no
        building or officer to look up, the preview already full. False: take the full path."""
        if (
            len(plan.preview) < PREVIEW_ROWS
            or not self.may_create
            or self.options.mode == ImportMode.UPDATE
            or firm in kept.merged
            or "name" not in kept.values
            or "street" not in kept.values
        ):
            return False
        row = kept.first_rows[firm]
        street_id = lookups.streets.get(kept.values["street"][row])
        if street_id is None or kept.values["name"][row] is BLANK or not self._in_scope(street_id):
            return False
        if any(name in kept.values and kept.values[name][row] is not BLANK for name in ("building", "officer")):
            return False
        kept.values["street"][row] = street_id  # the kept name becomes the id the firm is created with
        plan.created.append(firm)
        plan.counts["created"] += 1
        return True

    def _match_firm(
        self,
        kept: ParsedRows,
        firm: int,
        code: str,
        stored: dict[str, Any] | None,
        metrics: dict[tuple[int, str], dict[str, Any]],
        lookups: Lookups,
        labels: dict[str, str],
        plan: ImportPlan,
    ) -> None:
        row = kept.excel_rows[kept.first_rows[firm]]
        code_label = labels.get("credit_code", "统一社会信用代码")
        if stored is not None and not self._in_scope(stored["street_id"]):
            self._error(plan, row, code_label, code, NOT_YOURS)
            return
        ids = self._resolve(kept, firm, row, stored, lookups, labels, plan)
        if ids is None:
            return
        if stored is None:
            self._plan_new(kept, firm, row, code, ids, lookups, code_label, plan)
        else:
            self._plan_update(kept, firm, code, ids, stored, metrics, lookups, code_label, plan)

    def _resolve(
        self,
        kept: ParsedRows,
        firm: int,
        row: int,
        stored: dict[str, Any] | None,
        lookups: Lookups,
        labels: dict[str, str],
        plan: ImportPlan,
    ) -> dict[str, Any] | None:
        """The firm's street, building and officer names as ids (with blanks per the overwrite
        option); None after an error."""
        names = {name: kept.firm_value(firm, name) for name in STORED_FIELD if name in kept.values}
        ids: dict[str, Any] = {}
        try:
            if names.get("street", BLANK) is not BLANK:
                ids["street_id"] = lookups.street_id(names["street"])
        except CellError as exc:
            self._error(plan, row, labels["street"], names["street"], str(exc))
            return None
        street_id = ids.get("street_id", stored["street_id"] if stored else None)
        for name, column in (("building", "building_id"), ("officer", "officer_id")):
            if names.get(name, BLANK) is not BLANK and street_id is not None:
                try:
                    find = lookups.building_id if name == "building" else lookups.officer_id
                    ids[column] = find(names[name], street_id)
                except CellError as exc:
                    self._error(plan, row, labels[name], names[name], str(exc))
                    return None
        old_building = stored["building_id"] if stored is not None and street_id != stored["street_id"] else None
        moved_away = old_building and lookups.building_street.get(old_building) != street_id
        if moved_away and names.get("building", BLANK) is BLANK:
            ids["building_id"] = None  # the old street's building does not follow the firm
        return ids

    def _values(
        self, kept: ParsedRows, firm: int, ids: dict[str, Any], stored: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The firm's roster fields as stored columns: names become ids; blanks clear stored values
        when the overwrite option says so."""
        values = kept.firm_values(firm)
        for name in STORED_FIELD:
            values.pop(name, None)
        values |= ids
        if self.options.overwrite_blanks and stored is not None:
            for name in kept.firm_blanks(firm) - NEVER_BLANKED:
                values[STORED_FIELD.get(name, name)] = False if name.startswith(("is_", "has_", "above_")) else None
        return values

    def _plan_new(
        self,
        kept: ParsedRows,
        firm: int,
        row: int,
        code: str,
        ids: dict[str, Any],
        lookups: Lookups,
        code_label: str,
        plan: ImportPlan,
    ) -> None:
        if not self.may_create:
            self._error(plan, row, code_label, code, NOT_YOURS + "（您的角色不能新增企业）")
            return
        if self.options.mode == ImportMode.UPDATE:
            self._error(plan, row, code_label, code, "系统中没有该企业（当前为“仅更新”模式）")
            return
        present = {"name": "name" in kept.values and kept.firm_value(firm, "name") is not BLANK}
        present["street"] = "street_id" in ids
        missing = [f for f in REQUIRED_FOR_NEW if not present[f]]
        if missing:
            self._error(plan, row, code_label, code, f"新企业缺少必填项：{'、'.join(header_label(f) for f in missing)}")
            return
        if not self._in_scope(ids["street_id"]):
            self._error(plan, row, "所在街道", lookups.street_names.get(ids["street_id"], ""), NOT_YOURS)
            return
        for name, column in STORED_FIELD.items():
            if name in kept.values:  # the kept names become the ids the firm is created with
                kept.set_firm_value(firm, name, ids.get(column))
        plan.created.append(firm)
        plan.counts["created"] += 1
        if len(plan.preview) < PREVIEW_ROWS:
            values = self._values(kept, firm, ids, None)
            writes = [
                MetricWrite(kept.excel_rows[r], kept.quarters[r] or "", kept.metric_fields(r), None)
                for r in kept.metric_rows(firm)
            ]
            plan.preview.append(_preview(row, "created", code, values, [w for w in writes if w.values], None, lookups))

    def _plan_update(
        self,
        kept: ParsedRows,
        firm: int,
        code: str,
        ids: dict[str, Any],
        stored: dict[str, Any],
        metrics: dict[tuple[int, str], dict[str, Any]],
        lookups: Lookups,
        code_label: str,
        plan: ImportPlan,
    ) -> None:
        rows = [kept.excel_rows[r] for r in kept.rows_of(firm)]
        if self.options.mode == ImportMode.CREATE:
            self._error(plan, rows[0], code_label, code, "系统中已有该企业（当前为“仅新增”模式）")
            return
        values = self._values(kept, firm, ids, stored)
        if not self._in_scope(values.get("street_id", stored["street_id"])):
            self._error(plan, rows[0], "所在街道", "", NOT_YOURS)
            return
        changes = {k: v for k, v in values.items() if not same_value(stored.get(k), v)}
        if self.firm_fields is not None:
            forbidden = sorted(set(changes) - self.firm_fields)
            if forbidden:
                names = "、".join(
                    header_label(next((f for f, s in STORED_FIELD.items() if s == n), n)) for n in forbidden
                )
                self._error(plan, rows[0], code_label, code, f"您的角色不能修改：{names}")
                return
        before = {k: stored.get(k) for k in changes}
        writes = self._metric_writes(kept, firm, stored["id"], metrics)
        planned = PlannedFirm(rows, code, stored["id"], changes, before, stored["version"], writes)
        action = "updated" if changes or writes else "unchanged"
        plan.counts[action] += 1
        if action == "updated":
            plan.changed.append(planned)
        if len(plan.preview) < PREVIEW_ROWS:
            plan.preview.append(_preview(rows[0], action, code, changes, writes, stored, lookups))

    def _metric_writes(
        self, kept: ParsedRows, firm: int, firm_id: int, metrics: dict[tuple[int, str], dict[str, Any]]
    ) -> list[MetricWrite]:
        writes = []
        for row in kept.metric_rows(firm):
            quarter = kept.quarters[row]
            assert quarter is not None
            wanted = kept.metric_fields(row)
            if self.options.overwrite_blanks:
                wanted |= dict.fromkeys(kept.blank_metric_fields(row))
            current = metrics.get((firm_id, quarter))
            if current is None:
                values = {k: v for k, v in wanted.items() if v is not None}
            else:
                values = {k: v for k, v in wanted.items() if not same_value(current.get(k), v)}
            if values:
                writes.append(MetricWrite(kept.excel_rows[row], quarter, values, current))
        return writes


def _preview(
    row: int,
    action: str,
    code: str,
    values: dict[str, Any],
    metrics: Sequence[MetricWrite],
    stored: dict[str, Any] | None,
    lookups: Lookups,
) -> dict[str, Any]:
    """One firm as the preview shows it: the values it will be stored with, what changes."""
    merged = {**(stored or {}), **values}
    return {
        "row": row,
        "action": action,
        "credit_code": code,
        "name": merged.get("name", ""),
        "street": lookups.street_names.get(merged.get("street_id") or 0, ""),
        "changes": {k: display(v) for k, v in values.items() if k != "credit_code"},
        "metrics": [{"quarter": m.quarter, **{k: display(v) for k, v in m.values.items()}} for m in metrics],
    }
