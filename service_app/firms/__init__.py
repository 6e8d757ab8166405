"""The firm roster: list, search, detail, create and edit."""

from flask import Blueprint

bp = Blueprint("firms", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
