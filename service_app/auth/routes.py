"""Sign-in and sign-out pages."""

from __future__ import annotations

import datetime as dt
import math

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..audit import record_event
from ..extensions import db
from ..security import safe_next_path
from . import bp
from .forms import LoginForm
from .limits import Lockout
from .services import SignInRefused, authenticate


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in, then go to a local `next` path or the home page."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated:
        return redirect(safe_next_path(form.next.data, url_for("dashboard.index")))
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data.strip(), form.password.data, request.remote_addr or "")
        except SignInRefused as refused:
            db.session.commit()  # the audit event and the failure count
            if refused.lockout is not None:
                flash(lockout_message(refused.lockout), "danger")
                headers = {"Retry-After": str(refused.lockout.retry_after)}
                return render_template("auth/login.html", form=form), 429, headers
            flash(_("Wrong username or password, or the account is disabled."), "danger")
            return render_template("auth/login.html", form=form), 200
        db.session.commit()
        lang = user.locale or session.get("lang")  # the user's own choice beats the last user's
        session.clear()  # a fresh session on sign-in: no fixation
        if lang:
            session["lang"] = lang
        login_user(user, remember=form.remember.data)
        return redirect(safe_next_path(form.next.data, url_for("dashboard.index")))
    return render_template("auth/login.html", form=form)


def lockout_message(lockout: Lockout) -> str:
    """What a locked-out person reads: which lock, until when (local time), in how many minutes."""
    until = format_time(dt.datetime.fromtimestamp(lockout.retry_at, dt.UTC), "HH:mm")
    minutes = math.ceil(lockout.retry_after / 60)
    if lockout.scope == "account":
        return _(
            "Too many failed sign-ins for this account: it is locked until %(time)s (about %(minutes)s min). "
            "Try again then, or ask an administrator to unlock it.",
            time=until,
            minutes=minutes,
        )
    return _(
        "Too many failed sign-ins from this address: sign-in is locked until %(time)s (about %(minutes)s min).",
        time=until,
        minutes=minutes,
    )


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST, so a link elsewhere cannot sign people out)."""
    record_event("auth.logout", "user", current_user.id)
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
