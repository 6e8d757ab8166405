"""The dashboard's kept figures: a second view runs none of the figure queries, and after every kind of
writer (import, undo, proposal approval, firm edit, visit, request step, demo load) the figures equal
direct SQL again, never what was kept before the write."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from service_app.dashboard.services import Dashboard
from service_app.domain.indicators import year_to_date
from service_app.domain.industry import is_digital_core
from service_app.domain.quarters import Quarter
from service_app.domain.workdays import china_today
from service_app.extensions import db
from service_app.models import Firm, Followup, ImportBatch, Street, User

from .. import factories
from ..roster.test_import import code, roster_rows, run_import, xlsx_bytes
from .test_dashboard import CATEGORIES, TIER_KEYS, chart, column, sql

SEED_DIR = Path(__file__).resolve().parents[2] / "seed_data"


def shown(client) -> dict[str, Any]:
    """The figures the admin's dashboard charts show."""
    trend = chart(client, "key_trend")
    indicators = chart(client, "indicators")
    streets = chart(client, "tiers_by_street")
    followups = chart(client, "followups_by_street")
    transitions = chart(client, "transitions")
    return {
        "tiers": column(chart(client, "tiers"), "firms"),
        "tiers_by_street": {
            row[0]: [column(streets, t)[i] for t in TIER_KEYS] for i, row in enumerate(streets["rows"])
        },
        "transitions": [[column(transitions, t)[i] for t in TIER_KEYS] for i in range(len(transitions["rows"]))],
        "transition_quarters": (transitions["options"]["from"], transitions["options"]["to"]),
        "followups": {
            row[0]: tuple(column(followups, k)[i] for k in ("open", "overdue", "planned", "done", "visits"))
            for i, row in enumerate(followups["rows"])
        },
        "open_requests": column(chart(client, "requests_by_category"), "open"),
        "key_trend": list(
            zip(
                column(trend, "quarter"),
                column(trend, "firms"),
                [round(v, 2) for v in column(trend, "revenue")],
                [round(v, 2) for v in column(trend, "tax")],
                strict=True,
            )
        ),
        "indicators": {
            name: None if value is None else round(value, 1)
            for name, value in zip(column(indicators, "indicator"), column(indicators, "actual"), strict=True)
        },
    }


