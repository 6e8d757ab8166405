"""Follow-ups: the officer's workspace, visits, the calendar, settings and the calendar feed."""

from flask import Blueprint

bp = Blueprint("followups", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
