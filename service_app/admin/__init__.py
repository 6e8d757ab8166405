"""Administration: users, roles and the streets they cover."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