def expected(today: dt.date) -> dict[str, Any]:
    """The same figures by direct SQL over every street (the admin's scope)."""
    tiers = dict(sql("SELECT coalesce(current_tier, 'none'), count(*) FROM firms GROUP BY 1"))
    by_street: Counter[tuple[str, str]] = Counter()
    for street, tier, n in sql(
        "SELECT s.name, coalesce(f.current_tier, 'none'), count(*) FROM firms f"
        " JOIN streets s ON s.id = f.street_id GROUP BY 1, 2"
    ):
        by_street[street, tier] = n
    names = [name for (name,) in sql("SELECT name FROM streets ORDER BY id")]
    latest_tiers = sql("SELECT max(quarter) FROM tier_assignments")[0][0]
    moves: Counter[tuple[str, str]] = Counter()
    if latest_tiers:
        current = Quarter.parse(latest_tiers)
        for a, b, n in sql(
            "SELECT coalesce(a.tier, 'none'), coalesce(b.tier, 'none'), count(*) FROM firms f"
            " LEFT JOIN tier_assignments a ON a.firm_id = f.id AND a.quarter = :first"
            " LEFT JOIN tier_assignments b ON b.firm_id = f.id AND b.quarter = :second"
            " WHERE a.tier IS NOT NULL OR b.tier IS NOT NULL GROUP BY 1, 2",
            first=(current - 1).key,
            second=current.key,
        ):
            moves[a, b] = n
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    followups = {
        street: (o, late, planned, done)
        for street, o, late, planned, done in sql(
            "SELECT s.name,"
            " sum(CASE WHEN u.status = 'open' THEN 1 ELSE 0 END),"
            " sum(CASE WHEN u.status = 'open' AND u.due_date < :today THEN 1 ELSE 0 END),"
            " sum(CASE WHEN u.status <> 'cancelled' AND u.due_date BETWEEN :first AND :last THEN 1 ELSE 0 END),"
            " sum(CASE WHEN u.status = 'done' AND u.due_date BETWEEN :first AND :last THEN 1 ELSE 0 END)"
            " FROM followups u JOIN firms f ON f.id = u.firm_id JOIN streets s ON s.id = f.street_id GROUP BY 1",
            today=today,
            first=first,
            last=last,
        )
    }
    visits = dict(
        sql(
            "SELECT s.name, count(*) FROM visits v JOIN firms f ON f.id = v.firm_id JOIN streets s"
            " ON s.id = f.street_id WHERE v.visited_on BETWEEN :first AND :last GROUP BY 1",
            first=first,
            last=last,
        )
    )
    open_requests = dict(sql("SELECT category, count(*) FROM firm_requests WHERE status <> 'closed' GROUP BY 1"))
    rows = sql(
        "SELECT m.quarter, f.current_tier, f.industry_code, m.revenue, m.tax, m.rd_spend"
        " FROM quarterly_metrics m JOIN firms f ON f.id = m.firm_id"
    )
    latest = max((Quarter.parse(r[0]) for r in rows), default=None)
    trend = []
    indicators: dict[str, float | None] = {}
    if latest is not None:
        for quarter in latest.trailing(8):
            key_rows = [r for r in rows if r[0] == quarter.key and r[1] == "key"]
            trend.append(
                (
                    quarter.key,
                    len(key_rows),
                    round(sum(float(r[3] or 0) for r in key_rows), 2),
                    round(sum(float(r[4] or 0) for r in key_rows), 2),
                )
            )
        for name, metric in sql("SELECT name, metric FROM indicator_targets WHERE year = :year", year=latest.year):
            now, before = year_to_date(latest, latest.year)

            def total(quarters: list[str], field: int, core: bool = False) -> float:
                return sum(
                    float(r[field] or 0) for r in rows if r[0] in quarters and (not core or is_digital_core(r[2] or ""))
                )

            values = {
                "revenue_growth": (total(now, 3), total(before, 3)),
                "tax_growth": (total(now, 4), total(before, 4)),
                "digital_growth": (total(now, 3, core=True), total(before, 3, core=True)),
            }
            if metric == "rd_intensity":
                indicators[name] = round(total(now, 5) / total(now, 3) * 100, 1)
            else:
                current, previous = values[metric]
                indicators[name] = round((current / previous - 1) * 100, 1) if previous > 0 else None
    return {
        "tiers": [tiers.get(k, 0) for k in TIER_KEYS],
        "tiers_by_street": {name: [by_street[name, t] for t in TIER_KEYS] for name in names},
        "transitions": [[moves[a, b] for b in TIER_KEYS] for a in TIER_KEYS] if latest_tiers else [],
        "transition_quarters": (((Quarter.parse(latest_tiers) - 1).key, latest_tiers) if latest_tiers else ("", "")),
        "followups": {name: (*followups.get(name, (0, 0, 0, 0)), visits.get(name, 0)) for name in names},
        "open_requests": [open_requests.get(c, 0) for c in CATEGORIES],
        "key_trend": trend,
        "indicators": indicators,
    }


def assert_fresh(client, today: dt.date) -> dict[str, Any]:
    """The dashboard (twice: made, then kept) equals direct SQL; returns the figures."""
    figures = shown(client)
    assert figures == expected(today)
    assert shown(client) == figures
    return figures


@pytest.fixture
def admin(ctx, client, auth, dataset):
    auth.login("admin")
    return client


class Statements:
    """Counts the SELECTs sent to the database while active."""

    def __init__(self) -> None:
        self.selects: list[str] = []

    def __call__(self, _conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.selects.append(statement)


def test_a_second_view_runs_no_figure_query(ctx, dataset):
    user = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        first = Dashboard(user, dataset.today)
        figures = (first.tier_groups, first.transitions, first.quarter_sums, first.requests_by_category)
        made = len(counter.selects)
        counter.selects.clear()
        second = Dashboard(user, dataset.today)
        assert (second.tier_groups, second.transitions, second.quarter_sums, second.requests_by_category) == figures
        assert len(counter.selects) < made
        assert not any("GROUP BY" in statement.upper() for statement in counter.selects)
        # Another scope is its own figure; another day makes the day's counts again.
        district = db.session.scalars(sa.select(User).where(User.username == "district_a")).one()
        assert Dashboard(district, dataset.today).tier_groups != figures[0]
        counter.selects.clear()
        assert Dashboard(user, dataset.today + dt.timedelta(days=1)).requests_by_category is not None
        assert any("GROUP BY" in statement.upper() for statement in counter.selects)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)


def test_figures_within_a_writing_transaction_include_its_writes(ctx, dataset):
    user = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
    before = sum(Dashboard(user, dataset.today).tier_counts()[None].values())
    factories.make_firm(db.session.get(Street, dataset.street_ids["南苑街道"]))
    db.session.flush()
    assert sum(Dashboard(user, dataset.today).tier_counts()[None].values()) == before + 1
    db.session.rollback()
    assert sum(Dashboard(user, dataset.today).tier_counts()[None].values()) == before


