"""Sign-in and sign-out pages."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..audit import record_event
from ..extensions import db
from ..security import safe_next_path
from . import bp
from .forms import LoginForm
from .services import authenticate


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in, then go to a local `next` path or the home page."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated:
        return redirect(safe_next_path(form.next.data, url_for("dashboard.index")))
    if form.validate_on_submit():
        user = authenticate(form.username.data.strip(), form.password.data)
        db.session.commit()
        if user is None:
            flash(_("Wrong username or password, or the account is disabled."), "danger")
            return render_template("auth/login.html", form=form), 200
        lang = user.locale or session.get("lang")  # the user's own choice beats the last user's
        session.clear()  # a fresh session on sign-in: no fixation
        if lang:
            session["lang"] = lang
        login_user(user, remember=form.remember.data)
        return redirect(safe_next_path(form.next.data, url_for("dashboard.index")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST, so a link elsewhere cannot sign people out)."""
    record_event("auth.logout", "user", current_user.id)
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
