"""Buildings: TTM tax, tax per m² and rank against direct SQL, 亿元楼 and candidates, the trend,
scoping, search, bad input and downloads."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from service_app.extensions import db
from service_app.models import Building, Firm

from .. import factories
from .test_dashboard import TableReader, shown, signed_in, sql

TTM = ("2025Q4", "2026Q1", "2026Q2", "2026Q3")


def _ranking(client) -> dict:
    response = client.get("/buildings/charts/ranking.json")
    assert response.status_code == 200
    return response.get_json()


def test_ranking_equals_direct_sql(ctx, client, auth, dataset):
    for username in signed_in(auth, ["admin", "district_a"]):
        everyone = username == "admin"
        rows = sql(
            "SELECT b.id, b.name, b.floor_area_m2, sum(m.tax) FROM buildings b"
            " JOIN firms f ON f.building_id = b.id JOIN quarterly_metrics m ON m.firm_id = f.id"
            " WHERE m.quarter IN ('2025Q4', '2026Q1', '2026Q2', '2026Q3') AND (:everyone OR b.street_id = :street)"
            " GROUP BY b.id, b.name, b.floor_area_m2",
            everyone=everyone,
            street=dataset.street_ids["临平街道"],
        )
        per_m2 = {name: float(tax) * 10000 / float(area) for _id, name, area, tax in rows if area}
        ranked = sorted(per_m2, key=lambda name: -per_m2[name])
        data = _ranking(client)
        names = [row[0] for row in data["rows"]]
        assert names == ranked  # 丁楼 has no floor area: not ranked
        index = [c["key"] for c in data["columns"]]
        for row in data["rows"]:
            assert row[index.index("per_m2")] == pytest.approx(per_m2[row[0]], abs=0.006)
            assert row[index.index("rank")] == ranked.index(row[0]) + 1
        taxes = {name: float(tax) for _id, name, _area, tax in rows}
        assert taxes["甲楼"] >= 10_000  # the data set makes 甲楼 a 亿元楼
        page = client.get("/buildings/").text
        assert f'data-testid="mark-{dataset.building_ids["甲楼"]}"' in page
        yiyuan = client.get("/buildings/charts/yiyuan.json").get_json()
        assert [row[0] for row in yiyuan["rows"]] == [
            n for n in sorted(taxes, key=lambda n: -taxes[n]) if taxes[n] >= 8000
        ]


def test_yiyuan_and_candidates(ctx, client, auth, app):
    """A building at 1亿 TTM is flagged; one at 8,000万 is a candidate; 7,999.99 is neither."""
    street = factories.make_street("临平街道")
    factories.make_user("admin", "admin")
    for name, tax in (("亿元大厦", "2500.00"), ("候选大厦", "2000.00"), ("普通大厦", "1999.99")):
        building = Building(name=name, street_id=street.id, floor_area_m2=Decimal("10000"))
        db.session.add(building)
        db.session.flush()
        firm = factories.make_firm(street, building_id=building.id)
        for quarter in TTM:
            factories.add_metric(firm, quarter, revenue="1.00", tax=tax)
        factories.add_metric(firm, "2025Q3", revenue="1.00", tax="9999.00")  # outside the last four quarters
    db.session.commit()
    auth.login("admin")
    rows = {row[0]: row for row in client.get("/buildings/charts/yiyuan.json").get_json()["rows"]}
    assert set(rows) == {"亿元大厦", "候选大厦"}
    assert rows["亿元大厦"][2:] == [10000.0, 0.0, "亿元楼"]
    assert rows["候选大厦"][2:] == [8000.0, 2000.0, "亿元楼候选"]
    table = ranking_rows(client.get("/buildings/?mark=candidate").text)
    assert "候选大厦" in table and "亿元大厦" not in table and "普通大厦" not in table
    totals = client.get("/buildings/").text
    assert 'data-testid="total-yiyuan">1<' in totals and 'data-testid="total-candidates">1<' in totals


def test_building_page(ctx, client, auth, dataset):
    auth.login("officer_a")
    building_id = dataset.building_ids["甲楼"]
    page = client.get(f"/buildings/{building_id}")
    assert page.status_code == 200
    tiers = dict(
        sql(
            "SELECT coalesce(current_tier, 'none'), count(*) FROM firms WHERE building_id = :b GROUP BY 1",
            b=building_id,
        )
    )
    data = client.get(f"/buildings/{building_id}/charts/tiers.json").get_json()
    assert [row[1] for row in data["rows"]] == [
        tiers.get(k, 0) for k in ("key", "cultivate", "observe", "exit", "none")
    ]
    by_quarter = dict(
        sql(
            "SELECT m.quarter, sum(m.tax) FROM quarterly_metrics m JOIN firms f ON f.id = m.firm_id"
            " WHERE f.building_id = :b GROUP BY m.quarter",
            b=building_id,
        )
    )
    trend = client.get(f"/buildings/{building_id}/charts/trend.json").get_json()
    assert [row[0] for row in trend["rows"]] == ["2024Q4", *[f"2025Q{n}" for n in range(1, 5)], *TTM[1:]]
    last = trend["rows"][-1]
    ttm = sum(float(by_quarter[q]) for q in TTM)
    assert last[3] == pytest.approx(ttm, abs=0.006)
    assert last[4] == pytest.approx(ttm * 10000 / 20000, abs=0.006)
    assert trend["rows"][0][3] is None  # 2024Q4 has no four quarters of data before it
    reader = TableReader()
    reader.feed(page.text)
    for name, chart in (("tiers", data), ("trend", trend)):
        kinds = [c["kind"] for c in chart["columns"]]
        assert reader.tables[name][1:] == [[shown(v, k) for v, k in zip(r, kinds, strict=True)] for r in chart["rows"]]
    firms = db.session.scalars(sa.select(Firm.name).where(Firm.building_id == building_id)).all()
    assert all(name in page.text for name in firms[:30])


def test_other_streets_buildings_do_not_exist(ctx, client, auth, dataset):
    for _username in signed_in(auth, ["officer_a", "district_a"]):
        other = dataset.building_ids["丙楼"]
        for url in (
            f"/buildings/{other}",
            f"/buildings/{other}/charts/trend.json",
            f"/buildings/{other}/charts/tiers.xlsx",
        ):
            assert client.get(url).status_code == 404
        page = client.get("/buildings/").text
        assert "甲楼" in page and "丙楼" not in page and "丁楼" not in page


def test_supervisor_sees_every_building(client, auth, dataset):
    auth.login("supervisor")
    assert client.get(f"/buildings/{dataset.building_ids['丙楼']}").status_code == 200
    assert "丁楼" in client.get("/buildings/?sort=name").text


ODD_QUERIES = [
    "q=%25",
    "q=" + "楼" * 500,
    "sort=drop+table",
    "mark=nothing",
    "street=99999999999999",
    "street=abc",
    "page=0",
    "page=-1",
    "page=99999",
    "sort=growth",
    "sort=firms",
    "sort=tax",
]


def test_bad_or_odd_input_is_not_an_error(client, auth, dataset):
    auth.login("admin")
    for query in ODD_QUERIES:
        assert client.get(f"/buildings/?{query}").status_code == 200, query
        assert client.get(f"/buildings/{dataset.building_ids['甲楼']}?{query}").status_code == 200, query


def ranking_rows(page: str) -> str:
    """The ranking table of the buildings page (the charts above it list buildings too)."""
    return page[page.index('data-testid="buildings-table"') :]


def test_search_and_filters(client, auth, dataset):
    auth.login("admin")
    table = ranking_rows(client.get("/buildings/?q=甲").text)
    assert "甲楼" in table and "乙楼" not in table
    table = ranking_rows(client.get(f"/buildings/?street={dataset.street_ids['东湖街道']}").text)
    assert "丙楼" in table and "甲楼" not in table


def test_downloads(client, auth, dataset):
    auth.login("admin")
    for url in ("/buildings/?format=xlsx&sort=name", "/buildings/charts/ranking.xlsx", "/buildings/charts/yiyuan.xlsx"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(client.get("/buildings/?format=xlsx&sort=name").data)).worksheets[0]
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == sorted(["甲楼", "乙楼", "丙楼", "丁楼"])
    building = dataset.building_ids["甲楼"]
    for name in ("tiers", "trend"):
        data = client.get(f"/buildings/{building}/charts/{name}.json").get_json()
        sheet = load_workbook(io.BytesIO(client.get(f"/buildings/{building}/charts/{name}.xlsx").data)).worksheets[0]
        assert [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)] == data["rows"]
    assert client.get(f"/buildings/{building}/charts/other.json").status_code == 404
