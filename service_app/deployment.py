"""What production needs before the app serves: a secret key, one worker on SQLite, the proxy's
headers and engine options per database. Plain functions, shared by create_app and gunicorn.conf.py."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .database import DescribingOnDemandCursor

#: Seconds a PostgreSQL connection attempt may take before the request gets its 503.
PG_CONNECT_TIMEOUT_SECONDS = 5


class ConfigurationError(RuntimeError):
    """A setting the app refuses to start with; the message says what to change."""


def default_workers(cores: int | None = None) -> int:
    """gunicorn's rule of thumb: two workers per core, plus one."""
    return 2 * (cores or os.cpu_count() or 1) + 1


def is_sqlite(database_uri: str | None) -> bool:
    """True for SQLite, including the default (no URL: instance/service.db)."""
    return not database_uri or database_uri.startswith("sqlite")


def check_workers(database_uri: str | None, workers: int) -> None:
    """Refuse more than one web worker on SQLite: its writers would queue on one file lock."""
    if workers > 1 and is_sqlite(database_uri):
        raise ConfigurationError(
            f"SQLite serves one web worker, not {workers}: set DATABASE_URL to a PostgreSQL database "
            "for more workers, or WEB_CONCURRENCY=1 to serve SQLite with one."
        )


def check_secret_key(config: Any) -> None:
    """Production never runs on a generated key: sessions must survive a redeploy and a second machine."""
    if str(config.get("APP_ENV") or "").strip().lower() == "production" and not config.get("SECRET_KEY"):
        raise ConfigurationError(
            "SECRET_KEY is not set: with APP_ENV=production the app does not start without one. "
            "Set it to a long random value, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`, the same on every machine."
        )


def instance_secret_key(instance: Path) -> str:
    """The development key in instance/secret_key: created private and once, even when two workers
    start together."""
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    try:
        handle = os.open(key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        for _ in range(50):  # the worker that created it may not have written it yet
            key = key_file.read_text().strip()
            if key:
                return key
            time.sleep(0.1)
        raise RuntimeError(f"{key_file} is empty: delete it and start again") from None
    key = secrets.token_hex(32)
    with os.fdopen(handle, "w") as out:
        out.write(key)
    return key


def engine_options(database_uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """The configured engine options plus what each database needs: a ping before each checkout
    (a restarted PostgreSQL costs no request), a bounded connect time, and on PostgreSQL the cursor
    that describes a result only when asked (database.DescribingOnDemandCursor)."""
    merged = {**options, "pool_pre_ping": options.get("pool_pre_ping", True)}
    if database_uri.startswith("postgresql"):
        merged["connect_args"] = {
            "connect_timeout": PG_CONNECT_TIMEOUT_SECONDS,
            "cursor_factory": DescribingOnDemandCursor,
            **options.get("connect_args", {}),
        }
    return merged


def apply_proxy_fix(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto/-Host/-Prefix from as many proxies as configured (nginx: 1), so
    client addresses (sign-in limits, audit) and https links are the real ones."""
    counts = {
        name: int(app.config.get(f"PROXY_FIX_X_{name.upper()}") or 0) for name in ("for", "proto", "host", "prefix")
    }
    if any(counts.values()):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=counts["for"], x_proto=counts["proto"], x_host=counts["host"], x_prefix=counts["prefix"]
        )


def warm_up(app: Flask) -> int:
    """Compile every template, configure the ORM's mappers and load each language's catalogue now,
    before a worker's first request, instead of during its first pages (about a second of CPU per
    worker). Returns how many templates were compiled."""
    import flask_babel
    from sqlalchemy.orm import configure_mappers

    from .i18n import select_locale

    configure_mappers()
    names = app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html"))
    for name in names:
        app.jinja_env.get_template(name)
    with app.test_request_context():
        for code in app.config["LANGUAGES"]:
            with flask_babel.force_locale(code):
                select_locale()
                flask_babel.get_translations()
    return len(names)
