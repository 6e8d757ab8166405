"""`flask --app wsgi followups …`: the daily sweep by hand."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask.cli import AppGroup

followups_cli = AppGroup("followups", help="Follow-ups and requests.")


@followups_cli.command("sweep")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Run as of this day (YYYY-MM-DD).")
def sweep_command(today: dt.datetime | None) -> None:
    """Create missing follow-ups, mark overdue ones, escalate overdue requests, notify. Idempotent."""
    from ..followups.tasks import daily_sweep

    result = daily_sweep(today.date() if today else None)
    click.echo(json.dumps(result, ensure_ascii=False))
