"""Firm pages: thin views that validate, call one service, then flash and redirect."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ..domain.tiers import Role, Tier
from ..extensions import db
from ..i18n import FIELD_LABELS
from ..models import Firm, Followup
from ..pagination import paginate
from ..permissions import can_accept_invalid_credit_code, can_create_firm, editable_firm_fields
from ..scoping import get_scoped_firm_or_404, street_ids_for, visible_streets
from ..security import db_id
from . import bp
from .forms import FirmForm, OfficerFirmForm
from .services import (
    FIRM_FIELDS,
    FLAG_FIELDS,
    NO_TIER,
    StaleEditError,
    building_names,
    changes_since,
    create_firm,
    filters_from_args,
    firm_audit_trail,
    firm_list,
    firm_page_rows,
    update_firm,
)

#: What the firm page shows with the firm and with its open follow-up (tuples made once, so that
#: the statements are built once).
FIRM_PAGE_OPTIONS = (joinedload(Firm.building), joinedload(Firm.officer))
FOLLOWUP_OPTIONS = (joinedload(Followup.officer),)


@bp.route("/")
@login_required
def index():
    """The roster: search, filter, sort and page through the firms in scope."""
    filters = filters_from_args(request.args)
    statement, parameters = firm_list(current_user, filters)
    page = paginate(
        statement,
        parameters=parameters,
        page=request.args.get("page", 1, type=db_id),
        per_page=current_app.config["FIRMS_PER_PAGE"],
    )
    streets = visible_streets(current_user)
    buildings = building_names(street_ids=street_ids_for(current_user))
    elsewhere = {row.building_id for row in page.items if row.building_id and row.building_id not in buildings}
    return render_template(
        "firms/index.html",
        page=page,
        filters=filters,
        streets=streets,
        buildings=buildings,
        street_names={street.id: street.name for street in streets},
        row_buildings={**buildings, **building_names(ids=elsewhere)} if elsewhere else buildings,
        tiers=list(Tier),
        no_tier=NO_TIER,
        flag_fields=FLAG_FIELDS,
        can_create=can_create_firm(current_user),
        export_args={k: v for k, v in request.args.lists() if k != "page"},
    )


@bp.route("/<int:firm_id>")
@login_required
def detail(firm_id: int):
    """One firm: fields, current tier and why, tier history, metrics and audit trail."""
    firm = get_scoped_firm_or_404(current_user, firm_id, *FIRM_PAGE_OPTIONS)
    rows = firm_page_rows(firm.id)
    from ..followups.services import open_followup

    return render_template(
        "firms/detail.html",
        firm=firm,
        followup=open_followup(firm.id, *FOLLOWUP_OPTIONS),
        visits=rows.visits,
        requests=rows.requests,
        can_serve=current_user.role in (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER),
        assignment=rows.history[0] if rows.history else None,  # the latest, as latest_assignment() would read it
        history=rows.history,
        metrics=rows.metrics,
        audit=firm_audit_trail(firm),
        field_labels=FIELD_LABELS,
        can_edit=bool(editable_firm_fields(current_user, frozenset(FIRM_FIELDS))),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    """Add a firm (admins and supervisors)."""
    if not can_create_firm(current_user):
        abort(403)
    form = FirmForm(
        streets=visible_streets(current_user),
        firm=None,
        may_accept_invalid=can_accept_invalid_credit_code(current_user),
    )
    if form.validate_on_submit():
        firm = create_firm(form.firm_values(), current_user)
        db.session.commit()
        flash(_("Firm %(name)s added.", name=firm.name), "success")
        return redirect(url_for(".detail", firm_id=firm.id))
    return render_template("firms/form.html", form=form, firm=None, full=True, stale=None)


@bp.route("/<int:firm_id>/edit", methods=["GET", "POST"])
@login_required
def edit(firm_id: int):
    """Edit a firm; officers see the short form; a stale save is refused with the changes."""
    firm = get_scoped_firm_or_404(current_user, firm_id)
    allowed = editable_firm_fields(current_user, frozenset(FIRM_FIELDS))
    if not allowed:
        abort(403)
    full = allowed == frozenset(FIRM_FIELDS)
    if full:
        form: OfficerFirmForm = FirmForm(
            obj=firm if request.method == "GET" else None,
            streets=visible_streets(current_user),
            firm=firm,
            may_accept_invalid=can_accept_invalid_credit_code(current_user),
        )
    else:
        form = OfficerFirmForm(obj=firm if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = str(firm.version)
    stale = None
    if form.validate_on_submit():
        expected = int(form.version.data) if (form.version.data or "").isdigit() else 0
        try:
            update_firm(firm, form.firm_values(), expected, current_user)
            db.session.commit()
        except StaleEditError as exc:
            db.session.rollback()
            stale = exc.changes
        except StaleDataError:
            db.session.rollback()
            firm = get_scoped_firm_or_404(current_user, firm_id)
            stale = changes_since(firm, expected)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".detail", firm_id=firm.id))
        firm = get_scoped_firm_or_404(current_user, firm_id)
        form.version.data = str(firm.version)
        flash(
            _(
                "Not saved: someone else changed this firm after you opened the form. "
                "Check their changes below, then save again if yours should still apply."
            ),
            "danger",
        )
    return render_template("firms/form.html", form=form, firm=firm, full=full, stale=stale, field_labels=FIELD_LABELS)
