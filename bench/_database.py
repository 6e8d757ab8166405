"""The benchmarks' database: an empty PostgreSQL schema when DATABASE_URL points at one, else a new
SQLite file in the given folder."""

from __future__ import annotations

import os
from pathlib import Path


def fresh_database_url(folder: Path) -> str:
    """A URL to an empty database (PostgreSQL's public schema is dropped and made again)."""
    url = os.environ.get("DATABASE_URL")
    if url and url.startswith("postgres"):
        import sqlalchemy as sa

        from config import normalise_database_url

        url = normalise_database_url(url) or url
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{folder / 'bench.db'}"
