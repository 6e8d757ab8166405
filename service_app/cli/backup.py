"""`flask --app wsgi backup -o FILE`: a consistent copy of the SQLite database while the app runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..extensions import db


@click.command("backup")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The copy to write."
)
@with_appcontext
def backup_command(output: Path) -> None:
    """Copy the SQLite database to OUTPUT with SQLite's online backup (writers carry on meanwhile).
    PostgreSQL is backed up with pg_dump instead."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException(
            "the database is PostgreSQL: back it up with pg_dump, e.g. "
            "pg_dump --format=custom --file=service.dump postgresql://USER@HOST/DATABASE (README, Production)"
        )
    if url.database in (None, "", ":memory:"):
        raise click.ClickException("the database is in memory: there is no file to back up")
    if not output.parent.is_dir():
        raise click.ClickException(f"{output.parent} is not a folder")
    partial = output.with_name(f".{output.name}.part")
    copied_bytes = copy_sqlite(Path(url.database), partial)
    os.replace(partial, output)  # readers of OUTPUT never see half a copy
    click.echo(f"backed up {copied_bytes:,} bytes to {output} (integrity check: ok)")


def copy_sqlite(source: Path, target: Path) -> int:
    """Copy `source` into a new file `target` in one step (one consistent snapshot, never restarted
    by a concurrent writer), check its integrity and sync it to disk; its size in bytes."""
    target.unlink(missing_ok=True)
    source_db = sqlite3.connect(source)
    target_db = sqlite3.connect(target)
    try:
        source_db.backup(target_db)
        verdict = target_db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        target_db.close()
        source_db.close()
    if verdict != "ok":
        target.unlink(missing_ok=True)
        raise click.ClickException(f"the copy failed its integrity check: {verdict}")
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())
    return target.stat().st_size
