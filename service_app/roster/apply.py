"""Writing an import plan, and undoing it: bulk statements inside the caller's transaction.

Rows are written with Core executemany (grouped by the set of changed columns), not one ORM
object per row, so a 30,000-row roster applies in about a second. Each firm created or
changed gets an audit event and an ImportItem holding what it was before, for undo.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..audit import to_json_value
from ..bulk import bulk_insert
from ..extensions import db
from ..models import AuditEvent, Firm, ImportBatch, ImportItem, ItemAction, QuarterlyMetric
from ..models.types import utcnow
from .columns import METRIC_COLUMNS
from .plan import CHUNK, ImportPlan, PlannedRow

FIRMS: sa.Table = Firm.__table__  # type: ignore[assignment]
METRICS: sa.Table = QuarterlyMetric.__table__  # type: ignore[assignment]
ITEMS: sa.Table = ImportItem.__table__  # type: ignore[assignment]
AUDIT: sa.Table = AuditEvent.__table__  # type: ignore[assignment]


class UndoConflictError(Exception):
    """Firms changed after the import; undoing would overwrite those changes."""

    def __init__(self, firm_names: list[str]) -> None:
        super().__init__(f"{len(firm_names)} firms changed since the import")
        self.firm_names = firm_names


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {key: to_json_value(value) for key, value in values.items()}


def _grouped(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    return groups


def _executemany(statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK * 10):
        db.session.execute(statement, list(rows[start : start + CHUNK * 10]))


def _insert_firms(rows: list[PlannedRow], now: dt.datetime) -> dict[str, int]:
    """Insert new firms; their ids by credit code."""
    if not rows:
        return {}
    payload = [
        {
            "status": "active",
            "above_scale": False,
            "is_high_tech": False,
            "is_specialised": False,
            "is_listed": False,
            "is_chain_leader": False,
            "is_abnormal": False,
            "has_serious_violation": False,
            **{k: getattr(v, "value", v) for k, v in row.firm_values.items()},
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    for group in _grouped(payload).values():
        bulk_insert(FIRMS, group)
    ids: dict[str, int] = {}
    codes = [row.credit_code for row in rows]
    for start in range(0, len(codes), CHUNK):
        query = sa.select(FIRMS.c.credit_code, FIRMS.c.id).where(FIRMS.c.credit_code.in_(codes[start : start + CHUNK]))
        ids.update({code: firm_id for code, firm_id in db.session.execute(query)})
    return ids


def _update_firms(rows: list[PlannedRow], now: dt.datetime) -> None:
    updates = [
        {**{k: getattr(v, "value", v) for k, v in row.firm_values.items()}, "_id": row.firm_id}
        for row in rows
        if row.firm_values
    ]
    for columns, group in _grouped(updates).items():
        names = [c for c in columns if c != "_id"]
        statement = (
            sa.update(FIRMS)
            .where(FIRMS.c.id == sa.bindparam("_id"))
            .values({**{name: sa.bindparam(name) for name in names}, "version": FIRMS.c.version + 1, "updated_at": now})
        )
        _executemany(statement, group)


def _write_metrics(rows: list[PlannedRow], firm_ids: dict[str, int]) -> None:
    inserts, updates = [], []
    for row in rows:
        if not row.metric_values:
            continue
        firm_id = row.firm_id or firm_ids[row.credit_code]
        if row.metric_before is None and not row.metric_exists:
            inserts.append(
                {name: row.metric_values.get(name) for name in METRIC_COLUMNS}
                | {"firm_id": firm_id, "quarter": row.quarter}
            )
        else:
            updates.append({**row.metric_values, "_firm_id": firm_id, "_quarter": row.quarter})
    bulk_insert(METRICS, inserts)
    for columns, group in _grouped(updates).items():
        names = [c for c in columns if not c.startswith("_")]
        statement = (
            sa.update(METRICS)
            .where(METRICS.c.firm_id == sa.bindparam("_firm_id"), METRICS.c.quarter == sa.bindparam("_quarter"))
            .values({name: sa.bindparam(name) for name in names})
        )
        _executemany(statement, group)


def apply_plan(plan: ImportPlan, batch: ImportBatch, user_id: int | None, source: str) -> dict[str, int]:
    """Write every valid row of the plan; flushes, the caller commits. Returns the counts."""
    now = utcnow()
    new_rows = [row for row in plan.rows if row.firm_id is None]
    changed_rows = [row for row in plan.rows if row.firm_id is not None and row.action == "updated"]
    firm_ids = _insert_firms(new_rows, now)
    _update_firms(changed_rows, now)
    _write_metrics(new_rows + changed_rows, firm_ids)
    items, events = [], []
    created_after = {"_version": 1, "_batch": batch.id}
    for row in new_rows + changed_rows:
        firm_id = row.firm_id or firm_ids[row.credit_code]
        created = row.firm_id is None
        version_after = 1 if created else (row.version or 0) + (1 if row.firm_values else 0)
        items.append(
            {
                "batch_id": batch.id,
                "firm_id": firm_id,
                "row_number": row.row,
                "action": (ItemAction.CREATED if created else ItemAction.UPDATED).value,
                "firm_before": None if created else _json(row.firm_before),
                "version_after": version_after,
                "quarter": row.quarter,
                "metric_before": _json(row.metric_before) if row.metric_before is not None else None,
                "metric_written": bool(row.metric_values),
            }
        )
        if created:
            after = created_after  # the firm itself holds its fields; the event names the batch
        else:
            after = _json(row.firm_values)
            if row.metric_values:
                after["_metrics"] = {"quarter": row.quarter, **_json(row.metric_values)}
            after.update(_version=version_after, _batch=batch.id)
        events.append(
            {
                "created_at": now,
                "user_id": user_id,
                "action": "firm.create" if created else "firm.import",
                "object_type": "firm",
                "object_id": str(firm_id),
                "before": None if created else _json(row.firm_before),
                "after": after,
                "source_address": source,
            }
        )
    bulk_insert(ITEMS, items)
    bulk_insert(AUDIT, events)
    db.session.expire_all()  # ORM objects loaded earlier in this session are stale now
    return {
        "created": len(new_rows),
        "updated": len(changed_rows),
        "unchanged": plan.count("unchanged"),
        "skipped": len(plan.invalid_rows),
    }


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


def undo_batch(batch: ImportBatch, user_id: int | None, source: str) -> int:
    """Restore every firm the batch created or changed; refuses if any changed since. Flushes."""
    items = list(db.session.scalars(sa.select(ImportItem).where(ImportItem.batch_id == batch.id)))
    ids = [item.firm_id for item in items]
    versions: dict[int, tuple[int, str]] = {}
    for start in range(0, len(ids), CHUNK):
        query = sa.select(FIRMS.c.id, FIRMS.c.version, FIRMS.c.name).where(FIRMS.c.id.in_(ids[start : start + CHUNK]))
        versions.update({fid: (version, name) for fid, version, name in db.session.execute(query)})
    moved = [
        versions[i.firm_id][1] for i in items if i.firm_id in versions and versions[i.firm_id][0] != i.version_after
    ]
    if moved:
        raise UndoConflictError(moved)
    now = utcnow()
    created = [item.firm_id for item in items if item.action == ItemAction.CREATED]
    events = []
    for item in items:
        if item.action == ItemAction.UPDATED:
            if item.firm_before:
                values = _from_json(FIRMS, item.firm_before)
                db.session.execute(
                    sa.update(FIRMS)
                    .where(FIRMS.c.id == item.firm_id)
                    .values(**values, version=FIRMS.c.version + 1, updated_at=now)
                )
            if item.metric_written:
                where = (METRICS.c.firm_id == item.firm_id) & (METRICS.c.quarter == item.quarter)
                if item.metric_before is None:
                    db.session.execute(sa.delete(METRICS).where(where))
                else:
                    db.session.execute(
                        sa.update(METRICS).where(where).values(**_from_json(METRICS, item.metric_before))
                    )
        events.append(
            {
                "created_at": now,
                "user_id": user_id,
                "action": "firm.import_undo",
                "object_type": "firm",
                "object_id": str(item.firm_id),
                "before": None,
                "after": {
                    "_batch": batch.id,
                    "restored": item.firm_before or {},
                    "deleted": item.action == ItemAction.CREATED,
                },
                "source_address": source,
            }
        )
    for start in range(0, len(created), CHUNK):
        chunk = created[start : start + CHUNK]
        db.session.execute(sa.delete(METRICS).where(METRICS.c.firm_id.in_(chunk)))
        db.session.execute(sa.delete(FIRMS).where(FIRMS.c.id.in_(chunk)))
    bulk_insert(AUDIT, events)
    db.session.expire_all()
    return len(items)
