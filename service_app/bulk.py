"""Bulk INSERT through the driver, many rows to a statement, for tens of thousands of rows.

SQLAlchemy's per-parameter processing costs more than the database itself at that size, so
values are converted here, once per column, to what SQLAlchemy would have sent: for SQLite
floats for numerics, ISO text for dates and JSON text; PostgreSQL (psycopg) takes Python types,
and a float for a NUMERIC column as the Decimal it spells. Runs on the session's connection,
inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from .extensions import db

Converter = Callable[[Any], Any]
#: Rows converted at a time: large enough to amortise the calls, small enough to keep memory flat.
BULK_BATCH = 5000
#: Rows per INSERT statement (see insert_values).
ROWS_PER_STATEMENT = 500
#: Bound parameters one statement may carry: SQLite allows 32,766, PostgreSQL 65,535.
MAX_PARAMETERS = 32_000


def _identity(value: Any) -> Any:
    return value


def _enum_value(value: Any) -> Any:
    return value._value_ if isinstance(value, Enum) else value  # not .value, a descriptor call


def _sqlite_numeric(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _decimal_numeric(value: Any) -> Any:
    return Decimal(repr(value)) if value.__class__ is float else value


class _SqliteDate:
    """ISO text of a date; each distinct date of an insert is converted once (follow-ups of
    30,000 firms share a handful of dates)."""

    def __init__(self) -> None:
        self._text: dict[dt.date, str] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, dt.date):
            return value
        text = self._text.get(value)
        if text is None:
            text = self._text[value] = value.isoformat()
        return text


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
        return _SqliteDate()
    return _identity  # booleans too: sqlite3 binds True and False as the integers 1 and 0


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off during bulk work: a proposal or a scheduling
    pass makes millions of small objects that form no cycles (reference counting frees them),
    and the collector's repeated passes over the ones alive add a quarter to the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def insert_values(
    table: sa.Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    skip_conflicts: bool = False,
    utf8: Collection[str] = (),
) -> int:
    """INSERT rows of values ready for the driver (in the order of `names`), many rows to a
    statement; returns how many were inserted. With `skip_conflicts`, a row that breaks a
    unique constraint or index is skipped (ON CONFLICT DO NOTHING, on SQLite and PostgreSQL).
    Columns named in `utf8` take text as UTF-8 bytes (what orjson writes): SQLite stores the
    bytes as they are, as text; PostgreSQL is sent them decoded. For a proposal's reasons,
    decoding 45 MB into Python text and sqlite3 encoding it back costs a twelfth of the proposal.

    Not an executemany: SQLite runs that statement once per row and builds the IN lists of a
    table's CHECK constraints afresh each time, which costs more than the writing (three times
    the time for 30,000 follow-ups). One statement of ROWS_PER_STATEMENT rows builds them once.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite"
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    per_statement = max(1, min(ROWS_PER_STATEMENT, MAX_PARAMETERS // len(names)))
    # Names come from the table's own columns; values are bound parameters.
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "  # noqa: S608
    markers = [f"CAST({marker} AS TEXT)" if sqlite and name in utf8 else marker for name in names]
    row_markers = f"({', '.join(markers)})"
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    full = head + ", ".join([row_markers] * per_statement) + tail
    decode = [] if sqlite else [i for i, name in enumerate(names) if name in utf8]
    inserted = 0
    params: list[Any] = []
    count = 0

    def run(sql: str) -> int:
        return max(connection.exec_driver_sql(sql, tuple(params)).rowcount, 0)

    for row in rows:
        if decode:
            row = [v.decode() if i in decode and v is not None else v for i, v in enumerate(row)]
        params.extend(row)
        count += 1
        if count == per_statement:
            inserted += run(full)
            params, count = [], 0
    if count:
        inserted += run(head + ", ".join([row_markers] * count) + tail)
    return inserted


def insert_rows(
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    batch: int = BULK_BATCH,
    *,
    skip_conflicts: bool = False,
    utf8: Collection[str] = (),
) -> int:
    """INSERT rows (tuples of Python values in the order of `names`), converting the values as
    SQLAlchemy would; returns how many were inserted (see insert_values for `skip_conflicts`
    and `utf8`, whose columns are passed on as they are)."""
    if not rows:
        return 0
    sqlite = db.session.connection().dialect.name == "sqlite"
    converting = [
        (i, convert)
        for i, name in enumerate(names)
        if name not in utf8 and (convert := _converter(table.c[name].type, sqlite)) is not _identity
    ]
    inserted = 0
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        if converting:  # column by column: one map per converted column, not a call per cell
            columns = list(zip(*part, strict=True))
            for index, convert in converting:
                columns[index] = tuple(map(convert, columns[index]))
            part = list(zip(*columns, strict=True))
        inserted += insert_values(table, names, part, skip_conflicts=skip_conflicts, utf8=utf8)
    return inserted


def bulk_insert(
    table: sa.Table, rows: Sequence[dict[str, Any]], batch: int = BULK_BATCH, *, skip_conflicts: bool = False
) -> int:
    """INSERT rows (dicts with the same keys) into a table, converting values as SQLAlchemy
    would; returns how many were inserted. With `skip_conflicts`, a row that breaks a unique
    constraint or index is skipped (ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike)."""
    if not rows:
        return 0
    names = list(rows[0])
    take = itemgetter(*names)
    inserted = 0
    for start in range(0, len(rows), batch):  # tuples for a batch at a time: memory stays flat
        part = rows[start : start + batch]
        values = [take(row) for row in part] if len(names) > 1 else [(row[names[0]],) for row in part]
        inserted += insert_rows(table, names, values, batch, skip_conflicts=skip_conflicts)
    return inserted


def bulk_insert_columns(table: sa.Table, columns: dict[str, Any]) -> int:
    """INSERT rows given column by column: a list holds one value per row (all lists as long),
    anything else is the value of every row. Returns how many were inserted (many rows to a
    statement, as insert_values)."""
    sqlite = db.session.connection().dialect.name == "sqlite"
    values: list[Any] = []
    for name, column in columns.items():
        convert = _converter(table.c[name].type, sqlite)
        if isinstance(column, list):
            values.append(column if _converted(column, convert) else list(map(convert, column)))
        else:
            values.append(itertools.repeat(convert(column)))
    rows = zip(*values, strict=False)  # the repeated values stop with the lists
    return insert_values(table, list(columns), rows)


def _converted(column: list[Any], convert: Converter) -> bool:
    """True when converting would change nothing: numbers already floats for SQLite, say."""
    if convert is _identity:
        return True
    if convert is _sqlite_numeric:
        return Decimal not in set(map(type, column))
    return False
