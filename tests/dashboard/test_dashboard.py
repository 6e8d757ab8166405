"""The dashboard's figures against direct SQL over a generated data set, for each kind of user; the
charts' data against their tables and downloads; scoping, empty databases and both languages."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from service_app.dashboard.charts import CHARTS
from service_app.domain.industry import is_digital_core
from service_app.extensions import db

from .. import factories
from .conftest import LATEST, beijing_day

TIER_KEYS = ["key", "cultivate", "observe", "exit", "none"]
CHAINS = ["fashion", "trade", "tech", "other"]
CATEGORIES = ["ip", "university", "tech_transfer", "mentor", "financing", "talent", "space", "policy", "other"]
USERS = ["admin", "supervisor", "officer_a", "district_a"]


def sql(query: str, **params: Any) -> list[Any]:
    """Rows of a hand-written query (dates bound as dates on both databases)."""
    statement = sa.text(query).bindparams(
        *(sa.bindparam(name, type_=sa.Date) for name, value in params.items() if isinstance(value, dt.date))
    )
    return list(db.session.execute(statement, params))


def scope(dataset, username: str) -> dict[str, Any]:
    """Parameters of the hand-written scope `(:everyone OR f.street_id = :street)`."""
    return {"everyone": username in ("admin", "supervisor"), "street": dataset.street_ids["临平街道"]}


def street_ids(dataset, username: str) -> list[int]:
    ids = sorted(dataset.street_ids.values())
    return ids if username in ("admin", "supervisor") else [dataset.street_ids["临平街道"]]


def signed_in(auth, usernames):
    """Sign in as each user in turn (one data set for all: building it is the slow part)."""
    for username in usernames:
        auth.logout()
        auth.login(username)
        yield username


def chart(client, name: str) -> dict[str, Any]:
    response = client.get(f"/dashboard/charts/{name}.json")
    assert response.status_code == 200
    return response.get_json()


def column(data: dict[str, Any], key: str) -> list[Any]:
    index = [c["key"] for c in data["columns"]].index(key)
    return [row[index] for row in data["rows"]]


def test_tier_figures_equal_direct_sql(ctx, client, auth, dataset):
    for username in signed_in(auth, USERS):
        where = scope(dataset, username)
        overall = dict(
            sql(
                "SELECT coalesce(current_tier, 'none'), count(*) FROM firms f"
                " WHERE (:everyone OR f.street_id = :street) GROUP BY 1",
                **where,
            )
        )
        assert column(chart(client, "tiers"), "firms") == [overall.get(k, 0) for k in TIER_KEYS]

        by_street = Counter()
        for street, tier, n in sql(
            "SELECT street_id, coalesce(current_tier, 'none'), count(*) FROM firms f"
            " WHERE (:everyone OR f.street_id = :street) GROUP BY 1, 2",
            **where,
        ):
            by_street[street, tier] = n
        data = chart(client, "tiers_by_street")
        assert len(data["rows"]) == len(street_ids(dataset, username))
        for row_index, street in enumerate(street_ids(dataset, username)):
            for tier in TIER_KEYS:
                assert column(data, tier)[row_index] == by_street[street, tier]
            assert column(data, "total")[row_index] == sum(by_street[street, t] for t in TIER_KEYS)

        by_chain = Counter()
        for chain, tier, n in sql(
            "SELECT coalesce(chain, '-'), coalesce(current_tier, 'none'), count(*) FROM firms f"
            " WHERE (:everyone OR f.street_id = :street) GROUP BY 1, 2",
            **where,
        ):
            by_chain[chain, tier] = n
        data = chart(client, "tiers_by_chain")
        for row_index, chain in enumerate([*CHAINS, "-"][: len(data["rows"])]):
            assert [column(data, t)[row_index] for t in TIER_KEYS] == [by_chain[chain, t] for t in TIER_KEYS]


def test_transition_figures_equal_direct_sql(ctx, client, auth, dataset):
    for username in signed_in(auth, USERS):
        counts = Counter()
        for a, b, n in sql(
            "SELECT coalesce(a.tier, 'none'), coalesce(b.tier, 'none'), count(*) FROM firms f"
            " LEFT JOIN tier_assignments a ON a.firm_id = f.id AND a.quarter = '2026Q2'"
            " LEFT JOIN tier_assignments b ON b.firm_id = f.id AND b.quarter = '2026Q3'"
            " WHERE (:everyone OR f.street_id = :street) AND (a.tier IS NOT NULL OR b.tier IS NOT NULL) GROUP BY 1, 2",
            **scope(dataset, username),
        ):
            counts[a, b] = n
        data = chart(client, "transitions")
        assert data["options"]["from"] == "2026Q2" and data["options"]["to"] == "2026Q3"
        for row_index, source in enumerate(TIER_KEYS):
            assert [column(data, t)[row_index] for t in TIER_KEYS] == [counts[source, t] for t in TIER_KEYS]
        assert sum(column(data, "total")) == sum(counts.values())


def test_followup_figures_equal_direct_sql(ctx, client, auth, dataset):
    for username in signed_in(auth, USERS):
        today = dataset.today
        first = today.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        where = scope(dataset, username)
        expected = {
            street: (o, late, planned, done)
            for street, o, late, planned, done in sql(
                "SELECT f.street_id,"
                " sum(CASE WHEN u.status = 'open' THEN 1 ELSE 0 END),"
                " sum(CASE WHEN u.status = 'open' AND u.due_date < :today THEN 1 ELSE 0 END),"
                " sum(CASE WHEN u.status <> 'cancelled' AND u.due_date BETWEEN :first AND :last THEN 1 ELSE 0 END),"
                " sum(CASE WHEN u.status = 'done' AND u.due_date BETWEEN :first AND :last THEN 1 ELSE 0 END)"
                " FROM followups u JOIN firms f ON f.id = u.firm_id"
                " WHERE (:everyone OR f.street_id = :street) GROUP BY f.street_id",
                today=today,
                first=first,
                last=last,
                **where,
            )
        }
        visits = dict(
            sql(
                "SELECT f.street_id, count(*) FROM visits v JOIN firms f ON f.id = v.firm_id"
                " WHERE (:everyone OR f.street_id = :street) AND v.visited_on BETWEEN :first AND :last"
                " GROUP BY f.street_id",
                first=first,
                last=last,
                **where,
            )
        )
        data = chart(client, "followups_by_street")
        for row_index, street in enumerate(street_ids(dataset, username)):
            o, late, planned, done = expected.get(street, (0, 0, 0, 0))
            got = [column(data, k)[row_index] for k in ("open", "overdue", "planned", "done", "visits")]
            assert got == [o, late, planned, done, visits.get(street, 0)]

        by_officer = dict(
            sql(
                "SELECT coalesce(u.officer_id, 0), count(*) FROM followups u JOIN firms f ON f.id = u.firm_id"
                " WHERE (:everyone OR f.street_id = :street) AND u.status = 'open' AND u.due_date < :today GROUP BY 1",
                today=today,
                **where,
            )
        )
        data = chart(client, "overdue_by_officer")
        assert sum(column(data, "overdue")) == sum(by_officer.values())
        assert column(data, "overdue") == sorted(column(data, "overdue"), reverse=True)
        if username == "district_a":  # officer_b works in the other streets only
            assert all(label != '=HYPERLINK("http://x")' for label in column(data, "officer"))


def test_request_figures_equal_direct_sql(ctx, client, auth, dataset):
    for username in signed_in(auth, USERS):
        rows = sql(
            "SELECT r.id, r.category, r.status, r.deadline, r.received_on, r.satisfaction, s.created_at"
            " FROM firm_requests r JOIN firms f ON f.id = r.firm_id"
            " LEFT JOIN request_steps s ON s.request_id = r.id AND s.status = 'resolved'"
            " WHERE (:everyone OR f.street_id = :street)",
            **scope(dataset, username),
        )
        unresolved = {"received", "assigned", "in_progress"}
        expected: dict[str, list[Any]] = {c: [0, 0, 0, 0.0] for c in CATEGORIES}
        answers = Counter()
        for _id, category, status, deadline, received, satisfaction, resolved_at in rows:
            deadline = deadline if isinstance(deadline, dt.date) else dt.date.fromisoformat(deadline)
            received = received if isinstance(received, dt.date) else dt.date.fromisoformat(received)
            figures = expected[category]
            figures[0] += status != "closed"
            figures[1] += status in unresolved and deadline < dataset.today
            if resolved_at is not None:
                moment = resolved_at if isinstance(resolved_at, dt.datetime) else dt.datetime.fromisoformat(resolved_at)
                figures[2] += 1
                figures[3] += (beijing_day(moment) - received).days
            if satisfaction:
                answers[satisfaction] += 1
        data = chart(client, "requests_by_category")
        assert column(data, "open") == [expected[c][0] for c in CATEGORIES]
        assert column(data, "overdue") == [expected[c][1] for c in CATEGORIES]
        assert column(data, "resolved") == [expected[c][2] for c in CATEGORIES]
        for got, (_o, _l, resolved, days) in zip(column(data, "days"), expected.values(), strict=True):
            assert got == (pytest.approx(days / resolved, abs=0.006) if resolved else None)
        data = chart(client, "satisfaction")
        assert column(data, "requests") == [answers[s] for s in ("satisfied", "mostly", "dissatisfied")]
        assert any(column(data, "requests"))


def test_trend_and_indicators_equal_direct_sql(ctx, client, auth, dataset):
    for username in signed_in(auth, USERS):
        rows = sql(
            "SELECT m.quarter, f.industry_code, f.current_tier, m.revenue, m.tax, m.rd_spend"
            " FROM quarterly_metrics m JOIN firms f ON f.id = m.firm_id WHERE (:everyone OR f.street_id = :street)",
            **scope(dataset, username),
        )

        def total(quarters, *, field: int, key_only=False, core_only=False, rows=rows) -> float:
            return sum(
                float(r[field])
                for r in rows
                if r[0] in quarters and (not key_only or r[2] == "key") and (not core_only or is_digital_core(r[1]))
            )

        data = chart(client, "key_trend")
        assert column(data, "quarter") == [q.key for q in LATEST.trailing(8)]
        for quarter, revenue, tax in zip(
            column(data, "quarter"), column(data, "revenue"), column(data, "tax"), strict=True
        ):
            assert revenue == pytest.approx(total({quarter}, field=3, key_only=True), abs=0.006)
            assert tax == pytest.approx(total({quarter}, field=4, key_only=True), abs=0.006)

        now, before = {"2026Q1", "2026Q2", "2026Q3"}, {"2025Q1", "2025Q2", "2025Q3"}
        expected = {
            "revenue_growth": (total(now, field=3) / total(before, field=3) - 1) * 100,
            "tax_growth": (total(now, field=4) / total(before, field=4) - 1) * 100,
            "digital_growth": (total(now, field=3, core_only=True) / total(before, field=3, core_only=True) - 1) * 100,
            "rd_intensity": total(now, field=5) / total(now, field=3) * 100,
        }
        data = chart(client, "indicators")
        names = column(data, "indicator")
        for metric, value in expected.items():
            assert column(data, "actual")[names.index(f"目标 {metric}")] == pytest.approx(value, abs=0.051)
        assert set(column(data, "period")) == {"2026Q1–2026Q3"}


def test_district_users_see_only_their_street(ctx, client, auth, dataset):
    auth.login("district_a")
    page = client.get("/").text
    assert "临平街道" in page
    assert "东湖街道" not in page and "南苑街道" not in page
    (firms,) = sql("SELECT count(*) FROM firms WHERE street_id = :street", street=dataset.street_ids["临平街道"])[0]
    assert sum(column(chart(client, "tiers"), "firms")) == firms
    for name in ("tiers_by_street", "followups_by_street"):
        assert column(chart(client, name), column_key(name)) == ["临平街道"]


def column_key(name: str) -> str:
    return {"tiers_by_street": "group", "followups_by_street": "street"}[name]


class TableReader(HTMLParser):
    """The text of every cell of the chart tables on a page, by table name."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and (attributes.get("data-testid") or "").startswith("table-"):
            self._table = attributes["data-testid"].removeprefix("table-")
            self.tables[self._table] = []
        elif self._table and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def shown(value: Any, kind: str) -> str:
    """A JSON value as the table shows it."""
    if value is None:
        return "—"
    return {"count": "{:,}", "decimal": "{:,.2f}", "percent": "{:,.1f}"}.get(kind, "{}").format(value)


