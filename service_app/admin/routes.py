"""User administration pages (admins only)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ..domain.tiers import Role
from ..extensions import db
from ..models import Street, User
from ..permissions import roles_required
from ..security import db_id
from . import bp
from .forms import UserForm
from .services import UserError, create_user, update_user


def _street_choices(form: UserForm) -> list[Street]:
    streets = list(db.session.scalars(sa.select(Street).order_by(Street.id)))
    form.streets.choices = [SelectChoice(str(s.id), s.name) for s in streets]
    return streets


def _chosen(streets: list[Street], ids: list[int] | None) -> list[Street]:
    wanted = set(ids or [])
    return [s for s in streets if s.id in wanted]


@bp.route("/users")
@roles_required(Role.ADMIN)
def users():
    """Every user, searchable by name and filterable by role."""
    q = request.args.get("q", "").strip()[:64]
    role = request.args.get("role", "")
    query = sa.select(User).options(selectinload(User.streets)).order_by(User.username)
    if q:
        query = query.where(sa.or_(User.username.ilike(f"%{q}%"), User.display_name.ilike(f"%{q}%")))
    if role in Role.__members__.values():
        query = query.where(User.role == Role(role))
    page = db.paginate(query, page=request.args.get("page", 1, type=db_id), per_page=50, error_out=False)
    return render_template("admin/users.html", page=page, q=q, role=role, roles=list(Role))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    """Create a user with a role and streets."""
    form = UserForm()
    streets = _street_choices(form)
    if form.validate_on_submit():
        try:
            user = create_user(
                form.username.data.strip(),
                form.password.data or "",
                Role(form.role.data),
                _chosen(streets, form.streets.data),
                form.display_name.data or "",
                actor=current_user,
            )
            db.session.commit()
        except UserError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    """Change a user's role, streets, name, active flag or password."""
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user if request.method == "GET" else None)
    streets = _street_choices(form)
    if request.method == "GET":
        form.role.data = user.role.value
        form.streets.data = [s.id for s in user.streets]
    form.username.data = user.username  # usernames do not change
    if form.validate_on_submit():
        try:
            update_user(
                user,
                role=Role(form.role.data),
                streets=_chosen(streets, form.streets.data),
                display_name=form.display_name.data or "",
                active=form.active.data,
                password=form.password.data or None,
                actor=current_user,
            )
            db.session.commit()
        except UserError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            if user.id == current_user.id:
                login_user(user)  # a new password signs other sessions out, not this one
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form, user=user)
