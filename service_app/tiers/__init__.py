"""Quarterly tier reassessment: proposals, review, approval, rule sets and reports."""

from flask import Blueprint

bp = Blueprint("tiers", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
