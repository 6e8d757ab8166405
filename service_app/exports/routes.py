"""Export downloads: the firm list, as the roster workbook, with the list's current filters."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Response, abort, current_app, request
from flask_login import current_user, login_required

from ..firms.services import filters_from_args
from ..security import attachment_header
from . import bp
from .services import export_quarter, roster_file_name, roster_workbook, street_label

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/roster.xlsx")
@login_required
def roster():
    """The firms the list shows (same filters, the user's scope) as the roster workbook; every role may."""
    filters = filters_from_args(request.args)
    try:
        quarter = export_quarter(request.args.get("quarter") or None)
    except ValueError:
        abort(400)
    platform = current_app.config["PLATFORM_NAME"]
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "roster.xlsx"
        roster_workbook(path, current_user, filters, quarter, platform=platform)
        data = path.read_bytes()  # a few MB even for 30,000 firms
    name = roster_file_name(street_label(current_user, filters, platform), quarter)
    return Response(
        data,
        mimetype=XLSX_MIMETYPE,
        headers={
            "Content-Disposition": attachment_header(f"roster_{quarter}.xlsx", name),
            "Cache-Control": "no-store",
        },
    )
