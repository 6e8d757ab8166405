"""The quarter report's page (printable) and its workbook; every role, within its streets."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..roster.xlsx import workbook_bytes
from ..scoping import visible_streets
from ..security import attachment_header, db_id
from . import bp
from .services import (
    CHAIN_KEYS,
    TIER_KEYS,
    QuarterReport,
    ReportError,
    quarter_report,
    report_quarter,
    report_quarters,
)
from .workbook import quarter_file_name, quarter_workbook

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _requested_report() -> QuarterReport | None:
    """The report the query string asks for; None when the quarter cannot be read (flashed)."""
    text = request.args.get("quarter", "").strip()
    try:
        quarter = report_quarter(text[:20])
    except ValueError:
        flash(_("Enter a quarter such as 2026Q3."), "danger")
        return None
    try:
        return quarter_report(current_user, quarter, request.args.get("street", type=db_id))
    except ReportError:
        abort(404)  # another street does not exist for this user


@bp.route("/quarter")
@login_required
def quarter():
    """The quarter's figures for the platform (or the user's streets) and each street, ready to print."""
    report = _requested_report()
    if report is None:
        return redirect(url_for(".quarter"))
    return render_template(
        "reports/quarter.html",
        report=report,
        quarters=report_quarters(),
        streets=visible_streets(current_user),
        street_id=request.args.get("street", type=db_id),
        tier_keys=TIER_KEYS,
        chain_keys=CHAIN_KEYS,
    )


@bp.route("/quarter.xlsx")
@login_required
def quarter_xlsx():
    """The same report as a workbook: 说明, 汇总, one sheet per street."""
    report = _requested_report()
    if report is None:
        return redirect(url_for(".quarter"))
    platform = current_app.config["PLATFORM_NAME"]
    data = workbook_bytes(quarter_workbook(report, platform=platform, author=current_user.label))
    scope = platform if report.whole_platform else report.street_names
    name = quarter_file_name(scope, report.quarter.key)
    return Response(
        data,
        mimetype=XLSX_MIMETYPE,
        headers={
            "Content-Disposition": attachment_header(f"quarter_report_{report.quarter.key}.xlsx", name),
            "Cache-Control": "no-store",
        },
    )
