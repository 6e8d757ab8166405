"""Export downloads: the firm list as the roster workbook (with the list's filters; a large list is
built in the background), and the Exports page of background exports and street packs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..domain.tiers import Role
from ..extensions import db
from ..firms.services import FirmFilters, filters_from_args, firm_filter_clauses
from ..models import ExportKind, ExportPack, PackStatus
from ..permissions import roles_required
from ..security import attachment_header, db_id
from . import bp
from .forms import PackForm
from .packs import (
    files_for,
    may_download_zip,
    my_exports,
    pack_folder,
    request_pack,
    request_roster_export,
    visible_packs,
)
from .services import count_firms, export_quarter, roster_file_name, roster_workbook, street_label

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _listed() -> tuple[FirmFilters, str, int]:
    """The firm list the query string describes: its filters, the export's quarter (a bad one is a
    400) and how many firms in the user's scope it holds."""
    filters = filters_from_args(request.args)
    try:
        quarter = export_quarter(request.args.get("quarter") or None)
    except ValueError:
        abort(400)
    return filters, quarter, count_firms(firm_filter_clauses(current_user, filters))


@bp.route("/roster.xlsx")
@login_required
def roster():
    """The firms the list shows (same filters, the user's scope) as the roster workbook; every role may.

    More firms than EXPORT_INLINE_LIMIT are built in the background: this page then asks, and its
    button posts the list to `queue_roster` (a GET writes nothing).
    """
    filters, quarter, firms = _listed()
    limit = current_app.config["EXPORT_INLINE_LIMIT"]
    if firms > limit:
        arguments = request.args.to_dict(flat=False)
        return render_template(
            "exports/confirm_roster.html",
            count=firms,
            limit=limit,
            queue_url=url_for(".queue_roster", **arguments),
            list_url=url_for("firms.index", **{k: v for k, v in arguments.items() if k != "quarter"}),
        )
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


@bp.route("/roster/queue", methods=["POST"])
@login_required
def queue_roster():
    """Queue the list under the query string's filters as a background workbook (the same list
    already queued is reused); a list that has shrunk to a direct download is sent to it."""
    _filters, quarter, firms = _listed()
    if firms <= current_app.config["EXPORT_INLINE_LIMIT"]:
        return redirect(url_for(".roster", **request.args.to_dict(flat=False)))
    request_roster_export(current_user, request.args, quarter)
    db.session.commit()
    flash(
        _(
            "%(count)s firms are too many to download at once: the workbook is being built below. "
            "This page refreshes itself; the file is kept for 30 days.",
            count=firms,
        ),
        "info",
    )
    return redirect(url_for(".index"))


@bp.route("/")
@login_required
def index():
    """The user's background downloads, and packs of the last 30 days: status and progress, the zip for
    all-street users, each user's street workbooks."""
    page = request.args.get("page", 1, type=db_id)
    packs = db.paginate(visible_packs(), page=page, per_page=20, error_out=False)
    mine = db.session.scalars(my_exports(current_user).limit(20)).all()
    may_request = current_user.role in (Role.ADMIN, Role.SUPERVISOR)
    unfinished = (PackStatus.PENDING, PackStatus.BUILDING)
    return render_template(
        "exports/index.html",
        mine=mine,
        packs=packs,
        pack_files=[(pack, files_for(pack, current_user)) for pack in packs.items],
        form=PackForm() if may_request else None,
        may_zip=may_download_zip(current_user),
        ready=PackStatus.READY,
        failed=PackStatus.FAILED,
        refresh=any(p.status in unfinished for p in [*mine, *packs.items]),
    )


@bp.route("/<int:pack_id>.xlsx")
@login_required
def my_export(pack_id: int):
    """A list download built in the background: only the user who asked for it gets it."""
    pack = _ready_pack_or_404(pack_id)
    if pack.kind != ExportKind.ROSTER or pack.requested_by_id != current_user.id:
        abort(404)
    return _download(pack_folder(pack) / pack.file_name, pack.file_name, f"roster_{pack.quarter}.xlsx")


@bp.route("/packs", methods=["POST"])
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def request_pack_view():
    """Ask for a quarter's pack; the scheduler builds it within minutes."""
    form = PackForm()
    if form.validate_on_submit():
        request_pack(form.quarter.data, current_user)
        db.session.commit()
        flash(_("The pack is queued; it is built in the background within a few minutes."), "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "danger")
    return redirect(url_for(".index"))


def _ready_pack_or_404(pack_id: int) -> ExportPack:
    pack = db.session.get(ExportPack, pack_id)
    if pack is None or pack.status != PackStatus.READY:
        abort(404)
    return pack


@bp.route("/packs/<int:pack_id>.zip")
@login_required
def pack_zip(pack_id: int):
    """The whole pack, for users who see every street."""
    pack = _ready_pack_or_404(pack_id)
    if pack.kind != ExportKind.PACK or not may_download_zip(current_user):
        abort(404)
    return _download(pack_folder(pack) / pack.file_name, pack.file_name, f"pack_{pack.quarter}.zip")


@bp.route("/packs/<int:pack_id>/streets/<int:street_id>.xlsx")
@login_required
def pack_street(pack_id: int, street_id: int):
    """One street's workbook of a pack; another street's answers 404."""
    pack = _ready_pack_or_404(pack_id)
    if pack.kind != ExportKind.PACK:
        abort(404)
    entry = next((f for f in files_for(pack, current_user) if f["street_id"] == street_id), None)
    if entry is None:
        abort(404)
    return _download(pack_folder(pack) / entry["file"], entry["file"], f"roster_{pack.quarter}_{street_id}.xlsx")


def _download(path: Path, name: str, ascii_name: str) -> Response:
    if not path.is_file():
        abort(404)
    mimetype = "application/zip" if name.endswith(".zip") else XLSX_MIMETYPE
    response = send_file(path, mimetype=mimetype, max_age=0)
    response.headers["Content-Disposition"] = attachment_header(ascii_name, name)
    return response
