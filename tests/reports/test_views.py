"""The new routes' permission matrix, the printable report in both languages, its download,
scoping of both, and CSRF on the rebalance form."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
import python_calamine

from config import TestConfig
from service_app import create_app
from service_app.extensions import db

from ..conftest import AuthActions

ROLES = ("admin", "supervisor", "o1", "district_a", None)
EVERYONE = {"admin": 200, "supervisor": 200, "o1": 200, "district_a": 200, None: 302}
MANAGERS = {"admin": 200, "supervisor": 200, "o1": 403, "district_a": 403, None: 302}
MANAGERS_FORM = {"admin": 400, "supervisor": 400, "o1": 403, "district_a": 403, None: 302}
OTHER_STREET = {"admin": 200, "supervisor": 200, "o1": 404, "district_a": 404, None: 302}

MATRIX = [
    ("GET", "/workload/", EVERYONE),
    ("GET", "/workload/?street={C}", OTHER_STREET),
    ("GET", "/workload/rebalance?source={o1}", MANAGERS),
    ("POST", "/workload/rebalance?source={o1}", MANAGERS_FORM),
    ("GET", "/reports/quarter", EVERYONE),
    ("GET", "/reports/quarter?quarter=2026Q3&street={A}", EVERYONE),
    ("GET", "/reports/quarter?street={C}", OTHER_STREET),
    ("GET", "/reports/quarter.xlsx?quarter=2026Q3", EVERYONE),
    ("GET", "/reports/quarter.xlsx?street={C}", OTHER_STREET),
]


@pytest.mark.parametrize(("method", "route", "expected"), MATRIX, ids=[f"{m}-{r}" for m, r, _ in MATRIX])
def test_permission_matrix(app, generated, method, route, expected):
    """Each role in turn (a fresh client each, so no sign-in carries over)."""
    url = route.format(**generated.streets, **generated.officers)
    found = {}
    for role in ROLES:
        client = app.test_client()
        if role:
            AuthActions(client).login(role)
        found[role] = client.open(url, method=method, data={} if method == "POST" else None).status_code
    assert found == expected


@pytest.mark.parametrize(
    ("lang", "words"),
    [("zh_CN", ["季度报告", "按服务层级和产业链统计", "同比"]), ("en", ["Quarter report", "Firms by tier and chain"])],
)
def test_report_page_renders_in_both_languages(client, auth, generated, lang, words):
    auth.login("supervisor")
    client.post("/language", data={"lang": lang})
    page = client.get("/reports/quarter?quarter=2026Q3").text
    for word in words:
        assert word in page
    assert page.count('data-testid="report-street"') == 3
    assert 'data-testid="report-summary"' in page and 'data-testid="street-overview"' in page
    assert "data-print" in page  # the print button (app.js calls window.print)
    for name in ("临平街道", "东湖街道", "塘栖镇"):
        assert name in page


def test_report_figures_on_the_page(client, auth, ctx, generated):
    from service_app.reports.services import quarter_report

    from .conftest import QUARTER

    auth.login("supervisor")
    page = client.get("/reports/quarter?quarter=2026Q3").text
    report = quarter_report(None, QUARTER)
    total = page.split('data-testid="figures-total"', 1)[1]
    assert f'data-testid="firms-total">{report.total.firms}<' in total
    assert f'data-testid="requests-opened">{report.total.requests_opened}<' in total
    assert f'data-testid="revenue">{report.total.revenue:.2f}<' in total


def test_a_district_user_sees_only_its_street(client, auth, generated):
    auth.login("district_a")
    page = client.get("/reports/quarter?quarter=2026Q3").text
    assert page.count('data-testid="report-street"') == 1
    assert 'data-testid="report-summary"' not in page  # one street: its section is the summary
    assert "临平街道" in page and "东湖街道" not in page and "塘栖镇" not in page
    response = client.get("/reports/quarter.xlsx?quarter=2026Q3")
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    assert workbook.sheet_names == ["说明", "汇总", "临平街道"]
    disposition = response.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote('临平街道_2026Q3_季度报告.xlsx')}" in disposition


def test_download_for_everyone_and_one_street(client, auth, generated):
    auth.login("supervisor")
    response = client.get("/reports/quarter.xlsx?quarter=2026年第三季度")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    assert workbook.sheet_names == ["说明", "汇总", "临平街道", "东湖街道", "塘栖镇"]
    assert quote("临平新城_2026Q3_季度报告.xlsx") in response.headers["Content-Disposition"]
    one = client.get(f"/reports/quarter.xlsx?quarter=2026Q3&street={generated.streets['B']}")
    assert python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(one.data)).sheet_names == [
        "说明",
        "汇总",
        "东湖街道",
    ]


@pytest.mark.parametrize("quarter", ["2026Q9", "nonsense", "x" * 500, "1900Q2"])
def test_a_bad_quarter_is_a_message_not_an_error(client, auth, generated, quarter):
    auth.login("o1")
    response = client.get(f"/reports/quarter?quarter={quarter}", follow_redirects=True)
    assert response.status_code == 200 and "alert-danger" in response.text
    assert client.get(f"/reports/quarter.xlsx?quarter={quarter}").status_code == 302


def test_empty_database_pages(client, auth, ctx):
    from service_app.domain.tiers import Role

    from .. import factories

    factories.make_user("boss", Role.SUPERVISOR)
    db.session.flush()
    auth.login("boss")
    for url in ("/reports/quarter", "/reports/quarter.xlsx", "/workload/"):
        assert client.get(url).status_code == 200, url
    assert 'data-testid="report-empty"' in client.get("/reports/quarter").text


def test_nav_links(client, auth, generated):
    auth.login("district_a")
    page = client.get("/").text
    assert 'href="/workload/"' in page and 'href="/reports/quarter"' in page


@pytest.fixture
def csrf_client(app, database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        WTF_CSRF_ENABLED = True

    csrf_app = create_app(Config)
    yield csrf_app.test_client()
    with csrf_app.app_context():
        db.engine.dispose()


def test_rebalance_without_csrf_token_is_refused(csrf_client):
    assert csrf_client.post("/workload/rebalance?source=1", data={"selection": "all"}).status_code == 400
