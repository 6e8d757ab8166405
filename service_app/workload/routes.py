"""The workload table (every role, within its scope) and the supervisors' bulk rebalance:
choose firms, see the counts, confirm, and the firms and open follow-ups move in one POST."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ..domain.tiers import Role, Tier
from ..domain.workdays import china_today
from ..extensions import db
from ..followups.services import (
    FollowupError,
    ReassignmentPlan,
    officers_for,
    plan_reassignment,
    reassign_firms,
)
from ..models import User
from ..permissions import roles_required
from ..scoping import street_ids_for, visible_streets
from ..security import db_id
from . import bp
from .forms import RebalanceForm
from .services import (
    COUNT_COLUMNS,
    OVERLOAD_RATIO,
    SORTS,
    TIER_COLUMNS,
    WorkloadFilters,
    rebalance_firms_select,
    tiers_filter,
    workload_page,
    workload_summary,
)

MANAGERS = (Role.ADMIN, Role.SUPERVISOR)
FIRMS_PER_PAGE = 100


def _street_or_404(street_id: int | None) -> int | None:
    """A street filter within the user's streets; another street answers 404."""
    if street_id is not None and street_id not in {s.id for s in visible_streets(current_user)}:
        abort(404)
    return street_id


@bp.route("/")
@login_required
def index():
    """Officers with their firms per tier, follow-ups, requests and visits; overload highlighted."""
    args = request.args
    sort = args.get("sort", "total")
    filters = WorkloadFilters(
        street_id=_street_or_404(args.get("street", type=db_id)),
        q=args.get("q", "")[:64].strip(),
        sort=sort if sort in SORTS else "total",
        descending=args.get("dir", "desc" if sort != "name" else "asc") != "asc",
    )
    today = china_today()
    summary = workload_summary(current_user, filters, today)
    page = workload_page(current_user, filters, today, args.get("page", 1, type=db_id), total=summary.officers)
    officers = {
        officer.id: officer
        for officer in db.session.scalars(
            sa.select(User).where(User.id.in_([row["id"] for row in page.items])).options(selectinload(User.streets))
        )
    }
    # An officer's streets as far as the viewer may see them: a street office is not told which other
    # streets its officers also serve.
    limited = street_ids_for(current_user)
    covered = {
        officer.id: "、".join(s.name for s in officer.streets if limited is None or s.id in limited)
        for officer in officers.values()
    }
    return render_template(
        "workload/index.html",
        page=page,
        officers=officers,
        covered=covered,
        summary=summary,
        filters=filters,
        streets=visible_streets(current_user),
        columns=COUNT_COLUMNS,
        overload_ratio=OVERLOAD_RATIO,
        tier_columns=TIER_COLUMNS,
        may_rebalance=current_user.role in MANAGERS,
    )


def _source_or_404(source_id: int | None) -> User:
    source = db.session.get(User, source_id) if source_id else None
    if source is None or source.role != Role.OFFICER:
        abort(404)
    return source


def _rebalance_form(source: User) -> RebalanceForm:
    form = RebalanceForm()
    form.target_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(o.id), f"{o.label}（{'、'.join(s.name for s in o.streets) or _('no street')}）")
        for o in officers_for()
        if o.id != source.id
    ]
    form.street_id.choices = [SelectChoice("", _("All streets"))] + [
        SelectChoice(str(s.id), s.name) for s in visible_streets(current_user)
    ]
    return form


def _chosen_street(form: RebalanceForm) -> int | None:
    """The street filter when it is one of the form's choices (a refused form may hold anything)."""
    if form.street_id.data and form.street_id.data in {c.value for c in form.street_id.choices}:  # type: ignore[union-attr]
        return int(form.street_id.data)
    return None


def _firm_list(source: User, form: RebalanceForm, status: int = 200) -> Any:
    """The rebalance page: the source's firms under the filters, with boxes to tick."""
    page = db.paginate(
        rebalance_firms_select(source, form.tier.data or "", _chosen_street(form)),
        page=request.args.get("page", 1, type=db_id),
        per_page=FIRMS_PER_PAGE,
        error_out=False,
    )
    return render_template("workload/rebalance.html", source=source, form=form, page=page), status


@bp.route("/rebalance", methods=["GET"])
@roles_required(*MANAGERS)
def rebalance():
    """Choose which of an officer's firms move, and to whom."""
    source = _source_or_404(request.args.get("source", type=db_id))
    form = _rebalance_form(source)
    form.tier.data = request.args.get("tier", "")
    form.street_id.data = request.args.get("street", "")
    if form.tier.data not in {c.value for c in form.tier.choices}:  # type: ignore[union-attr]
        form.tier.data = ""
    if form.street_id.data not in {c.value for c in form.street_id.choices}:  # type: ignore[union-attr]
        form.street_id.data = ""
    return _firm_list(source, form)


@bp.route("/rebalance", methods=["POST"])
@roles_required(*MANAGERS)
def rebalance_post():
    """First the counts to confirm; with `confirm`, the move itself (audited)."""
    source = _source_or_404(request.args.get("source", type=db_id))
    form = _rebalance_form(source)
    if not form.validate_on_submit():
        flash(_("Nothing was moved: correct the choices marked below."), "danger")
        return _firm_list(source, form, 400)
    target = db.session.get(User, int(form.target_id.data))
    selection = _selection(form)
    try:
        if target is None:
            raise FollowupError(_("Choose an active service officer."))
        plan = plan_reassignment(source, target, **selection)
    except FollowupError as refused:
        flash(str(refused), "danger")
        return _firm_list(source, form, 400)
    if plan.moving_total == 0:
        flash(_("None of these firms lie in a street %(name)s covers; nothing was moved.", name=target.label), "danger")
        return _preview(source, target, form, plan, 400)
    if not form.confirm.data:
        return _preview(source, target, form, plan)
    if form.expected.data != plan.moving_total:
        flash(_("The firms changed since the counts were shown; check the new counts and confirm again."), "warning")
        return _preview(source, target, form, plan, 409)
    moved, left = reassign_firms(source, target, current_user, **selection)
    db.session.commit()
    names = {"moved": moved, "source": source.label, "name": target.label}
    if left:
        message = _(
            "%(moved)s firms moved from %(source)s to %(name)s; %(left)s lie in streets %(name)s does not cover "
            "and stayed.",
            left=left,
            **names,
        )
        flash(message, "warning")
    else:
        flash(_("%(moved)s firms moved from %(source)s to %(name)s.", **names), "success")
    return redirect(url_for(".index"))


def _selection(form: RebalanceForm) -> dict[str, Any]:
    """The form's choice as `reassign_firms` takes it: the ticked firms as ticked, whatever the
    filters show, or every firm of the tier and street."""
    if form.selection.data == "selected":
        return {"street_id": None, "tiers": None, "firm_ids": form.firm_ids.data}
    return {
        "street_id": _chosen_street(form),
        "tiers": tiers_filter(form.tier.data or ""),
        "firm_ids": None,
    }


def _preview(source: User, target: User, form: RebalanceForm, plan: ReassignmentPlan, status: int = 200) -> Any:
    """The confirmation step: how many firms move, by street and tier, and how many stay."""
    streets = {s.id: s.name for s in visible_streets(current_user)}
    rank = {tier.value: index for index, tier in enumerate(Tier)}
    moving = sorted(plan.moving.items(), key=lambda item: (item[0][0], rank.get(item[0][1] or "", len(rank))))
    return (
        render_template(
            "workload/confirm.html",
            source=source,
            target=target,
            form=form,
            plan=plan,
            moving=moving,
            streets=streets,
        ),
        status,
    )
