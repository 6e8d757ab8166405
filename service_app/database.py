"""Engine settings that depend on the database: SQLite's WAL, busy timeout and transactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

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
        conn.exec_driver_sql("BEGIN")
