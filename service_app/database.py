"""What depends on the database: SQLite's WAL, busy timeout and transactions (jobs and writing
requests take the write lock first), how a request's transaction ends, the few SQL date
expressions SQLite and PostgreSQL spell differently, and PostgreSQL's cursor, which describes a
result only when asked."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
import sqlalchemy as sa
from flask import request
from psycopg import Column
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from .extensions import db

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and real BEGIN/SAVEPOINT for SQLite; nothing for other databases."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_service_configured", False):
        return
    engine._service_configured = True  # type: ignore[attr-defined]
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself, so SAVEPOINT and rollback behave (pysqlite's
        # legacy transaction handling does not).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a job that
        # reads and then writes never fails on a snapshot another writer made stale.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "BEGIN")


def begin_writing() -> None:
    """Start the session's transaction ready to write: BEGIN IMMEDIATE on SQLite, so two jobs
    that read before they write queue up instead of failing; a plain BEGIN elsewhere. Call it
    first thing in a job; inside a transaction already begun it changes nothing."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_immediate": True})


class china_date(FunctionElement[Any]):
    """SQL: the Asia/Shanghai calendar day of a UTC timestamp column (timestamps are stored in UTC)."""

    type = sa.Date()
    name = "china_date"
    inherit_cache = True


@compiles(china_date, "sqlite")
def _china_date_sqlite(element: china_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(china_date, "postgresql")
def _china_date_postgresql(element: china_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('Asia/Shanghai', {compiler.process(element.clauses, **kw)}) AS DATE)"


class days_between(FunctionElement[Any]):
    """SQL: whole days from the first date to the second (negative when the second is earlier)."""

    type = sa.Integer()
    name = "days_between"
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(julianday({second}) - julianday({first}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({second} - {first})"


#: Requests that only read; any other method may write.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: connection.info: this transaction sent something other than a read (see `track_writes`).
WROTE = "database.wrote"
#: The first words of the statements that read and nothing else. WITH is not one of them: a
#: common table expression may insert, update or delete.
_READING = frozenset({"SELECT", "BEGIN"})


def begin_writing_requests() -> None:
    """before_request on SQLite: a request that may write (POST, …) takes the write lock first, like
    a job. A deferred transaction that reads and then writes fails at once with "database is locked"
    when another process wrote in between (WAL cannot upgrade a stale snapshot); this one waits its
    turn instead, up to the busy timeout."""
    if request.method not in READ_ONLY_METHODS:
        begin_writing()


def track_writes(engine: Engine) -> None:
    """Note on each connection whether its transaction sent anything but SELECT (`WROTE`)."""
    if getattr(engine, "_writes_tracked", False):
        return
    engine._writes_tracked = True  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", _note_write)
    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, _forget_write)


def _note_write(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if WROTE not in connection.info:
        words = statement.lstrip()[:8].split(None, 1)
        if not words or words[0].upper() not in _READING:
            connection.info[WROTE] = True


def _forget_write(connection: Any) -> None:
    if not connection.invalidated:
        connection.info.pop(WROTE, None)


def end_reading_transaction(error: BaseException | None = None) -> None:
    """teardown_request: end a request's transaction that only read (a page's, or what a form
    read after committing, for its redirect) with COMMIT, where closing the session would send
    ROLLBACK.

    For the database the two are the same here (nothing to keep, nothing to undo), but psycopg
    forgets its prepared statements at every ROLLBACK (the rollback may have dropped what they
    name), so every request parsed and planned each of its queries afresh: a third to a half of
    PostgreSQL's time on the everyday pages. Everything else is left to close_session's rollback:
    a request that failed, a transaction that wrote, holds unsaved changes or broke.
    """
    if error is not None:
        return
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active or session.new or session.deleted:
        return  # (not active: a statement failed and only a rollback ends it)
    if any(session.is_modified(instance) for instance in session.dirty):
        return  # (dirty is any attribute set; a preview that sets its counts as they were changes nothing)
    try:
        connection = session.connection()
        if not (connection.invalidated or connection.info.get(WROTE)) and _transaction_usable(connection):
            # The request is over: expiring what it loaded would be work for nothing.
            expiring, session.expire_on_commit = session.expire_on_commit, False
            try:
                session.commit()
            finally:
                session.expire_on_commit = expiring
    except SQLAlchemyError as failure:  # close_session rolls back (and logs a lost connection)
        log.warning("ending a request that only read: %s", failure)


def _transaction_usable(connection: Any) -> bool:
    """False when the driver knows the transaction failed (psycopg's INERROR): only ROLLBACK ends that."""
    status = getattr(getattr(connection.connection.driver_connection, "info", None), "transaction_status", None)
    return status is None or status == TransactionStatus.INTRANS


def close_session(_error: BaseException | None = None) -> None:
    """teardown_appcontext, before Flask-SQLAlchemy's own: end the session, and when its connection
    died after the response was made (a restarted database), log it rather than turn that response
    into a 500. The pool has thrown the dead connection away by then."""
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        log.warning("closing the session on a lost connection: %s", error)
        db.session.registry.clear()


class _ResultSource:
    """What psycopg's Column reads from a cursor, for a result the cursor has since moved past."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: Any, encoding: str, adapters: Any) -> None:
        self.pgresult, self._encoding, self.adapters = pgresult, encoding, adapters


class DescriptionOnDemand(Sequence[Column]):
    """A result's `cursor.description`, its columns built when first read.

    SQLAlchemy reads the description of every result but, for a statement it has compiled and
    cached, looks into it only the first time the statement runs: later runs reuse what it made of
    the first (the compiled statement's cached result metadata; not so with echo on or
    `driver_column_names`, which read it each time). psycopg builds a Column (name decoded, type
    looked up) per column of every result, which was a twelfth of a page's time.

    A description read after the cursor ran something else is built from its own result, through
    `_ResultSource`: what psycopg's Column reads of a cursor (pinned psycopg; tests/
    test_postgres_cursor.py checks it without a database too)."""

    __slots__ = ("_columns", "_cursor", "_result")

    def __init__(self, cursor: psycopg.Cursor[Any], result: Any) -> None:
        self._cursor, self._result = cursor, result
        self._columns: list[Column] | None = None

    def _built(self) -> list[Column]:
        if self._columns is None:
            cursor = self._cursor
            source: Any = cursor
            if cursor.pgresult is not self._result:  # the cursor has run something since
                source = _ResultSource(self._result, cursor.connection.info.encoding, cursor.adapters)
            self._columns = [Column(source, index) for index in range(self._result.nfields)]
        return self._columns

    def __len__(self) -> int:
        return int(self._result.nfields)

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        return self._built()[index]

    def __iter__(self) -> Iterator[Column]:
        return iter(self._built())

    def __repr__(self) -> str:
        return repr(self._built())


class DescribingOnDemandCursor(psycopg.Cursor[Any]):
    """psycopg's cursor whose description builds its columns only when read (DescriptionOnDemand)."""

    __slots__ = ()

    @property
    def description(self) -> Sequence[Column] | None:  # type: ignore[override]
        result = self.pgresult
        if result is None or not (
            result.nfields or result.status in (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)
        ):
            return None
        return DescriptionOnDemand(self, result)
