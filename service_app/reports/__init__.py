"""The quarter report: a printable page and a workbook summarising a quarter per street."""

from flask import Blueprint

bp = Blueprint("reports", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
