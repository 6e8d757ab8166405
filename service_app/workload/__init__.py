"""Officers' workload: firms, follow-ups, requests and visits per officer, and bulk rebalancing."""

from flask import Blueprint

bp = Blueprint("workload", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401 - routes attach themselves to bp