def test_each_chart_endpoint_returns_what_its_table_shows(client, auth, dataset):
    for _username in signed_in(auth, ["admin", "district_a"]):
        reader = TableReader()
        reader.feed(client.get("/").text)
        for name in CHARTS:
            data = chart(client, name)
            table = reader.tables[name]
            assert table[0] == [c["label"] for c in data["columns"]], name
            kinds = [c["kind"] for c in data["columns"]]
            assert table[1:] == [[shown(v, k) for v, k in zip(row, kinds, strict=True)] for row in data["rows"]], name


def test_each_chart_downloads_its_rows_as_xlsx(client, auth, dataset):
    auth.login("admin")
    for name in CHARTS:
        data = chart(client, name)
        response = client.get(f"/dashboard/charts/{name}.xlsx")
        assert response.status_code == 200
        assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert "attachment" in response.headers["Content-Disposition"]
        sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert rows[0] == [c["label"] for c in data["columns"]], name
        assert rows[1:] == data["rows"], name
    # Text Excel would evaluate stays text.
    sheet = load_workbook(io.BytesIO(client.get("/dashboard/charts/overdue_by_officer.xlsx").data)).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=2) if str(row[0].value).startswith("=")]
    assert cells and all(cell.data_type == "s" and cell.quotePrefix for cell in cells)


