"""Error pages: a message a person can act on, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)

#: What a database that does not answer raises: a refused or dropped connection, a full pool,
#: SQLite's lock held past the busy timeout.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
#: Seconds a client is told to wait before trying again after a 503.
RETRY_AFTER_SECONDS = 30

MESSAGES = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You do not have permission to do this. Ask an administrator if you need it."),
    404: _l("This page does not exist, or it is outside the streets you cover."),
    405: _l("This action is not allowed here."),
    413: _l("The file is too large. Split it into smaller files and upload again."),
    429: _l("Too many attempts. Wait a few minutes and try again."),
    500: _l("Something went wrong on our side. Nothing was saved; please try again."),
    503: _l("The database is not reachable just now. Nothing was saved; try again in a minute."),
}


def _render(status: int, message: str | None = None):
    text = message or MESSAGES.get(status) or MESSAGES[500]
    if request.accept_mimetypes.best == "application/json":
        return {"error": str(text), "status": status}, status
    return render_template("error.html", status=status, message=text), status


def _unavailable(message: str):
    """A 503 that renders without the database: the session is dropped and the page shows no user
    (loading one, or the bell's count, would ask the database again)."""
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool replaces it
        log.debug("rollback after a lost connection failed", exc_info=True)
    g._login_user = AnonymousUserMixin()
    response, status = _render(503, str(message))
    return response, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def register(app: Flask) -> None:
    """Attach the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError):
        return _render(400, str(_l("The form expired or was sent from elsewhere. Reload the page and submit again.")))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _render(error.code or 500)

    def database_unavailable(error: Exception):
        log.error("database unavailable: %s", error)
        return _unavailable(MESSAGES[503])

    for exception in DATABASE_UNAVAILABLE:
        app.register_error_handler(exception, database_unavailable)

    @app.errorhandler(StorageError)
    def limits_unavailable(error: StorageError):
        log.error("rate-limit storage unavailable: %s", error.storage_error)
        return _unavailable(
            _l("Sign-in is unavailable just now (its counter store does not answer). Try again in a minute.")
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        log.exception("unhandled error: %s", error)
        return _render(500)
