"""Requests: the list (with overdue for supervisors), raising one, its page and its steps."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from ..domain.followups import NEXT_STATUS, UNRESOLVED, RequestCategory, RequestStatus, Satisfaction, Urgency
from ..domain.tiers import Role
from ..domain.workdays import china_today
from ..extensions import db
from ..followups.services import officers_for
from ..models import Firm, FirmRequest, User
from ..permissions import roles_required
from ..scoping import firm_scope, get_scoped_firm_or_404, visible_streets
from ..security import db_id
from . import bp
from .forms import RequestForm, StepForm
from .services import RequestError, advance, overdue_clause, raise_request

WORKERS = (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER)


def _request_or_404(request_id: int) -> FirmRequest:
    found = db.session.scalars(
        sa.select(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .where(FirmRequest.id == request_id, firm_scope(current_user))
    ).first()
    if found is None:
        abort(404)
    return found


@bp.route("/")
@roles_required(*WORKERS)
def index():
    """Requests in scope, filtered by status, category, street, overdue, owner; newest first."""
    now = china_today()
    filters: list[sa.ColumnElement[bool]] = [firm_scope(current_user)]
    status = request.args.get("status", "")
    if status == "open":
        filters.append(FirmRequest.status != RequestStatus.CLOSED)
    elif status in {s.value for s in RequestStatus}:
        filters.append(FirmRequest.status == RequestStatus(status))
    category = request.args.get("category", "")
    if category in {c.value for c in RequestCategory}:
        filters.append(FirmRequest.category == RequestCategory(category))
    street = request.args.get("street", type=db_id)
    if street:
        filters.append(Firm.street_id == street)
    overdue = request.args.get("overdue") == "1"
    if overdue:
        filters.append(overdue_clause(now))
    mine = request.args.get("mine") == "1"
    if mine:
        filters.append(sa.or_(FirmRequest.owner_id == current_user.id, FirmRequest.created_by_id == current_user.id))
    text = request.args.get("q", "").strip()
    if text:
        filters.append(
            sa.or_(Firm.name.contains(text, autoescape=True), FirmRequest.description.contains(text, autoescape=True))
        )
    query = (
        sa.select(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .where(*filters)
        .order_by(FirmRequest.deadline if overdue else FirmRequest.id.desc())
    )
    page = db.paginate(query, page=request.args.get("page", 1, type=db_id), per_page=50, error_out=False)
    overdue_total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(FirmRequest)
        .join(Firm, Firm.id == FirmRequest.firm_id)
        .where(firm_scope(current_user), overdue_clause(now))
    )
    return render_template(
        "firm_requests/index.html",
        page=page,
        today=now,
        overdue=overdue,
        overdue_total=overdue_total,
        streets=visible_streets(current_user),
        unresolved=UNRESOLVED,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*WORKERS)
def new():
    """Raise a request for a firm (firm_id in the query string)."""
    firm = get_scoped_firm_or_404(current_user, request.args.get("firm_id", type=db_id) or 0)
    form = RequestForm()
    if request.method == "GET":
        form.received_on.data = china_today()
    if form.validate_on_submit():
        if form.received_on.data > china_today():
            form.received_on.errors.append(_("The date cannot be in the future."))
        else:
            try:
                made = raise_request(
                    firm,
                    current_user,
                    category=RequestCategory(form.category.data),
                    description=form.description.data,
                    urgency=Urgency(form.urgency.data),
                    received_on=form.received_on.data,
                )
            except RequestError as refused:
                db.session.rollback()
                flash(str(refused), "danger")
            else:
                db.session.commit()
                flash(_("Request recorded; it is due by %(day)s.", day=made.deadline.isoformat()), "success")
                return redirect(url_for(".detail", request_id=made.id))
    status = 400 if request.method == "POST" else 200
    return render_template("firm_requests/new.html", form=form, firm=firm), status


def _step_form(found: FirmRequest) -> StepForm:
    form = StepForm()
    form.owner_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(o.id), o.label) for o in officers_for(found.firm.street_id)
    ]
    return form


@bp.route("/<int:request_id>", methods=["GET", "POST"])
@roles_required(*WORKERS)
def detail(request_id: int):
    """A request: its steps with time and person, and the form for the next step."""
    found = _request_or_404(request_id)
    form = _step_form(found)
    if request.method == "POST":
        target_text = request.form.get("target", "")
        if target_text not in {s.value for s in RequestStatus} or not form.validate_on_submit():
            flash(_("That step was not recorded: correct the fields marked below."), "danger")
        else:
            owner = db.session.get(User, int(form.owner_id.data)) if form.owner_id.data else None
            try:
                advance(
                    found,
                    RequestStatus(target_text),
                    current_user,
                    owner_department=form.owner_department.data or "",
                    owner=owner,
                    note=form.note.data or "",
                    resolution=form.resolution.data or "",
                    satisfaction=Satisfaction(form.satisfaction.data) if form.satisfaction.data else None,
                )
            except RequestError as refused:
                db.session.rollback()
                flash(str(refused), "danger")
                found = _request_or_404(request_id)
            else:
                db.session.commit()
                flash(_("Step recorded."), "success")
                return redirect(url_for(".detail", request_id=request_id))
        status = 400
    else:
        status = 200
    return (
        render_template(
            "firm_requests/detail.html",
            item=found,
            form=form,
            next_status=NEXT_STATUS.get(found.status),
            today=china_today(),
            unresolved=UNRESOLVED,
        ),
        status,
    )
