"""Writing an import plan, and undoing it: bulk statements inside the caller's transaction.

Rows are written with executemany (grouped by the set of changed columns), not one ORM object
per row, so a 30,000-row roster applies in about a second. Each firm created or changed gets an
audit event. A created firm and the metric rows a batch writes carry the batch's id, which is all
undo needs to delete them; a changed firm gets an ImportItem holding what it was before and what
the import wrote.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import compress
from typing import Any

import sqlalchemy as sa

from ..audit import to_json_value
from ..bulk import BULK_BATCH, bulk_insert, bulk_insert_columns
from ..extensions import db
from ..firms.services import FLAG_FIELDS
from ..models import AuditEvent, Firm, ImportBatch, ImportItem, ItemAction, QuarterlyMetric, TierAssignment
from ..models.types import utcnow
from .columns import METRIC_COLUMNS
from .plan import CHUNK, STORED_FIELD, ImportPlan, MetricWrite, PlannedFirm, same_value
from .rows import ParsedRows

FIRMS: sa.Table = Firm.__table__  # type: ignore[assignment]
METRICS: sa.Table = QuarterlyMetric.__table__  # type: ignore[assignment]
ITEMS: sa.Table = ImportItem.__table__  # type: ignore[assignment]
AUDIT: sa.Table = AuditEvent.__table__  # type: ignore[assignment]
ASSIGNMENTS: sa.Table = TierAssignment.__table__  # type: ignore[assignment]
#: What a new firm holds where the roster leaves a field blank or has no column for it.
NEW_FIRM_DEFAULTS: dict[str, Any] = {"status": "active", **dict.fromkeys(FLAG_FIELDS, False)}


class ImportConflictError(Exception):
    """Firms changed between planning and writing, or after the import (for undo)."""

    def __init__(self, firm_names: list[str]) -> None:
        super().__init__(f"{len(firm_names)} firms changed")
        self.firm_names = firm_names


def _json(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {key: to_json_value(value) for key, value in values.items()}


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _grouped(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    return groups


def _executemany(statement: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Run a statement for many parameter sets; the rows it touched in all."""
    touched = 0
    for start in range(0, len(rows), CHUNK * 10):
        result: Any = db.session.execute(statement, list(rows[start : start + CHUNK * 10]))
        touched += result.rowcount
    return touched


