"""Exports: roster workbooks for the street offices (说明, 汇总, one sheet per tier) and packs of them."""

from flask import Blueprint

bp = Blueprint("exports", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
