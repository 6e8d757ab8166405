"""Roster import pages: upload, preview with mapping, confirm, result, undo, error report."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..domain.tiers import Role
from ..extensions import db
from ..models import ImportBatch, ImportMode, ImportStatus
from ..pagination import paginate
from ..permissions import roles_required
from ..security import attachment_header, db_id
from . import bp
from .columns import FIRM_COLUMNS, HEADERS, INFORMATIONAL_COLUMNS, METRIC_COLUMNS
from .forms import UploadForm
from .plan import ImportOptions
from .services import (
    ImportError_,
    build_error_report,
    confirm_batch,
    discard_batch,
    import_counts,
    is_interrupted,
    may_act_on,
    preview_batch,
    undo_import,
    upload_roster,
    visible_batches,
)
from .services import (
    change_mapping as remap_batch,
)

IMPORTERS = (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER)
MAPPABLE = ("credit_code", *(f for f in FIRM_COLUMNS if f != "credit_code"), "quarter", *METRIC_COLUMNS)


def _batch_or_404(batch_id: int) -> ImportBatch:
    batch = db.session.scalars(visible_batches(current_user).where(ImportBatch.id == batch_id)).first()
    if batch is None:
        abort(404)
    return batch


def _acting_batch_or_404(batch_id: int) -> ImportBatch:
    """A batch the current user may confirm, discard, remap or undo (its uploader, or an admin)."""
    batch = _batch_or_404(batch_id)
    if not may_act_on(batch, current_user):
        abort(403)
    return batch


def _source() -> str:
    return (request.remote_addr or "")[:64]


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(*IMPORTERS)
def imports():
    """Upload a roster, and the list of earlier imports."""
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        options = ImportOptions(
            ImportMode(form.mode.data), form.overwrite_blanks.data, form.skip_invalid.data, form.quarter.data or None
        )
        try:
            batch, _plan = upload_roster(upload.read(), upload.filename or "", current_user, options)
        except ImportError_ as exc:
            db.session.commit()  # keeps the failed batch for the record
            flash(exc.message, "danger")
            return redirect(url_for(".imports"))
        db.session.commit()
        return redirect(url_for(".batch", batch_id=batch.id))
    status = request.args.get("status", "")
    query = visible_batches(current_user)
    if status in ImportStatus.__members__.values():
        query = query.where(ImportBatch.status == ImportStatus(status))
    page = paginate(
        query.options(joinedload(ImportBatch.user)),
        page=request.args.get("page", 1, type=db_id),
        per_page=20,
        scalars=True,
    )
    return render_template("roster/imports.html", form=form, page=page, status=status, statuses=list(ImportStatus))


@bp.route("/imports/<int:batch_id>")
@roles_required(*IMPORTERS)
def batch(batch_id: int):
    """The preview of a batch waiting for confirmation, or the result of one that is done."""
    batch = _batch_or_404(batch_id)
    plan = None
    if batch.status == ImportStatus.PREVIEWED:
        try:
            plan = preview_batch(batch)  # shown, not saved: a GET changes nothing
        except ImportError_ as exc:
            flash(exc.message, "danger")
    fields = {name: HEADERS[name][0] for name in MAPPABLE}
    return render_template(
        "roster/batch.html",
        batch=batch,
        plan=plan,
        counts=import_counts(batch),
        fields=fields,
        informational=INFORMATIONAL_COLUMNS,
        errors=batch.errors[:500],
        may_act=may_act_on(batch, current_user),
        interrupted=is_interrupted(batch),
    )


@bp.route("/imports/<int:batch_id>/mapping", methods=["POST"])
@roles_required(*IMPORTERS)
def change_mapping(batch_id: int):
    """Change which column holds which field, then preview again."""
    batch = _acting_batch_or_404(batch_id)
    mapping: dict[int, str] = {}
    for key, value in request.form.items():
        if key.startswith("col_") and key[4:].isdigit() and value in MAPPABLE:
            if value in mapping.values():
                flash(_("Each field can be chosen for one column only."), "danger")
                return redirect(url_for(".batch", batch_id=batch.id))
            mapping[int(key[4:])] = value
    try:
        remap_batch(batch, mapping, current_user)
    except ImportError_ as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for(".batch", batch_id=batch.id))
    db.session.commit()
    flash(_("Column mapping changed; check the preview again."), "info")
    return redirect(url_for(".batch", batch_id=batch.id))


@bp.route("/imports/<int:batch_id>/confirm", methods=["POST"])
@roles_required(*IMPORTERS)
def confirm(batch_id: int):
    """Apply the batch: one transaction, all rows or none."""
    batch = _acting_batch_or_404(batch_id)
    try:
        confirm_batch(batch, current_user, _source())
    except ImportError_ as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for(".batch", batch_id=batch_id))
    db.session.commit()
    counts = import_counts(batch)
    flash(_("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.", **counts), "success")
    return redirect(url_for(".batch", batch_id=batch.id))


@bp.route("/imports/<int:batch_id>/discard", methods=["POST"])
@roles_required(*IMPORTERS)
def discard(batch_id: int):
    """Drop a batch that was not applied."""
    batch = _acting_batch_or_404(batch_id)
    try:
        discard_batch(batch, current_user)
    except ImportError_ as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for(".batch", batch_id=batch_id))
    db.session.commit()
    flash(_("The import was discarded; nothing was written."), "info")
    return redirect(url_for(".imports"))


@bp.route("/imports/<int:batch_id>/undo", methods=["POST"])
@roles_required(*IMPORTERS)
def undo(batch_id: int):
    """Restore every firm the batch created or changed."""
    batch = _acting_batch_or_404(batch_id)
    try:
        count = undo_import(batch, current_user, _source())
    except ImportError_ as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for(".batch", batch_id=batch_id))
    db.session.commit()
    flash(_("The import was undone: %(n)s firms restored.", n=count), "success")
    return redirect(url_for(".batch", batch_id=batch.id))


@bp.route("/imports/<int:batch_id>/errors.xlsx")
@roles_required(*IMPORTERS)
def errors_report(batch_id: int):
    """The uploaded rows with a 错误说明 column and the bad cells highlighted."""
    batch = _batch_or_404(batch_id)
    if not batch.errors or batch.upload is None:
        abort(404)
    try:
        data = build_error_report(batch)
    except ImportError_:
        abort(404)
    name = f"错误报告_{batch.id}.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment_header(f"errors_{batch.id}.xlsx", name)},
    )
