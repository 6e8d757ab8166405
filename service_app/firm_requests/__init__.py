"""Firms' requests (诉求): raising, the lifecycle, overdue lists."""

from flask import Blueprint

bp = Blueprint("firm_requests", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