def _batches(items: Sequence[Any], size: int = BULK_BATCH) -> Iterator[Sequence[Any]]:
    """Consecutive slices: rows are built a batch at a time, not all 200,000 at once."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _create_firms(plan: ImportPlan, now: dt.datetime, batch_id: int, user_id: int | None, source: str) -> None:
    """Insert the plan's new firms, their metric rows and a firm.create event each, column by column
    from the kept rows, a batch of firms at a time."""
    kept = plan.rows
    if kept is None or not plan.created:
        return
    created_after = {"_version": 1, "_batch": batch_id}  # the firm holds its fields; the event names the batch
    last_id = 0
    for part in _batches(plan.created):
        columns = _new_firm_columns(kept, part, now, batch_id)
        bulk_insert_columns(FIRMS, columns)
        # Ids only grow, so this batch's firms are those of the import past the last id seen.
        query = sa.select(FIRMS.c.credit_code, FIRMS.c.id).where(
            FIRMS.c.import_batch_id == batch_id, FIRMS.c.id > last_id
        )
        found = {code: firm_id for code, firm_id in db.session.execute(query).all()}
        firm_ids = [found[code] for code in columns["credit_code"]]
        last_id = max(firm_ids)
        _insert_new_metrics(kept, part, firm_ids, batch_id)
        events: dict[str, Any] = {"created_at": now, "user_id": user_id, "action": "firm.create", "object_type": "firm"}
        events |= {"object_id": list(map(str, firm_ids)), "before": None, "after": created_after}
        bulk_insert_columns(AUDIT, events | {"source_address": source})


def _new_firm_columns(kept: ParsedRows, firms: Sequence[int], now: dt.datetime, batch_id: int) -> dict[str, Any]:
    """The firms table's columns for new firms: the roster's fields, the defaults for the rest."""
    columns: dict[str, Any] = {"credit_code": [kept.codes[kept.first_rows[firm]] for firm in firms]}
    for name, values in kept.firm_columns(firms, kept.firm_names).items():
        column = STORED_FIELD.get(name, name)
        default = NEW_FIRM_DEFAULTS.get(column)
        columns[column] = values if default is None else [default if v is None else v for v in values]
    for column, default in NEW_FIRM_DEFAULTS.items():
        columns.setdefault(column, default)
    return columns | {"version": 1, "created_at": now, "updated_at": now, "import_batch_id": batch_id}


def _insert_new_metrics(kept: ParsedRows, firms: Sequence[int], firm_ids: list[int], batch_id: int) -> None:
    """The metric rows of new firms: each row with a quarter and at least one figure."""
    if kept.more_rows.keys().isdisjoint(firms):  # the usual roster: a row a firm
        firsts = list(map(kept.first_rows.__getitem__, firms))
        with_quarter = [kept.quarters[row] is not None for row in firsts]
        rows, owners = list(compress(firsts, with_quarter)), list(compress(firm_ids, with_quarter))
    else:
        rows, owners = [], []
        for firm, firm_id in zip(firms, firm_ids, strict=True):
            firm_rows = kept.metric_rows(firm)
            rows += firm_rows
            owners += [firm_id] * len(firm_rows)
    columns = kept.metric_columns(rows, kept.metric_names)
    figures: list[bool] = [False] * len(rows)
    for values in columns.values():
        figures = list(map(operator.or_, figures, map(operator.is_not, values, itertools.repeat(None))))
    if not all(figures):
        rows, owners = list(compress(rows, figures)), list(compress(owners, figures))
        columns = {name: list(compress(values, figures)) for name, values in columns.items()}
    if not rows:
        return
    metrics: dict[str, Any] = {"firm_id": owners, "quarter": [kept.quarters[row] for row in rows]}
    metrics |= {name: columns.get(name) for name in METRIC_COLUMNS}
    bulk_insert_columns(METRICS, metrics | {"import_batch_id": batch_id})


def _update_firms(firms: list[PlannedFirm], now: dt.datetime) -> None:
    """Change firms, only where nobody saved them since the plan read them (optimistic lock)."""
    updates = [
        {**{k: _plain(v) for k, v in firm.firm_values.items()}, "_id": firm.firm_id, "_version": firm.version}
        for firm in firms
        if firm.firm_values
    ]
    touched = 0
    for columns, group in _grouped(updates).items():
        names = [c for c in columns if not c.startswith("_")]
        statement = (
            sa.update(FIRMS)
            .where(FIRMS.c.id == sa.bindparam("_id"), FIRMS.c.version == sa.bindparam("_version"))
            .values({**{name: sa.bindparam(name) for name in names}, "version": FIRMS.c.version + 1, "updated_at": now})
        )
        touched += _executemany(statement, group)
    if touched != len(updates):
        changed = sorted(firm.firm_id for firm in firms if firm.firm_values and firm.firm_id is not None)
        raise ImportConflictError([str(i) for i in changed][:5])


def _write_metrics(firms: list[PlannedFirm], batch_id: int) -> None:
    """The metric rows of changed firms: new quarters inserted, changed ones updated."""
    inserts: list[tuple[int, MetricWrite]] = []
    updates = []
    for firm in firms:
        for write in firm.metrics:
            if write.before is None:
                inserts.append((firm.firm_id, write))
            else:
                updates.append({**write.values, "_firm_id": firm.firm_id, "_quarter": write.quarter})
    empty = dict.fromkeys(METRIC_COLUMNS)
    for part in _batches(inserts):
        rows = [empty | write.values | {"firm_id": firm_id, "quarter": write.quarter} for firm_id, write in part]
        for row in rows:
            row["import_batch_id"] = batch_id
        bulk_insert(METRICS, rows)
    for columns, group in _grouped(updates).items():
        names = [c for c in columns if not c.startswith("_")]
        statement = (
            sa.update(METRICS)
            .where(METRICS.c.firm_id == sa.bindparam("_firm_id"), METRICS.c.quarter == sa.bindparam("_quarter"))
            .values({**{name: sa.bindparam(name) for name in names}, "import_batch_id": batch_id})
        )
        _executemany(statement, group)


def _changed_firm_records(
    firms: list[PlannedFirm], batch_id: int, user_id: int | None, source: str, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ImportItem (for undo) and the audit event of each changed firm."""
    items, events = [], []
    for firm in firms:
        version_after = (firm.version or 0) + (1 if firm.firm_values else 0)
        before = _json(firm.firm_before)
        items.append(
            {
                "batch_id": batch_id,
                "firm_id": firm.firm_id,
                "row_number": firm.row,
                "action": ItemAction.UPDATED.value,
                "firm_before": before,
                "version_after": version_after,
                "metrics_before": {m.quarter: _json(m.before) for m in firm.metrics},
                "metrics_after": {m.quarter: _json(m.after) for m in firm.metrics},
            }
        )
        after = _json(firm.firm_values) or {}
        if firm.metrics:
            after["_metrics"] = {m.quarter: _json(m.values) for m in firm.metrics}
        after.update(_version=version_after, _batch=batch_id)
        events.append(_event(now, user_id, "firm.import", firm.firm_id, before, after, source))
    return items, events


