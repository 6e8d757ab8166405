"""楼宇经济: the buildings ranking, 亿元楼 and candidates, and each building's page."""

from flask import Blueprint

bp = Blueprint("buildings", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
