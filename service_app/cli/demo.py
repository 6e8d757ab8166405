"""`flask --app wsgi demo load`: fill an empty database with the demo roster."""

from __future__ import annotations

import json
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..models import Firm

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--seed-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Where the CSVs are.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds firms.")
def load_demo_command(seed_dir: Path | None, if_empty: bool) -> None:
    """Load seed_data/ (streets, buildings, firms, eight quarters of metrics); a rerun adds nothing."""
    from ..demo.services import load_demo

    if if_empty and db.session.scalar(sa.select(Firm.id).limit(1)) is not None:
        click.echo("the database holds firms already; demo data not loaded")
        return
    directory = seed_dir or Path(current_app.root_path).parent / "seed_data"
    if not directory.is_dir():
        raise click.ClickException(f"no seed data directory at {directory}")
    counts = load_demo(directory)
    db.session.commit()
    click.echo(json.dumps(counts, ensure_ascii=False))
