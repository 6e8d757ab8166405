"""Command-line groups: `flask --app wsgi users|firms|demo|roster|tiers|followups|report|scheduler …`,
and `backup`."""

from __future__ import annotations

from flask import Flask

from ..scheduler import scheduler_cli
from .backup import backup_command
from .demo import demo_cli
from .firms import firms_cli
from .followups import followups_cli
from .reports import report_cli
from .roster import roster_cli
from .tiers import tiers_cli
from .users import users_cli


def register(app: Flask) -> None:
    """Attach every command group to the app."""
    for group in (users_cli, firms_cli, demo_cli, roster_cli, tiers_cli, followups_cli, report_cli, scheduler_cli):
        app.cli.add_command(group)
    app.cli.add_command(backup_command)
