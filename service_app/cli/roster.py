"""`flask --app wsgi roster import|export|export-pack`: rosters in and out from scripts.

Import exit codes: 0 applied (or a dry run without errors), 1 invalid rows (nothing written),
2 the file cannot be read. Exports exit 2 on a bad street, quarter or output path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from ..domain.tiers import Tier
from ..exports.services import export_pack, roster_workbook, streets_by_name
from ..extensions import db
from ..firms.services import NO_TIER, FirmFilters
from ..models import ImportMode
from ..roster.cells import CellError, parse_quarter
from ..roster.plan import ImportOptions
from ..roster.services import ImportError_, confirm_batch, recover_interrupted_imports, upload_roster

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
    recover_interrupted_imports()  # an earlier run killed while writing is marked failed first
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


def _export_error(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@roster_cli.command("export")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--street", help="Only this street's firms (its Chinese name).")
@click.option("--tier", type=click.Choice([*(t.value for t in Tier), NO_TIER]), help="Only this tier.")
@click.option("--quarter", help="The quarter the roster is for, e.g. 2026Q4 (default: the latest assessed).")
def export_roster(output: Path, street: str | None, tier: str | None, quarter: str | None) -> None:
    """Write the roster workbook (说明, 汇总, one sheet per tier) to OUTPUT (.xlsx)."""
    filters = FirmFilters(tier=tier or "")
    if street:
        found = streets_by_name([street])
        if street not in found:
            _export_error(f"no street named {street}")
        filters.street_id = found[street].id
    try:
        result = roster_workbook(
            output,
            None,
            filters,
            _quarter(quarter),
            platform=current_app.config["PLATFORM_NAME"],
            street_name=street or "",
        )
    except OSError as exc:
        _export_error(f"cannot write {output}: {exc.strerror}")
    click.echo(f"{result.total} firms written to {result.path} ({result.quarter})")


@roster_cli.command("export-pack")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quarter", required=True, help="The quarter, e.g. 2026Q4.")
def export_roster_pack(output: Path, quarter: str) -> None:
    """Write a zip of one roster workbook per street (`<街道>_<季度>_企业分类名录.xlsx`) to OUTPUT."""
    try:
        results = export_pack(output, None, _quarter(quarter), platform=current_app.config["PLATFORM_NAME"])
    except OSError as exc:
        _export_error(f"cannot write {output}: {exc.strerror}")
    for result in results:
        click.echo(f"{result.path}: {result.total} firms")
    click.echo(f"{len(results)} workbooks written to {output}")


def _quarter(value: str | None) -> str | None:
    """A quarter key from any accepted form, or exit 2 with the reason."""
    if not value:
        return None
    try:
        return parse_quarter(value)
    except CellError as exc:
        _export_error(str(exc))
    return None
