"""Roster import and export."""

from flask import Blueprint

bp = Blueprint("roster", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
