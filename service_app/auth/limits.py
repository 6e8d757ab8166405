"""Failed sign-ins, counted per account and per client address in Flask-Limiter's storage: Redis when
REDIS_URL is set, else the app's database (the rate_limit_counters table). Never one process's memory:
with several workers or machines such a count would be per process, and a restart would clear it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import Storage
from limits.strategies import RateLimiter
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from ..deployment import ConfigurationError
from ..extensions import db
from ..models import RateLimitCounter

#: Seconds Redis may take to answer before sign-in gives a 503 instead of hanging.
REDIS_TIMEOUT_SECONDS = 2


class DatabaseStorage(Storage):
    """A `limits` storage in the app's database, for the fixed-window strategy.

    It works in the request's own session (db.session), so a counter is written in the same
    transaction as the audit event of the failed sign-in and commits with it.
    """

    STORAGE_SCHEME = ["servicedb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's counter, starting a new window when the old one has ended."""
        now = time.time()
        counter = RateLimitCounter
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        live = counter.expires_at > now
        statement = (
            insert(counter)
            .values(key=key, count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[counter.key],
                set_={
                    "count": sa.case((live, counter.count + amount), else_=amount),
                    "expires_at": sa.case((live, counter.expires_at), else_=now + expiry),
                },
            )
            .returning(counter.count)
        )
        count = db.session.execute(statement).scalar_one()
        db.session.execute(sa.delete(RateLimitCounter).where(RateLimitCounter.expires_at < now - 86_400))
        return int(count)

    def _live(self, key: str) -> RateLimitCounter | None:
        return db.session.scalars(
            sa.select(RateLimitCounter).where(RateLimitCounter.key == key, RateLimitCounter.expires_at > time.time())
        ).first()

    def get(self, key: str) -> int:
        """Hits in the key's current window (0 when none)."""
        counter = self._live(key)
        return counter.count if counter else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (now when there is none)."""
        counter = self._live(key)
        return counter.expires_at if counter else time.time()

    def check(self) -> bool:
        """True when the database answers."""
        try:
            db.session.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Drop every counter."""
        return db.session.execute(sa.delete(RateLimitCounter)).rowcount  # type: ignore[attr-defined, no-any-return]

    def clear(self, key: str) -> None:
        """Drop one counter."""
        db.session.execute(sa.delete(RateLimitCounter).where(RateLimitCounter.key == key))


def init_login_limits(app: Flask) -> Limiter:
    """One Limiter per app (its storage lives on the instance, so apps never share one)."""
    uri = app.config.get("RATELIMIT_STORAGE_URI") or ""
    if not uri or uri.startswith(("memory", "async+memory")):
        raise ConfigurationError(
            "RATELIMIT_STORAGE_URI must be Redis (set REDIS_URL) or servicedb:// (the app's database), "
            "never per-process memory."
        )
    options: dict[str, str | int] = {"wrap_exceptions": True}  # type: ignore[dict-item]
    if uri.startswith(("redis", "rediss")):
        options |= {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS}
    limiter = Limiter(get_remote_address, storage_uri=uri, storage_options=options)
    limiter.init_app(app)
    # Only sign-in is limited, checked by hand (login_lockout, count_failed_login); no view carries
    # a limit. Flask-Limiter's check before every request would look up limits for every page and
    # find none, at about 2 % of a page's time under load, so it is taken out.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions["login_limiter"] = limiter
    return limiter


@dataclass(frozen=True)
class Lockout:
    """Sign-in is locked for an account or an address until `retry_at` (seconds since the epoch)."""

    scope: str  # "account" or "address"
    retry_at: float

    @property
    def retry_after(self) -> int:
        """Whole seconds until it lifts, at least one."""
        return max(1, math.ceil(self.retry_at - time.time()))


def _strategy() -> RateLimiter:
    return current_app.extensions["login_limiter"].limiter  # type: ignore[no-any-return]


def _counters(username: str, address: str) -> list[tuple[str, RateLimitItem, tuple[str, ...]]]:
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    return [
        (
            "account",
            parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]),
            (prefix, "login-account", _account(username)),
        ),
        ("address", parse(current_app.config["LOGIN_LIMIT_PER_ADDRESS"]), (prefix, "login-address", address or "-")),
    ]


def _account(username: str) -> str:
    return username.strip().casefold()[:64] or "-"


def login_lockout(username: str, address: str) -> Lockout | None:
    """The lock-out in force for this account or this address (the later-lifting one), or None."""
    strategy = _strategy()
    locked = [
        Lockout(scope, strategy.get_window_stats(item, *key).reset_time)
        for scope, item, key in _counters(username, address)
        if not strategy.test(item, *key)
    ]
    return max(locked, key=lambda lockout: lockout.retry_at, default=None)


def count_failed_login(username: str, address: str) -> Lockout | None:
    """Count one failure against the account and the address; the lock-out it brings on, if any."""
    strategy = _strategy()
    for _scope, item, key in _counters(username, address):
        strategy.hit(item, *key)
    return login_lockout(username, address)


def clear_account_failures(username: str) -> None:
    """Forget an account's failures (after a successful sign-in, or an administrator's unlock)."""
    strategy = _strategy()
    _scope, item, key = _counters(username, "")[0]
    strategy.storage.clear(item.key_for(*key))
