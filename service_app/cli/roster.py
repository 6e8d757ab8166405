"""`flask --app wsgi roster import FILE`: import a roster from scripts.

Exit codes: 0 applied (or a dry run without errors), 1 invalid rows (nothing written),
2 the file cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models import ImportMode
from ..roster.cells import CellError, parse_quarter
from ..roster.plan import ImportOptions
from ..roster.services import ImportError_, confirm_batch, upload_roster

roster_cli = AppGroup("roster", help="Import and export rosters.")


def _finish(payload: dict[str, Any], as_json: bool, code: int) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
    elif "error" in payload:
        click.echo(f"error: {payload['error']}", err=True)
    else:
        click.echo(
            f"created {payload['created']}, updated {payload['updated']}, unchanged {payload['unchanged']}, "
            f"skipped {payload['skipped']}"
        )
        for error in payload["errors"][:200]:
            click.echo(f"row {error['row']} [{error['column']}] {error['value']!r}: {error['message']}", err=True)
        if len(payload["errors"]) > 200:
            click.echo(f"… and {len(payload['errors']) - 200} more errors", err=True)
    sys.exit(code)


@roster_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@click.option("--mode", type=click.Choice([m.value for m in ImportMode]), default="upsert", show_default=True)
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and skip the invalid ones.")
@click.option("--overwrite-blanks", is_flag=True, help="Empty cells clear stored values.")
@click.option("--quarter", help="Quarter for metric rows without a quarter column, e.g. 2026Q3.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_roster(
    file: Path, dry_run: bool, mode: str, skip_invalid: bool, overwrite_blanks: bool, quarter: str | None, as_json: bool
) -> None:
    """Import FILE (.xlsx, .xls, .ods, .xlsb or .csv) into the roster, all rows or none."""
    try:
        data = file.read_bytes()
        default_quarter = parse_quarter(quarter) if quarter else None
    except OSError as exc:
        _finish({"error": f"cannot read {file}: {exc.strerror}"}, as_json, 2)
    except CellError as exc:
        _finish({"error": str(exc)}, as_json, 2)
    options = ImportOptions(ImportMode(mode), overwrite_blanks, skip_invalid, default_quarter)
    try:
        batch, plan = upload_roster(data, file.name, None, options, dedupe=False)
        assert plan is not None
        summary = plan.summary()
        if dry_run:
            db.session.rollback()
            _finish(summary, as_json, 1 if plan.errors else 0)
        confirm_batch(batch, None, "cli", plan)
        summary = plan.summary() | {"skipped": len(plan.invalid_rows)}
        db.session.commit()
    except ImportError_ as exc:
        db.session.rollback()
        if exc.code == "invalid":
            _finish(summary, as_json, 1)
        _finish({"error": exc.message}, as_json, 2)
    _finish(summary, as_json, 0)
