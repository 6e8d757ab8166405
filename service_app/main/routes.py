"""Small site-wide actions: language, health check, notifications (the home page is the dashboard)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from ..audit import record_event
from ..extensions import db
from ..security import db_id, safe_next_path
from . import bp


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language for this session (and remember it for the user)."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated and current_user.locale != lang:
            record_event(
                "user.locale", "user", current_user.id, before={"locale": current_user.locale}, after={"locale": lang}
            )
            current_user.locale = lang
            db.session.commit()
    return redirect(safe_next_path(request.form.get("next"), url_for("dashboard.index")))


@bp.route("/healthz")
def healthz():
    """Liveness and database reachability, for the load balancer."""
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


@bp.route("/notifications")
@login_required
def notifications():
    """The bell: the user's notifications, unread first, newest first."""
    from ..models import Notification

    query = (
        sa.select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
    )
    page = db.paginate(query, page=request.args.get("page", 1, type=db_id), per_page=30, error_out=False)
    return render_template("main/notifications.html", page=page)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_notifications():
    """Mark one notification (id in the form) or all of them read; go where it links."""
    from ..models import Notification
    from ..notify import mark_read

    raw = request.form.get("id", "")
    target = url_for("main.notifications")
    if raw:
        try:
            found = db.session.get(Notification, db_id(raw))
        except ValueError:
            abort(404)
        if found is None or found.user_id != current_user.id:
            abort(404)
        mark_read(current_user, found.id)
        target = safe_next_path(found.link, target)
    else:
        mark_read(current_user)
    db.session.commit()
    return redirect(target)
