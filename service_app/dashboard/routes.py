"""The dashboard page, each chart's data (.json) and download (.xlsx), and the targets admins set."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..charts import ChartTable, scope_label, xlsx_response
from ..domain.indicators import IndicatorMetric, indicator_status
from ..domain.tiers import Role
from ..domain.workdays import china_today
from ..extensions import db
from ..models import IndicatorTarget
from ..permissions import roles_required
from ..security import db_id
from . import bp
from .charts import CHARTS, STATUS_COLOURS, status_label
from .forms import METRIC_LABELS, TargetForm
from .services import Dashboard, TargetError, delete_target, save_target


def _board() -> Dashboard:
    return Dashboard(current_user, china_today())


def _chart(name: str, board: Dashboard) -> ChartTable:
    build = CHARTS.get(name)
    if build is None:
        abort(404)
    return build(board)


@bp.route("/")
@login_required
def index():
    """The dashboard: tiers, their changes, follow-up and request health, key firms' trend, targets."""
    board = _board()
    charts = {name: build(board) for name, build in CHARTS.items()}
    statuses = [
        (item, indicator_status(item.actual, float(item.target.threshold)).value) for item in board.indicators()
    ]
    return render_template(
        "dashboard/index.html",
        board=board,
        charts=charts,
        headline=board.headline(),
        statuses=statuses,
        status_label=status_label,
        status_colours=STATUS_COLOURS,
        scope=scope_label(current_user),
    )


@bp.route("/dashboard/charts/<name>.json")
@login_required
def chart_data(name: str):
    """One chart's rows, as its table shows them, for the browser to draw."""
    return jsonify(_chart(name, _board()).as_json())


@bp.route("/dashboard/charts/<name>.xlsx")
@login_required
def chart_xlsx(name: str):
    """One chart's rows as a workbook."""
    board = _board()
    table = _chart(name, board)
    return xlsx_response(table, board.data_quarter.key if board.data_quarter else "")


# --- Targets (admins) ------------------------------------------------------------------------------


def _save(form: TargetForm, target: IndicatorTarget | None):
    metric = IndicatorMetric(form.metric.data)
    try:
        save_target(
            target,
            year=form.year.data,
            metric=metric,
            name=(form.name.data or "").strip() or str(METRIC_LABELS[metric]),
            threshold=form.threshold.data,
            user=current_user,
        )
        db.session.commit()
    except TargetError:
        db.session.rollback()
        message = _("That indicator already has a target for %(year)s: change that one instead.", year=form.year.data)
        flash(message, "danger")
        return None
    flash(_("Target saved."), "success")
    return redirect(url_for(".targets", year=form.year.data))


@bp.route("/dashboard/targets", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def targets():
    """The annual targets, by year, and a form to add one."""
    form = TargetForm()
    if request.method == "GET":
        form.year.data = china_today().year
    if form.validate_on_submit():
        done = _save(form, None)
        if done:
            return done
    year = request.args.get("year", type=int)
    query = sa.select(IndicatorTarget).order_by(IndicatorTarget.year.desc(), IndicatorTarget.metric)
    if year is not None and 2000 <= year <= 2100:
        query = query.where(IndicatorTarget.year == year)
    page = db.paginate(query, page=request.args.get("page", 1, type=db_id), per_page=50, error_out=False)
    return render_template(
        "dashboard/targets.html", form=form, page=page, year=year, metric_labels=METRIC_LABELS, target=None
    )


@bp.route("/dashboard/targets/<int:target_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_target(target_id: int):
    """Change one target."""
    target = db.get_or_404(IndicatorTarget, target_id)
    form = TargetForm(obj=target if request.method == "GET" else None)
    if request.method == "GET":
        form.metric.data = target.metric.value
    if form.validate_on_submit():
        done = _save(form, target)
        if done:
            return done
    return render_template("dashboard/target_form.html", form=form, target=target)


@bp.route("/dashboard/targets/<int:target_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def delete_target_view(target_id: int):
    """Remove one target."""
    target = db.get_or_404(IndicatorTarget, target_id)
    year = target.year
    delete_target(target, current_user)
    db.session.commit()
    flash(_("Target deleted."), "info")
    return redirect(url_for(".targets", year=year))
