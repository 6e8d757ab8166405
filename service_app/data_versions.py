"""Exact versions of the tables the dashboard's figures are made from, and the cache that keeps the
figures under them.

Every transaction that writes a versioned table gives it a new random token in `data_versions`, in
that same transaction, just before it commits. Writes are noticed where SQLAlchemy hands SQL to the
driver (ORM flushes, Core statements, bulk_insert's executemany, text), so a writer cannot forget to
say so; rows that ON DELETE CASCADE removes count as writes to their own table. A reader that sees a
token therefore sees the rows it stands for, and figures kept under the tokens of the tables they
read are never stale: a changed table has a token no figure was kept under.

The tokens are taken at commit, not at the write, so a long import holds no lock on them that other
writers would queue behind, and every transaction takes them in the same order (no deadlock).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, SessionTransaction

from .extensions import db
from .models import DataVersion

#: The tables cached figures read (dashboard/services.py). A table added here gets its row in
#: data_versions at its first write; its figures are not cached until then.
VERSIONED_TABLES = frozenset(
    {"firm_requests", "firms", "followups", "quarterly_metrics", "request_steps", "tier_assignments", "visits"}
)
#: connection.info key: the versioned tables written in the connection's transaction, not yet given tokens.
WRITTEN = "data_versions.written"
#: session.info key: the connection the session's transaction runs on.
CONNECTION = "data_versions.connection"

T = TypeVar("T")

_DML = re.compile(r"\s*(?:insert|update|delete|replace|truncate|merge|with)\b", re.IGNORECASE)
#: A table name, quoted or not, after an optional schema: the name is the group.
_NAME = r"""["`]?(?:\w+["`]?\.["`]?)?(\w+)"""
_TARGET = re.compile(
    r"""\s*(insert\s+(?:or\s+\w+\s+)?into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from
    |truncate(?:\s+table)?|merge\s+into)\s+(?:only\s+)?"""
    + _NAME,
    re.IGNORECASE | re.VERBOSE,
)
#: The writes inside a statement (WITH … INSERT/UPDATE/DELETE).
_INNER_TARGETS = re.compile(r"""\b(insert\s+into|update|delete\s+from)\s+""" + _NAME, re.IGNORECASE)
_UPSERT = sa.text(
    "INSERT INTO data_versions (table_name, token) VALUES (:table_name, :token)"
    " ON CONFLICT (table_name) DO UPDATE SET token = excluded.token"
)


def _cascades(metadata: sa.MetaData, action: str) -> dict[str, frozenset[str]]:
    """For each table, the versioned tables a delete (`action` "ondelete") or an update ("onupdate")
    of its rows changes: itself, and the tables the foreign keys' actions (CASCADE, SET NULL) reach,
    transitively."""
    children: dict[str, set[str]] = {}
    for table in metadata.tables.values():
        for key in table.foreign_keys:
            if getattr(key, action):
                children.setdefault(key.column.table.name, set()).add(table.name)
    reach: dict[str, frozenset[str]] = {}
    for name in metadata.tables:
        seen, todo = {name}, [name]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        reach[name] = frozenset(seen & VERSIONED_TABLES)
    return reach


#: The closures of _cascades, by the first word of the write ("delete", "update"), made at first use.
_reach: dict[str, dict[str, frozenset[str]]] = {}


def tables_written(statement: str) -> frozenset[str]:
    """The versioned tables an SQL statement may change (none for reads), with those its deletes
    cascade to. A write whose target cannot be read from the text counts as one to every table."""
    if not _DML.match(statement):
        return frozenset()
    if not _reach:
        _reach["delete"] = _reach["truncate"] = _cascades(db.metadata, "ondelete")
        _reach["update"] = _cascades(db.metadata, "onupdate")
    target = _TARGET.match(statement)
    if target is not None:
        writes = [target.groups()]
    elif statement.lstrip()[:4].lower() == "with":
        writes = _INNER_TARGETS.findall(statement)  # a plain WITH … SELECT writes nothing
    else:
        return VERSIONED_TABLES
    written: frozenset[str] = frozenset()
    for verb, name in writes:
        table = name.lower()
        reach = _reach.get(verb.split()[0].lower(), {})
        written |= reach.get(table, frozenset({table}) & VERSIONED_TABLES)
    return written


def _new_tokens(tables: Iterable[str]) -> list[dict[str, str]]:
    # Sorted: every transaction takes the rows' locks in the same order.
    return [{"table_name": name, "token": uuid.uuid4().hex} for name in sorted(tables)]


def _driver_upsert(connection: Connection, tables: Iterable[str]) -> None:
    """New tokens through the driver itself, where SQLAlchemy cannot execute (a commit under way).
    Table names are VERSIONED_TABLES' own and tokens hex digits: nothing here comes from input."""
    values = ", ".join(f"('{row['table_name']}', '{row['token']}')" for row in _new_tokens(tables))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(
            f"INSERT INTO data_versions (table_name, token) VALUES {values}"  # noqa: S608 - see above
            " ON CONFLICT (table_name) DO UPDATE SET token = excluded.token"
        )
    finally:
        cursor.close()


