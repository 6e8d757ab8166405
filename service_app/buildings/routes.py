"""The buildings ranking and each building's page, with their charts' data and downloads."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..charts import ChartTable, xlsx_response
from ..dashboard.services import latest_metric_quarter
from ..domain.quarters import Quarter
from ..scoping import visible_streets
from ..security import db_id
from . import bp
from .charts import TOP, mark_label, ranking_table, tier_mix_table, trend_table, yiyuan_table
from .services import (
    SORTS,
    BuildingFigures,
    RankingFilters,
    building_figures,
    building_firms,
    paginate_list,
    paginate_rows,
    quarterly_tax,
    ranking,
    ranking_totals,
    tier_mix,
    yiyuan_buildings,
)

MARKS = ("yiyuan", "candidate", "key", "star")


def _filters() -> RankingFilters:
    args = request.args
    mark = args.get("mark", "")
    sort = args.get("sort", "")
    return RankingFilters(
        q=args.get("q", "")[:100].strip(),
        street_id=args.get("street", type=db_id),
        mark=mark if mark in MARKS else "",
        sort=sort if sort in SORTS else "per_m2",
    )


def _ranking_chart(buildings: list[BuildingFigures]) -> ChartTable:
    ranked = [b for b in ranking(buildings, RankingFilters()) if b.per_m2 is not None]
    return ranking_table(ranked[:TOP], "ranking", _("Top %(n)s buildings by tax per m²", n=TOP))


LIST_CHARTS: dict[str, Callable[[list[BuildingFigures]], ChartTable]] = {
    "ranking": _ranking_chart,
    "yiyuan": lambda buildings: yiyuan_table(yiyuan_buildings(buildings)),
}


def _data_key(latest: Quarter | None) -> str:
    return latest.key if latest else ""


@bp.route("/")
@login_required
def index():
    """Buildings ranked by tax per m² over the last four quarters: search, filters, pages, download."""
    latest = latest_metric_quarter()
    buildings = building_figures(current_user, latest)
    filters = _filters()
    found = ranking(buildings, filters)
    if request.args.get("format") == "xlsx":
        return xlsx_response(ranking_table(found, "buildings", _("Buildings ranked by tax per m²")), _data_key(latest))
    return render_template(
        "buildings/index.html",
        page=paginate_list(found, request.args.get("page", 1, type=db_id) or 1, 30),
        filters=filters,
        charts={name: build(buildings) for name, build in LIST_CHARTS.items()},
        totals=ranking_totals(buildings),
        streets=visible_streets(current_user),
        latest=latest,
        marks=MARKS,
        export_args={k: v for k, v in request.args.items() if k not in ("page", "format")},
        mark_label=mark_label,
    )


def _list_chart(name: str) -> tuple[ChartTable, Quarter | None]:
    build = LIST_CHARTS.get(name) or abort(404)
    latest = latest_metric_quarter()
    return build(building_figures(current_user, latest)), latest


@bp.route("/charts/<name>.json")
@login_required
def chart_data(name: str):
    """The ranking chart's or the 亿元楼 chart's rows."""
    return jsonify(_list_chart(name)[0].as_json())


@bp.route("/charts/<name>.xlsx")
@login_required
def chart_xlsx(name: str):
    """The ranking chart's or the 亿元楼 chart's rows as a workbook."""
    table, latest = _list_chart(name)
    return xlsx_response(table, _data_key(latest))


def _building_or_404(building_id: int) -> tuple[BuildingFigures, Quarter | None]:
    latest = latest_metric_quarter()
    found = [b for b in building_figures(current_user, latest) if b.id == building_id]
    if not found:
        abort(404)  # another street's building does not exist
    return found[0], latest


def _building_charts(building: BuildingFigures, latest: Quarter | None) -> dict[str, Callable[[], ChartTable]]:
    return {
        "tiers": lambda: tier_mix_table(tier_mix(current_user, building.id), building.id),
        "trend": lambda: trend_table(
            quarterly_tax(current_user, building.id, latest, 11) if latest else {}, latest, building.area
        ),
    }


@bp.route("/<int:building_id>")
@login_required
def detail(building_id: int):
    """One building: its figures and rank, tier mix, tax-per-m² trend and firms."""
    building, latest = _building_or_404(building_id)
    q = request.args.get("q", "")[:100].strip()
    firms = paginate_rows(
        building_firms(current_user, building_id, latest, q), request.args.get("page", 1, type=db_id) or 1, 30
    )
    return render_template(
        "buildings/detail.html",
        building=building,
        latest=latest,
        charts={name: build() for name, build in _building_charts(building, latest).items()},
        firms=firms,
        q=q,
        mark_label=mark_label,
    )


def _building_chart(building_id: int, name: str) -> tuple[ChartTable, Quarter | None]:
    building, latest = _building_or_404(building_id)
    build = _building_charts(building, latest).get(name) or abort(404)
    return build(), latest


@bp.route("/<int:building_id>/charts/<name>.json")
@login_required
def building_chart_data(building_id: int, name: str):
    """A building chart's rows."""
    return jsonify(_building_chart(building_id, name)[0].as_json())


@bp.route("/<int:building_id>/charts/<name>.xlsx")
@login_required
def building_chart_xlsx(building_id: int, name: str):
    """A building chart's rows as a workbook."""
    table, latest = _building_chart(building_id, name)
    return xlsx_response(table, _data_key(latest))