def test_unknown_chart_is_404(client, auth, dataset):
    auth.login("admin")
    assert client.get("/dashboard/charts/nothing.json").status_code == 404
    assert client.get("/dashboard/charts/nothing.xlsx").status_code == 404
    assert client.get("/dashboard/charts/tiers.csv").status_code == 404


@pytest.mark.parametrize("role", ["admin", "officer", "district"])
def test_empty_database_renders(client, auth, app, role):
    with app.app_context():
        street = factories.make_street("临平街道")
        factories.make_user("someone", role, [street] if role != "admin" else [])
        db.session.commit()
    auth.login("someone")
    page = client.get("/")
    assert page.status_code == 200
    assert "—" in page.text
    for name in CHARTS:
        assert client.get(f"/dashboard/charts/{name}.json").status_code == 200
        assert client.get(f"/dashboard/charts/{name}.xlsx").status_code == 200
    for url in (
        "/buildings/",
        "/buildings/?format=xlsx",
        "/buildings/charts/ranking.json",
        "/buildings/charts/yiyuan.xlsx",
    ):
        assert client.get(url).status_code == 200


def test_home_after_sign_in_is_the_dashboard(client, auth, dataset):
    response = auth.login("officer_a")
    assert response.location == "/"
    assert 'data-testid="chart-tiers"' in client.get("/").text


def test_renders_in_chinese_and_english(client, auth, dataset):
    auth.login("admin")
    page = client.get("/").text
    assert "数据看板" in page and "重点服务" in page and "分层变动" in page
    assert chart(client, "tiers")["rows"][0][0] == "重点服务"
    client.post("/language", data={"lang": "en"})
    page = client.get("/").text
    assert "Dashboard" in page and "Tier changes 2026Q2 → 2026Q3" in page
    assert chart(client, "tiers")["rows"][0][0] == "Key service"
    assert chart(client, "tiers")["columns"][1]["label"] == "Firms"


def test_requests_page_figures_match(ctx, client, auth, dataset):
    """The dashboard's overdue requests are the requests page's overdue filter."""
    auth.login("admin")
    (overdue,) = sql(
        "SELECT count(*) FROM firm_requests WHERE status IN ('received', 'assigned', 'in_progress')"
        " AND deadline < :today",
        today=dataset.today,
    )[0]
    assert sum(column(chart(client, "requests_by_category"), "overdue")) == overdue
    assert f"({overdue})" in client.get("/requests/").text or str(overdue) in client.get("/requests/").text