def _record_write(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """before_cursor_execute: note the versioned tables a statement writes."""
    tables = tables_written(statement)
    if tables:
        connection.info.setdefault(WRITTEN, set()).update(tables)


def _autocommitted_write(connection: Connection, *_args: Any) -> None:
    """after_cursor_execute: a write on an autocommit connection is committed already: new tokens now."""
    if WRITTEN in connection.info and connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        _driver_upsert(connection, connection.info.pop(WRITTEN))


def _forget_writes(connection: Connection) -> None:
    """begin and rollback: nothing written yet, or nothing of it kept (a lost connection's own
    driver connection, and what it noted, are gone already)."""
    if not connection.invalidated:
        connection.info.pop(WRITTEN, None)


def _tokens_at_commit(connection: Connection) -> None:
    """commit: tokens for writes the session's before_commit did not see (a bare connection's)."""
    written = connection.info.pop(WRITTEN, None)
    if written:
        _driver_upsert(connection, written)


def watch_writes(engine: Engine) -> None:
    """Give the versioned tables written through this engine new tokens as their writes commit."""
    if getattr(engine, "_data_versions_watched", False):
        return
    engine._data_versions_watched = True  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", _record_write)
    event.listen(engine, "after_cursor_execute", _autocommitted_write)
    event.listen(engine, "begin", _forget_writes)
    event.listen(engine, "rollback", _forget_writes)
    event.listen(engine, "commit", _tokens_at_commit)


@event.listens_for(Session, "after_begin")
def _remember_connection(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    session.info[CONNECTION] = connection


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(CONNECTION, None)


@event.listens_for(Session, "before_commit")
def _tokens_before_commit(session: Session) -> None:
    """New tokens for the versioned tables the session's transaction wrote, as its last statement.

    Here rather than in the engine's commit event alone because a session joined to an outer
    transaction (the tests') commits only a savepoint: its writes are visible to other sessions on
    that connection from then on, and so must their tokens be.
    """
    connection: Connection | None = session.info.get(CONNECTION)
    if connection is None or session.in_nested_transaction() or connection.closed or connection.invalidated:
        return
    session.flush()
    written = connection.info.pop(WRITTEN, None)
    if written:
        connection.execute(_UPSERT, _new_tokens(written))


def current_tokens() -> dict[str, str]:
    """Each versioned table's token as the session sees it; none while its transaction has written a
    versioned table (those writes have no token until the commit)."""
    if db.session.connection().info.get(WRITTEN):
        return {}
    rows = db.session.execute(sa.select(DataVersion.table_name, DataVersion.token))
    return {name: token for name, token in rows}


class FigureCache:
    """Figures made from the database, kept in this process under the tokens of the tables they read.

    Each gunicorn worker keeps its own: no cross-process store to run or keep consistent, and a
    figure costs one computation per worker per change of its tables. Values are shared between
    requests: callers must not change them.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def fetch(self, key: Hashable, tables: Iterable[str], tokens: Mapping[str, str], make: Callable[[], T]) -> T:
        """The figure kept under `key` and the tables' tokens, or `make()`'s, kept from now on. Made
        and not kept when a table has no token (unversioned, or written by this transaction)."""
        versions = tuple(tokens.get(name) for name in tables)
        if None in versions:
            return make()
        full_key = (key, versions)
        with self._lock:
            if full_key in self._entries:
                self._entries.move_to_end(full_key)
                return self._entries[full_key]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._entries[full_key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every figure (the benchmark's cold runs)."""
        with self._lock:
            self._entries.clear()


def init_figure_cache(app: Flask) -> None:
    """Watch the app's engine for writes and give the app its cache."""
    with app.app_context():
        watch_writes(db.engine)
    app.extensions["figure_cache"] = FigureCache()


def figure_cache() -> FigureCache:
    """The current app's figure cache."""
    cache: FigureCache = current_app.extensions["figure_cache"]
    return cache