def test_import_and_its_undo(admin, app, runner, dataset, tmp_path):
    before = assert_fresh(admin, dataset.today)
    with app.app_context():
        key_firm = db.session.scalars(
            sa.select(Firm).where(Firm.current_tier == "key", Firm.street_id == dataset.street_ids["临平街道"])
        ).first()
        assert key_firm is not None
        existing = [key_firm.credit_code, key_firm.name]
    rows = roster_rows(4)
    rows[0][1:3] = existing  # an existing key-service firm's 2026Q3 figures, and four new firms
    rows[0][12] = 99999
    result, _summary = run_import(runner, tmp_path, xlsx_bytes(rows))
    assert result.exit_code == 0, result.output
    imported = assert_fresh(admin, dataset.today)
    assert imported["key_trend"] != before["key_trend"] and imported["tiers"] != before["tiers"]
    with app.app_context():
        from service_app.roster.services import undo_import

        batch = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id.desc())).first()
        undo_import(batch, None, "test")
        db.session.commit()
        assert db.session.scalar(sa.select(Firm.id).where(Firm.credit_code == code(2))) is None
    assert assert_fresh(admin, dataset.today) == before


def test_approving_a_proposal(admin, app, dataset):
    from service_app.tiers.services import apply_proposal, propose_tiers

    before = assert_fresh(admin, dataset.today)
    with app.app_context():
        proposal = propose_tiers(Quarter(2026, 4))
        apply_proposal(proposal, None)
        db.session.commit()
    after = assert_fresh(admin, dataset.today)
    assert after["transition_quarters"] == ("2026Q3", "2026Q4") != before["transition_quarters"]
    assert after["key_trend"] != before["key_trend"]


def test_editing_a_firm(admin, app, dataset):
    from ..test_firms import firm_form, version_of

    before = assert_fresh(admin, dataset.today)
    with app.app_context():
        firm = db.session.scalars(
            sa.select(Firm).where(Firm.street_id == dataset.street_ids["临平街道"], Firm.current_tier == "key")
        ).first()
        assert firm is not None
        firm_id, credit_code = firm.id, firm.credit_code
    version = version_of(admin.get(f"/firms/{firm_id}/edit").text)
    form = firm_form(
        dataset.street_ids["东湖街道"], credit_code=credit_code, industry_code="I6513", chain="tech", version=version
    )
    assert admin.post(f"/firms/{firm_id}/edit", data=form).status_code == 302
    after = assert_fresh(admin, dataset.today)
    assert after["tiers_by_street"] != before["tiers_by_street"]


def test_logging_a_visit_and_moving_a_request(ctx, client, auth, app, dataset):
    before = assert_fresh_for_admin(client, auth, dataset)
    with app.app_context():
        followup = db.session.scalars(
            sa.select(Followup)
            .join(Firm, Firm.id == Followup.firm_id)
            .where(Followup.status == "open", Firm.street_id == dataset.street_ids["临平街道"])
            .order_by(Followup.due_date)
        ).first()
        assert followup is not None
        followup_id = followup.id
        request_id = sql(
            "SELECT r.id FROM firm_requests r JOIN firms f ON f.id = r.firm_id"
            " WHERE r.status = 'received' AND f.street_id = :street",
            street=dataset.street_ids["临平街道"],
        )[0][0]
    auth.logout()
    auth.login("officer_a")
    visit = {
        "visit-visited_on": dataset.today.isoformat(),
        "visit-kind": "onsite",
        "visit-participants": "张经理",
        "visit-notes": "",
        "visit-request_category": "talent",
        "visit-request_urgency": "normal",
        "visit-request_description": "招聘困难",
    }
    assert client.post(f"/followups/{followup_id}/visit", data=visit).status_code == 302
    step = {"target": "assigned", "owner_department": "区人社局"}
    assert client.post(f"/requests/{request_id}", data=step).status_code == 302
    after = assert_fresh_for_admin(client, auth, dataset)
    assert after["followups"] != before["followups"] and after["open_requests"] != before["open_requests"]


def assert_fresh_for_admin(client, auth, dataset) -> dict[str, Any]:
    auth.logout()
    auth.login("admin")
    return assert_fresh(client, dataset.today)


def test_loading_the_demo(ctx, client, auth, app, world):
    from service_app.demo.services import load_demo

    auth.login("admin")
    today = china_today()
    before = assert_fresh(client, today)
    with app.app_context():
        load_demo(SEED_DIR)
        db.session.commit()
    after = assert_fresh(client, today)
    assert after["tiers"] != before["tiers"] and after["key_trend"] != before["key_trend"]
