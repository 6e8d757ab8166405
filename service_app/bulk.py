"""Bulk INSERT through the driver's executemany, for imports of tens of thousands of rows.

SQLAlchemy's per-parameter processing costs more than the database itself at that size, so
values are converted here, once per column, to what SQLAlchemy would have sent: for SQLite
floats for numerics, ISO text for dates and JSON text; PostgreSQL (psycopg) takes Python types,
and a float for a NUMERIC column as the Decimal it spells. Runs on the session's connection,
inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import Enum
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from .extensions import db

Converter = Callable[[Any], Any]
#: Rows per executemany: large enough to amortise the call, small enough to keep memory flat.
BULK_BATCH = 5000
#: Bound parameters per statement: SQLite before 3.32 allowed no more than 999.
MAX_PARAMETERS = 999


def _identity(value: Any) -> Any:
    return value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _sqlite_numeric(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _decimal_numeric(value: Any) -> Any:
    return Decimal(repr(value)) if value.__class__ is float else value


def _sqlite_date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


class _SqliteDatetime:
    """SQLAlchemy's text for a datetime; rows stamped with one `now` share one conversion."""

    def __init__(self) -> None:
        self._last: tuple[Any, str] | None = None

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        if self._last is not None and self._last[0] is value:
            return self._last[1]
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        self._last = (value, text)
        return text


class _JsonText:
    """JSON text of a value; rows that share one dict object share one serialisation."""

    def __init__(self) -> None:
        self._last: tuple[int, Any, str] | None = None

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        if self._last is not None and self._last[1] is value:
            return self._last[2]
        text = json.dumps(value)
        self._last = (id(value), value, text)
        return text


def _converter(column_type: sa.types.TypeEngine[Any], sqlite: bool) -> Converter:
    if isinstance(column_type, sa.Enum):
        return _enum_value
    if isinstance(column_type, sa.JSON):
        return _JsonText()
    if not sqlite:
        numeric = isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float)
        return _decimal_numeric if numeric else _identity
    if isinstance(column_type, sa.Numeric):
        return _sqlite_numeric
    if isinstance(column_type, sa.DateTime):
        return _SqliteDatetime()
    if isinstance(column_type, sa.Date):
        return _sqlite_date
    return _identity  # booleans too: sqlite3 binds True and False as the integers 1 and 0


def _insert_sql(table: sa.Table, names: Sequence[str], skip_conflicts: bool, rows: int = 1) -> str:
    dialect = db.session.connection().dialect
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    row = f"({', '.join(marker for _ in names)})"
    # Names come from the table's own columns; values are bound parameters.
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608
        f"VALUES {', '.join(row for _ in range(rows))}"
    )
    return sql + " ON CONFLICT DO NOTHING" if skip_conflicts else sql


def bulk_insert(
    table: sa.Table, rows: Sequence[dict[str, Any]], batch: int = BULK_BATCH, *, skip_conflicts: bool = False
) -> int:
    """INSERT rows (dicts with the same keys) into a table with executemany; returns how many
    were inserted. With `skip_conflicts`, a row that breaks a unique constraint or index is
    skipped (ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike)."""
    if not rows:
        return 0
    connection = db.session.connection()
    names = list(rows[0])
    sqlite = connection.dialect.name == "sqlite"
    converters = [_converter(table.c[name].type, sqlite) for name in names]
    converting = [(i, c) for i, c in enumerate(converters) if c is not _identity]
    take = itemgetter(*names)
    sql = _insert_sql(table, names, skip_conflicts)
    inserted = 0
    for start in range(0, len(rows), batch):
        params = [take(row) for row in rows[start : start + batch]]
        if len(names) == 1:
            params = [(value,) for value in params]
        if converting:  # column by column: one map per converted column, not a call per cell
            columns = list(zip(*params, strict=True))
            for index, convert in converting:
                columns[index] = tuple(map(convert, columns[index]))
            params = list(zip(*columns, strict=True))
        result = connection.exec_driver_sql(sql, params)
        inserted += max(result.rowcount, 0)
    return inserted


def bulk_insert_columns(table: sa.Table, columns: dict[str, Any]) -> int:
    """INSERT rows given column by column: a list holds one value per row (all lists as long),
    anything else is the value of every row. Returns how many were inserted.

    Many rows go to one statement (`INSERT … VALUES (…), (…), …`): SQLite then runs a
    statement per ≈40 rows rather than per row, ≈30% less time for the firms of an import.
    """
    connection = db.session.connection()
    sqlite = connection.dialect.name == "sqlite"
    names = list(columns)
    values: list[Any] = []
    for name, column in columns.items():
        convert = _converter(table.c[name].type, sqlite)
        if isinstance(column, list):
            values.append(column if _converted(column, convert) else list(map(convert, column)))
        else:
            values.append(itertools.repeat(convert(column)))
    rows = list(zip(*values, strict=False))  # the repeated values stop with the lists
    per_statement = max(1, MAX_PARAMETERS // len(names))
    whole = len(rows) - len(rows) % per_statement
    flat = itertools.chain.from_iterable(rows)
    width = per_statement * len(names)
    if whole:
        sql = _insert_sql(table, names, False, per_statement)
        connection.exec_driver_sql(sql, [tuple(itertools.islice(flat, width)) for _ in range(whole // per_statement)])
    if whole < len(rows):
        connection.exec_driver_sql(_insert_sql(table, names, False, len(rows) - whole), tuple(flat))
    return len(rows)


def _converted(column: list[Any], convert: Converter) -> bool:
    """True when converting would change nothing: numbers already floats for SQLite, say."""
    if convert is _identity:
        return True
    if convert is _sqlite_numeric:
        return Decimal not in set(map(type, column))
    return False
