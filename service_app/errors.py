"""Error pages: a message a person can act on, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You do not have permission to do this. Ask an administrator if you need it."),
    404: _l("This page does not exist, or it is outside the streets you cover."),
    405: _l("This action is not allowed here."),
    413: _l("The file is too large. Split it into smaller files and upload again."),
    500: _l("Something went wrong on our side. Nothing was saved; please try again."),
    503: _l("The database is not reachable just now. Nothing was saved; try again in a minute."),
}


def _render(status: int, message: str | None = None):
    text = message or MESSAGES.get(status) or MESSAGES[500]
    if request.accept_mimetypes.best == "application/json":
        return {"error": str(text), "status": status}, status
    return render_template("error.html", status=status, message=text), status


def register(app: Flask) -> None:
    """Attach the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError):
        return _render(400, str(_l("The form expired or was sent from elsewhere. Reload the page and submit again.")))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _render(error.code or 500)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        db.session.rollback()
        log.exception("database error: %s", error)
        return _render(503)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        log.exception("unhandled error: %s", error)
        return _render(500)
