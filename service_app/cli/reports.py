"""`flask --app wsgi report quarter`: the quarter report workbook from scripts.

Exit 2 on a quarter that cannot be read, an unknown street or an output that cannot be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..exports.services import streets_by_name
from ..exports.workbook import save_atomically
from ..reports.services import quarter_report, report_quarter
from ..reports.workbook import quarter_workbook
from ..roster.xlsx import workbook_bytes

report_cli = AppGroup("report", help="Quarter reports.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@report_cli.command("quarter")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quarter", help="The quarter, e.g. 2026Q3 (default: the latest with figures).")
@click.option("--street", help="Only this street (its Chinese name).")
def quarter_command(output: Path, quarter: str | None, street: str | None) -> None:
    """Write the quarter report (说明, 汇总, one sheet per street) to OUTPUT (.xlsx)."""
    try:
        chosen = report_quarter(quarter)
    except ValueError:
        _fail(f"not a quarter: {quarter} (use a form such as 2026Q3)")
        return
    street_id = None
    if street:
        found = streets_by_name([street])
        if street not in found:
            _fail(f"no street named {street}")
        street_id = found[street].id
    report = quarter_report(None, chosen, street_id)
    workbook = quarter_workbook(report, platform=current_app.config["PLATFORM_NAME"], author="系统（命令行）")
    data = workbook_bytes(workbook)  # in memory first: a report is small, and a bad path then leaves nothing open
    try:
        save_atomically(data, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror}")
    click.echo(f"{chosen.key}: {report.total.firms} firms in {len(report.streets)} streets written to {output}")
