"""One scheduler runs the jobs, however many are started: the first to take a lock leads, the others
wait and retry, and one of them takes over when the leader dies (its lock goes with its connection or
its process).

PostgreSQL (several app machines on one database): a session-level advisory lock held on a dedicated
connection for the leader's lifetime. SQLite (one machine): an flock on a file beside the database.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

#: The advisory-lock key every scheduler of this app asks for (advisory locks are per database).
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"service_app.scheduler").digest()[:8], "big", signed=True)


class Leadership(Protocol):
    """A lock only one scheduler process can hold."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it."""
        ...

    def still_held(self) -> bool:
        """False once the lock is lost (the database connection that held it is gone)."""
        ...

    def release(self) -> None:
        """Let another scheduler lead."""
        ...


class AdvisoryLock:
    """pg_try_advisory_lock on a connection kept open (in autocommit) while this process leads."""

    def __init__(self, engine: Engine, key: int = ADVISORY_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self._connection is None:
                self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            return bool(self._connection.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}))
        except DBAPIError as error:  # the database is down: stay standby and try again later
            log.warning("cannot reach the database to take the scheduler lock: %s", error)
            self.release()
            return False

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            held = self._connection.scalar(
                sa.text(
                    # a bigint key shows as its high half in classid, its low half in objid
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    " AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": self._key},
            )
        except DBAPIError as error:
            log.error("the scheduler lock's connection is gone: %s", error)
            return False
        return bool(held)

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # closes the session, which drops its advisory locks
                self._connection.close()
            except DBAPIError:
                log.debug("closing the scheduler lock's connection failed", exc_info=True)
            self._connection = None


class FileLock:
    """flock on a file: the kernel lets it go when the process ends, however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class SoleProcess:
    """An in-memory SQLite database lives in one process: there is nobody to elect against."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None


def leadership_for(engine: Engine) -> Leadership:
    """The lock that fits the database: advisory lock, file lock beside the SQLite file, or none."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return FileLock(Path(f"{database}.scheduler.lock"))
    return SoleProcess()


def wait_for_leadership(
    lock: Leadership, retry_seconds: float, on_standby: Callable[[], None], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Block until this process holds the lock, retrying every `retry_seconds`; `on_standby` is told once."""
    told = False
    while not lock.try_acquire():
        if not told:
            on_standby()
            told = True
        sleep(retry_seconds)