def _event(
    now: dt.datetime,
    user_id: int | None,
    action: str,
    firm_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    source: str,
) -> dict[str, Any]:
    return {
        "created_at": now,
        "user_id": user_id,
        "action": action,
        "object_type": "firm",
        "object_id": str(firm_id),
        "before": before,
        "after": after,
        "source_address": source,
    }


def apply_plan(plan: ImportPlan, batch: ImportBatch, user_id: int | None, source: str) -> dict[str, int]:
    """Write every valid firm of the plan; flushes, the caller commits. Returns the counts."""
    now = utcnow()
    _create_firms(plan, now, batch.id, user_id, source)
    _update_firms(plan.changed, now)
    _write_metrics(plan.changed, batch.id)
    items, changed_events = _changed_firm_records(plan.changed, batch.id, user_id, source, now)
    bulk_insert(ITEMS, items)
    bulk_insert(AUDIT, changed_events)
    db.session.expire_all()  # ORM objects loaded earlier in this session are stale now
    return {
        "created": plan.count("created"),
        "updated": plan.count("updated"),
        "unchanged": plan.count("unchanged"),
        "skipped": len(plan.invalid_rows),
    }


# --- Undo ------------------------------------------------------------------------------------


def _from_json(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """JSON-stored values back to column types (decimals, dates)."""
    restored: dict[str, Any] = {}
    for name, value in values.items():
        column_type = table.c[name].type
        if value is not None and isinstance(column_type, sa.Numeric):
            value = Decimal(value)
        elif value is not None and isinstance(column_type, sa.Date):
            value = dt.date.fromisoformat(value)
        restored[name] = value
    return restored


def _current_metrics(firm_ids: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
    rows: dict[int, dict[str, dict[str, Any]]] = {}
    for start in range(0, len(firm_ids), CHUNK):
        query = sa.select(METRICS.c.firm_id, METRICS.c.quarter, *(METRICS.c[n] for n in METRIC_COLUMNS)).where(
            METRICS.c.firm_id.in_(firm_ids[start : start + CHUNK])
        )
        for row in db.session.execute(query).mappings():
            rows.setdefault(row["firm_id"], {})[row["quarter"]] = {n: row[n] for n in METRIC_COLUMNS}
    return rows


def _undo_conflicts(items: list[ImportItem], created: dict[int, tuple[int, str]], batch_id: int) -> list[str]:
    """Names of firms changed since the batch wrote them: by anyone, including later imports.

    `created` holds the firms the batch created (id → version, name), found by their batch id;
    batches applied before firms carried it list their created firms as ImportItems instead.
    """
    ids = [item.firm_id for item in items]
    firms: dict[int, tuple[int, str]] = {}
    assessed: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        query = sa.select(FIRMS.c.id, FIRMS.c.version, FIRMS.c.name).where(FIRMS.c.id.in_(chunk))
        firms.update({fid: (version, name) for fid, version, name in db.session.execute(query)})
    every = ids + list(created)
    for start in range(0, len(every), CHUNK):
        chunk = every[start : start + CHUNK]
        assessed.update(db.session.scalars(sa.select(ASSIGNMENTS.c.firm_id).where(ASSIGNMENTS.c.firm_id.in_(chunk))))
    metrics = _current_metrics(ids)
    conflicts = []
    for item in items:
        version, name = firms.get(item.firm_id, (None, str(item.firm_id)))
        stored = metrics.get(item.firm_id, {})
        moved = version != item.version_after or any(
            not all(same_value((stored.get(q) or {}).get(n), (after or {}).get(n)) for n in METRIC_COLUMNS)
            or q not in stored
            for q, after in item.metrics_after.items()
        )
        if item.action == ItemAction.CREATED:  # deleting it must not take later data with it
            moved = moved or bool(set(stored) - set(item.metrics_after)) or item.firm_id in assessed
        if moved:
            conflicts.append(name)
    # A firm the batch created: saved since (version), assessed, or a metric row another batch or
    # anyone else wrote (any row not marked with this batch) means deleting it would lose data.
    written_since = _metrics_written_by_others(list(created), batch_id)
    for firm_id, (version, name) in created.items():
        if version != 1 or firm_id in assessed or firm_id in written_since:
            conflicts.append(name)
    return conflicts


def _metrics_written_by_others(firm_ids: list[int], batch_id: int) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(firm_ids), CHUNK):
        query = sa.select(METRICS.c.firm_id).where(
            METRICS.c.firm_id.in_(firm_ids[start : start + CHUNK]),
            sa.or_(METRICS.c.import_batch_id.is_(None), METRICS.c.import_batch_id != batch_id),
        )
        found.update(db.session.scalars(query))
    return found


def undo_batch(batch: ImportBatch, user_id: int | None, source: str) -> int:
    """Restore every firm the batch created or changed; refuses if any changed since. Flushes."""
    items = list(db.session.scalars(sa.select(ImportItem).where(ImportItem.batch_id == batch.id)))
    query = sa.select(FIRMS.c.id, FIRMS.c.version, FIRMS.c.name).where(FIRMS.c.import_batch_id == batch.id)
    created_here = {fid: (version, name) for fid, version, name in db.session.execute(query)}
    conflicts = _undo_conflicts(items, created_here, batch.id)
    if conflicts:
        raise ImportConflictError(conflicts)
    now = utcnow()
    restore = [
        {**_from_json(FIRMS, item.firm_before), "_id": item.firm_id}
        for item in items
        if item.action == ItemAction.UPDATED and item.firm_before
    ]
    for columns, group in _grouped(restore).items():
        names = [c for c in columns if c != "_id"]
        statement = (
            sa.update(FIRMS)
            .where(FIRMS.c.id == sa.bindparam("_id"))
            .values({**{n: sa.bindparam(n) for n in names}, "version": FIRMS.c.version + 1, "updated_at": now})
        )
        _executemany(statement, group)
    deletes, metric_restores = [], []
    for item in items:
        if item.action != ItemAction.UPDATED:
            continue
        for quarter, before in item.metrics_before.items():
            if before is None:
                deletes.append({"_firm_id": item.firm_id, "_quarter": quarter})
            else:
                metric_restores.append({**_from_json(METRICS, before), "_firm_id": item.firm_id, "_quarter": quarter})
    where = (METRICS.c.firm_id == sa.bindparam("_firm_id")) & (METRICS.c.quarter == sa.bindparam("_quarter"))
    if deletes:
        _executemany(sa.delete(METRICS).where(where), deletes)
    for columns, group in _grouped(metric_restores).items():
        names = [c for c in columns if not c.startswith("_")]
        _executemany(sa.update(METRICS).where(where).values({n: sa.bindparam(n) for n in names}), group)
    created = list(created_here) + [item.firm_id for item in items if item.action == ItemAction.CREATED]
    for start in range(0, len(created), CHUNK):
        chunk = created[start : start + CHUNK]
        db.session.execute(sa.delete(METRICS).where(METRICS.c.firm_id.in_(chunk)))
        db.session.execute(sa.delete(FIRMS).where(FIRMS.c.id.in_(chunk)))
    deleted_after = {"_batch": batch.id, "_deleted": True, "_version": 1}
    events = [
        _event(now, user_id, "firm.import_undo", firm_id, None, deleted_after, source) for firm_id in created_here
    ]
    for item in items:
        after = {
            **(item.firm_before or {}),
            "_batch": batch.id,
            "_deleted": item.action == ItemAction.CREATED,
            "_version": item.version_after + (1 if item.firm_before else 0),
        }
        events.append(_event(now, user_id, "firm.import_undo", item.firm_id, None, after, source))
    bulk_insert(AUDIT, events)
    db.session.expire_all()
    return len(created_here) + len(items)
