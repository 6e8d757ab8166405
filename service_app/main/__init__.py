"""Language switch, health check and notifications."""

from flask import Blueprint

bp = Blueprint("main", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
