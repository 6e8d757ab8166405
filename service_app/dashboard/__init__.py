"""The dashboard (the home page after sign-in), its charts' data and downloads, and the
annual indicator targets admins set."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
