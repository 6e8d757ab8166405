"""The buildings ranking and each building's page, with their charts' data and downloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..charts import ChartTable, to_float, xlsx_response
from ..dashboard.services import latest_metric_quarter
from ..domain.indicators import building_class
from ..domain.quarters import Quarter
from ..extensions import db
from ..scoping import visible_streets
from ..security import db_id
from . import bp
from .charts import TOP, mark_label, ranking_table, tier_mix_table, trend_table, yiyuan_table
from .services import (
    SORTS,
    RankingFilters,
    building_firms,
    building_row,
    figures,
    paginate_rows,
    quarterly_tax,
    ranking_query,
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


def _ranking_chart(ranked: Any) -> ChartTable:
    ranked_only = ranking_query(ranked, RankingFilters()).where(ranked.c.per_m2.is_not(None))
    rows = db.session.execute(ranked_only.limit(TOP)).all()
    return ranking_table(rows, "ranking", _("Top %(n)s buildings by tax per m²", n=TOP))


LIST_CHARTS: dict[str, Callable[[Any], ChartTable]] = {
    "ranking": _ranking_chart,
    "yiyuan": lambda ranked: yiyuan_table(yiyuan_buildings(ranked)),
}


@bp.route("/")
@login_required
def index():
    """Buildings ranked by tax per m² over the last four quarters: search, filters, pages, download."""
    latest = latest_metric_quarter()
    ranked = figures(current_user, latest)
    filters = _filters()
    if request.args.get("format") == "xlsx":
        rows = db.session.execute(ranking_query(ranked, filters)).all()
        table = ranking_table(rows, "buildings", _("Buildings ranked by tax per m²"))
        return xlsx_response(table, latest.key if latest else "")
    page = paginate_rows(ranking_query(ranked, filters), request.args.get("page", 1, type=db_id), 30)
    return render_template(
        "buildings/index.html",
        page=page,
        filters=filters,
        charts={name: build(ranked) for name, build in LIST_CHARTS.items()},
        totals=ranking_totals(ranked),
        streets=visible_streets(current_user),
        latest=latest,
        marks=MARKS,
        export_args={k: v for k, v in request.args.items() if k not in ("page", "format")},
        mark_label=mark_label,
        building_class=building_class,
        to_float=to_float,
    )


@bp.route("/charts/<name>.json")
@login_required
def chart_data(name: str):
    """The ranking chart's or the 亿元楼 chart's rows."""
    build = LIST_CHARTS.get(name) or abort(404)
    return jsonify(build(figures(current_user, latest_metric_quarter())).as_json())


@bp.route("/charts/<name>.xlsx")
@login_required
def chart_xlsx(name: str):
    """The ranking chart's or the 亿元楼 chart's rows as a workbook."""
    build = LIST_CHARTS.get(name) or abort(404)
    latest = latest_metric_quarter()
    return xlsx_response(build(figures(current_user, latest)), latest.key if latest else "")


def _building_or_404(building_id: int) -> tuple[Any, Quarter | None]:
    latest = latest_metric_quarter()
    row = building_row(figures(current_user, latest), building_id)
    if row is None:
        abort(404)  # another street's building does not exist
    return row, latest


def _building_charts(row: Any, latest: Quarter | None) -> dict[str, Callable[[], ChartTable]]:
    return {
        "tiers": lambda: tier_mix_table(tier_mix(current_user, row.id), row.id),
        "trend": lambda: trend_table(
            quarterly_tax(current_user, row.id, latest, 11) if latest else {}, latest, to_float(row.area)
        ),
    }


@bp.route("/<int:building_id>")
@login_required
def detail(building_id: int):
    """One building: its figures and rank, tier mix, tax-per-m² trend and firms."""
    row, latest = _building_or_404(building_id)
    q = request.args.get("q", "")[:100].strip()
    firms = paginate_rows(
        building_firms(current_user, building_id, latest, q), request.args.get("page", 1, type=db_id), 30
    )
    return render_template(
        "buildings/detail.html",
        building=row,
        latest=latest,
        charts={name: build() for name, build in _building_charts(row, latest).items()},
        firms=firms,
        q=q,
        mark=building_class(to_float(row.tax_ttm)),
        mark_label=mark_label,
        to_float=to_float,
    )


def _building_chart(building_id: int, name: str) -> tuple[ChartTable, Quarter | None]:
    row, latest = _building_or_404(building_id)
    build = _building_charts(row, latest).get(name) or abort(404)
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
    return xlsx_response(table, latest.key if latest else "")
