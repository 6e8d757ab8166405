"""The firm list's 导出 Excel download: every role, scoped, with the list's filters."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
import python_calamine

from service_app.domain.tiers import Role

from .. import factories

STREET_COLUMN = 6  # 序号, 统一社会信用代码, 企业名称, 工商注册号, 所属产业链, 国民经济行业代码, 所在街道


def firms_in(data: bytes) -> list[list[object]]:
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [row for name in workbook.sheet_names[2:] for row in workbook.get_sheet_by_name(name).to_python()[1:]]


@pytest.mark.parametrize(
    ("role", "streets", "expected"),
    [
        (Role.ADMIN, [], 5),
        (Role.SUPERVISOR, [], 5),
        (Role.OFFICER, ["临平街道"], 3),
        (Role.DISTRICT, ["塘栖镇"], 2),
    ],
)
def test_every_role_downloads_its_own_firms(client, auth, roster, role, streets, expected):
    factories.make_user("someone", role, [roster["east"] if s == "临平街道" else roster["west"] for s in streets])
    auth.login("someone")
    response = client.get("/exports/roster.xlsx?quarter=2026Q4")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    rows = firms_in(response.data)
    assert len(rows) == expected
    if streets:
        assert {row[STREET_COLUMN] for row in rows} == set(streets)


def test_download_carries_the_list_filters_and_a_chinese_name(client, auth, roster):
    factories.make_user("li", Role.DISTRICT, [roster["west"]])
    auth.login("li")
    page = client.get("/firms/?tier=exit&page=2").get_data(as_text=True)
    assert 'href="/exports/roster.xlsx?tier=exit"' in page
    response = client.get("/exports/roster.xlsx?tier=exit&quarter=2026Q4")
    assert len(firms_in(response.data)) == 1
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('塘栖镇_2026Q4_企业分类名录.xlsx')}" in disposition
    assert 'filename="roster_2026Q4.xlsx"' in disposition


def test_another_streets_filter_gives_nothing(client, auth, roster):
    factories.make_user("li", Role.DISTRICT, [roster["west"]])
    auth.login("li")
    response = client.get(f"/exports/roster.xlsx?street={roster['east'].id}&quarter=2026Q4")
    assert response.status_code == 200 and firms_in(response.data) == []


def test_signed_out_and_bad_quarter(client, auth, roster):
    assert client.get("/exports/roster.xlsx").status_code in (302, 401)
    factories.make_user("boss", Role.SUPERVISOR)
    auth.login("boss")
    assert client.get("/exports/roster.xlsx?quarter=2026Q9").status_code == 400
