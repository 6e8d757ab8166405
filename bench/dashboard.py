"""Benchmark: the dashboard over 30,000 firms with eight quarters of metrics.

    .venv/bin/python bench/dashboard.py [--firms 30000] [--runs 25]

Builds a fresh database (SQLite by default, PostgreSQL when DATABASE_URL points at one): firms in
eight streets with tiers for two quarters, eight quarters of metrics, an open follow-up each,
visits, requests with their steps, 200 buildings and the year's targets. Times, as medians over
`runs`, the dashboard's data queries (every figure the page shows, for an admin and for a street
office), the page through the WSGI app, the buildings page, and, in the same run, a baseline: the
same aggregates as bare SQL through the driver. Prints JSON.

The figures are kept in the process under the versions of the tables they read
(service_app/data_versions.py), so three cases are timed: `cached` (nothing written since the
last view: what most views are), `after_followup_write` (a follow-up was changed, so the follow-up
figures are made again and the rest are kept: what an officer's visit does) and `cold` (nothing
kept: after an import, an approval, a firm edit, or a restart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from _database import fresh_database_url  # noqa: E402
from stdnum.cn import uscc  # noqa: E402

TIERS = ("key", "cultivate", "observe", "exit")
INDUSTRIES = ("I6513", "C3914", "F5292", "C1810", "L7224", "F5181", "M7320", None)
CHAINS = ("fashion", "trade", "tech", "other", None)
CATEGORIES = ("ip", "university", "tech_transfer", "mentor", "financing", "talent", "space", "policy", "other")
STATUSES = ("received", "assigned", "in_progress", "resolved", "revisited", "closed")
PASSWORD = "bench-password"  # noqa: S105 - a throwaway database's users


def build(database_url: str, firms: int):
    """An app on a fresh database holding the data set described in the module docstring."""
    from flask_migrate import upgrade

    from config import TestConfig
    from service_app import create_app
    from service_app.bulk import bulk_insert
    from service_app.domain.quarters import Quarter
    from service_app.domain.tiers import Role
    from service_app.domain.workdays import china_today
    from service_app.extensions import db
    from service_app.models import (
        Building,
        Firm,
        FirmRequest,
        Followup,
        IndicatorTarget,
        QuarterlyMetric,
        RequestStep,
        Street,
        TierAssignment,
        User,
        Visit,
    )
    from service_app.models.types import utcnow

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    rng = random.Random(7)
    today = china_today()
    with app.app_context():
        upgrade()
        streets = [Street(name=f"街道{i}", region_code=f"330113{i:03d}") for i in range(8)]
        db.session.add_all(streets)
        db.session.flush()
        users = [User(username="admin", role=Role.ADMIN), User(username="district", role=Role.DISTRICT)]
        users[1].streets = [streets[0]]
        officers = [User(username=f"officer{i}", role=Role.OFFICER, display_name=f"专员{i}") for i in range(40)]
        for i, officer in enumerate(officers):
            officer.streets = [streets[i % 8]]
        for user in (*users, *officers):
            user.set_password(PASSWORD, "pbkdf2:sha256:1000")
        db.session.add_all([*users, *officers])
        buildings = [
            Building(name=f"楼宇{i:03d}", street_id=streets[i % 8].id, floor_area_m2=rng.randint(8, 80) * 1000)
            for i in range(200)
        ]
        db.session.add_all(buildings)
        db.session.flush()
        now = utcnow()
        rows = []
        for n in range(firms):
            body = f"91330113{n:09d}"
            rows.append(
                {
                    "credit_code": body + uscc.calc_check_digit(body),
                    "name": f"基准企业{n:06d}",
                    "street_id": streets[n % 8].id,
                    "building_id": buildings[n % 200].id if n % 3 else None,
                    "officer_id": officers[(n % 8) + 8 * (n % 5)].id,
                    "chain": CHAINS[n % 5],
                    "industry_code": INDUSTRIES[n % 8],
                    "current_tier": TIERS[n % 4],
                    "status": "active",
                    "above_scale": n % 4 == 0,
                    "is_high_tech": False,
                    "is_specialised": False,
                    "is_listed": False,
                    "is_chain_leader": False,
                    "is_abnormal": False,
                    "has_serious_violation": False,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        bulk_insert(Firm.__table__, rows)
        ids = list(db.session.scalars(sa.select(Firm.id).order_by(Firm.id)))
        latest = Quarter(2026, 3)
        quarters = [q.key for q in latest.trailing(8)]
        metrics, assignments, followups, visits = [], [], [], []
        for index, firm_id in enumerate(ids):
            base = rng.uniform(50, 5000)
            for i, key in enumerate(quarters):
                revenue = round(base * (1 + 0.02 * i) * rng.uniform(0.8, 1.2), 2)
                metrics.append(
                    {
                        "firm_id": firm_id,
                        "quarter": key,
                        "revenue": revenue,
                        "tax": round(revenue * 0.05, 2),
                        "employees": rng.randint(3, 500),
                        "rd_spend": round(revenue * 0.03, 2),
                        "floor_area_m2": 800 if index % 3 else None,
                        "land_mu": None if index % 3 else 12,
                    }
                )
            for quarter, tier in (("2026Q2", TIERS[(index + index // 7) % 4]), ("2026Q3", TIERS[index % 4])):
                assignments.append(
                    {
                        "firm_id": firm_id,
                        "quarter": quarter,
                        "tier": tier,
                        "reasons": [],
                        "method": "auto",
                        "created_at": now,
                    }
                )
            due = today + dt.timedelta(days=rng.randint(-30, 60))
            followups.append(
                {
                    "firm_id": firm_id,
                    "officer_id": rows[index]["officer_id"],
                    "tier": TIERS[index % 4],
                    "base_date": due,
                    "due_date": due,
                    "status": "open",
                    "created_at": now,
                    "version": 1,
                }
            )
            if index % 3 == 0:
                day = today - dt.timedelta(days=rng.randint(0, 60))
                visits.append(
                    {
                        "firm_id": firm_id,
                        "officer_id": rows[index]["officer_id"],
                        "visited_on": day,
                        "kind": "onsite",
                        "participants": "",
                        "notes": "",
                        "created_at": now,
                    }
                )
        bulk_insert(QuarterlyMetric.__table__, metrics)
        bulk_insert(TierAssignment.__table__, assignments)
        bulk_insert(Followup.__table__, followups)
        bulk_insert(Visit.__table__, visits)
        requests = []
        for n in range(firms // 10):
            status = STATUSES[n % 6]
            received = today - dt.timedelta(days=rng.randint(0, 200))
            requests.append(
                {
                    "firm_id": ids[(n * 7) % len(ids)],
                    "category": CATEGORIES[n % 9],
                    "description": "基准诉求",
                    "urgency": "normal",
                    "owner_department": "",
                    "status": status,
                    "received_on": received,
                    "deadline": received + dt.timedelta(days=14),
                    "satisfaction": ("satisfied", "mostly", "dissatisfied")[n % 3] if n % 6 >= 4 else None,
                    "created_at": now,
                    "version": 1,
                }
            )
        bulk_insert(FirmRequest.__table__, requests)
        steps = []
        for request_id, status, received in db.session.execute(
            sa.select(FirmRequest.id, FirmRequest.status, FirmRequest.received_on)
        ):
            for step in STATUSES[: STATUSES.index(status.value) + 1]:
                moment = dt.datetime.combine(received, dt.time(2), dt.UTC) + dt.timedelta(days=STATUSES.index(step) * 3)
                steps.append({"request_id": request_id, "status": step, "note": "", "created_at": moment})
        bulk_insert(RequestStep.__table__, steps)
        for metric, threshold in (
            ("revenue_growth", 10),
            ("tax_growth", 8),
            ("digital_growth", 12),
            ("rd_intensity", 3),
        ):
            db.session.add(IndicatorTarget(year=2026, metric=metric, name=metric, threshold=threshold))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
    return app


def prepare(app, case: str) -> None:
    """Before a timed view: forget every kept figure ('cold'), or change one follow-up (its table's
    version with it) the way a visit would ('after_followup_write'); nothing for 'cached'."""
    from service_app.data_versions import figure_cache
    from service_app.extensions import db
    from service_app.models import Followup

    with app.app_context():
        if case == "cold":
            figure_cache().clear()
        elif case == "after_followup_write":
            followup = db.session.scalars(sa.select(Followup).order_by(Followup.id).limit(1)).one()
            followup.due_date += dt.timedelta(days=1 if followup.due_date.day % 2 else -1)
            db.session.commit()
        db.session.remove()


def dashboard_queries(app, username: str, case: str = "cached") -> tuple[float, float]:
    """Every figure the dashboard shows, for one user: a fresh Dashboard and all its queries;
    (wall, process CPU) seconds. CPU is what SQLite, in this process, spends: it says more than the
    wall clock on a machine other jobs share (PostgreSQL's work is in its own processes)."""
    from service_app.dashboard.services import Dashboard
    from service_app.domain.workdays import china_today
    from service_app.extensions import db
    from service_app.models import User

    prepare(app, case)
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == username)).one()
        wall, cpu = time.perf_counter(), time.process_time()
        board = Dashboard(user, china_today())
        figures = (
            board.streets,
            board.tier_groups,
            board.transitions,
            board.followups_by_street,
            board.visits_by_street,
            board.followups_by_officer,
            board.visits_by_officer,
            board.officer_names,
            board.requests_by_category,
            board.satisfaction,
            board.indicators(),  # the quarters' sums and the targets
        )
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
        assert all(figure is not None for figure in figures)
        db.session.remove()
    return elapsed


#: The dashboard's aggregates written by hand: the same sums and counts over the same rows, with the
#: dates, quarters and core industry codes as literals. {scope} limits firms f to the user's streets.
BASELINE = [
    "SELECT f.street_id, f.chain, f.current_tier, count(*) FROM firms f WHERE {scope} GROUP BY 1, 2, 3",
    "SELECT a.tier, b.tier, count(*) FROM firms f"
    " LEFT JOIN tier_assignments a ON a.firm_id = f.id AND a.quarter = '{previous}'"
    " LEFT JOIN tier_assignments b ON b.firm_id = f.id AND b.quarter = '{current}'"
    " WHERE {scope} AND (a.tier IS NOT NULL OR b.tier IS NOT NULL) GROUP BY 1, 2",
    "SELECT {group}, sum(CASE WHEN u.status = 'open' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN u.status = 'open' AND u.due_date < '{today}' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN u.status <> 'cancelled' AND u.due_date BETWEEN '{month}' AND '{month_end}' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN u.status = 'done' AND u.due_date BETWEEN '{month}' AND '{month_end}' THEN 1 ELSE 0 END)"
    " FROM followups u JOIN firms f ON f.id = u.firm_id"
    " WHERE {scope} AND (u.status = 'open' OR u.due_date >= '{month}') GROUP BY 1",
    "SELECT {group}, count(*) FROM visits u JOIN firms f ON f.id = u.firm_id"
    " WHERE {scope} AND u.visited_on BETWEEN '{month}' AND '{month_end}' GROUP BY 1",
    "SELECT r.category, count(*), count(s.id) FROM firm_requests r JOIN firms f ON f.id = r.firm_id"
    " LEFT JOIN request_steps s ON s.request_id = r.id AND s.status = 'resolved' WHERE {scope} GROUP BY 1",
    "SELECT r.satisfaction, count(*) FROM firm_requests r JOIN firms f ON f.id = r.firm_id"
    " WHERE {scope} AND r.satisfaction IS NOT NULL GROUP BY 1",
    "SELECT DISTINCT f.industry_code FROM firms f WHERE {scope}",
    "SELECT m.quarter, count(*), sum(m.revenue), sum(m.tax), sum(m.rd_spend),"
    " sum(CASE WHEN f.industry_code IN ({core}) THEN m.revenue END),"
    " sum(CASE WHEN f.current_tier = 'key' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN f.current_tier = 'key' THEN m.revenue END), sum(CASE WHEN f.current_tier = 'key' THEN m.tax END)"
    " FROM quarterly_metrics m JOIN firms f ON f.id = m.firm_id"
    " WHERE {scope} AND m.quarter BETWEEN '{first}' AND '{current_metrics}' GROUP BY 1",
]


def baseline(app, street_id: int | None) -> tuple[float, float]:
    """The same aggregates as bare SQL through the driver: (wall, process CPU) seconds."""
    from service_app.dashboard.services import month_bounds
    from service_app.domain.industry import is_digital_core
    from service_app.domain.workdays import china_today
    from service_app.extensions import db

    today = china_today()
    month, month_end = month_bounds(today)
    scope = "1 = 1" if street_id is None else f"f.street_id = {street_id}"
    core = ", ".join(f"'{code}'" for code in INDUSTRIES if code and is_digital_core(code))
    values = {
        "scope": scope,
        "today": today.isoformat(),
        "month": month.isoformat(),
        "month_end": month_end.isoformat(),
        "previous": "2026Q2",
        "current": "2026Q3",
        "first": "2024Q4",
        "current_metrics": "2026Q3",
        "core": core,
    }
    queries = []
    for query in BASELINE:
        groups = ("f.street_id", "u.officer_id") if "{group}" in query else ("",)
        queries += [query.format(group=group, **values) for group in groups]
    with app.app_context():
        cursor = db.session.connection().connection.cursor()
        wall, cpu = time.perf_counter(), time.process_time()
        for text in queries:
            cursor.execute(text)
            cursor.fetchall()
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
        cursor.close()
        db.session.remove()
    return elapsed


def page_times(app, username: str, path: str, runs: int, case: str = "cached") -> list[tuple[float, float]]:
    """(wall, process CPU) seconds per request of a page through the WSGI app, as `username`."""
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    timings = []
    for _ in range(runs):
        prepare(app, case)
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
        assert response.status_code == 200, (path, response.status_code)
    return timings


#: What is kept before a timed view (see prepare).
CASES = ("cached", "after_followup_write", "cold")


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(Path(tmp))
        started = time.perf_counter()
        app = build(url, args.firms)
        built = time.perf_counter() - started
        from service_app.extensions import db
        from service_app.models import Street

        with app.app_context():
            street_id = db.session.scalar(sa.select(Street.id).order_by(Street.id))
        dashboard_queries(app, "admin", "cold")  # warm the database's own caches both sides get
        baseline(app, None)
        load = os.getloadavg()
        figures = {}
        for label, username, street in (("admin", "admin", None), ("district", "district", street_id)):
            queries: dict[str, list[tuple[float, float]]] = {case: [] for case in CASES}
            bare = []
            for _ in range(args.runs):  # alternated, so all see the same load
                for case in CASES:
                    queries[case].append(dashboard_queries(app, username, case))
                bare.append(baseline(app, street))
            bare_median = statistics.median(b[0] for b in bare)
            figures[label] = {
                "baseline_bare_sql_median_ms": median_ms([b[0] for b in bare]),
                "baseline_cpu_median_ms": median_ms([b[1] for b in bare]),
            }
            for case in CASES:
                page = page_times(app, username, "/", args.runs, case)
                figures[label][case] = {
                    "queries_median_ms": median_ms([q[0] for q in queries[case]]),
                    "queries_cpu_median_ms": median_ms([q[1] for q in queries[case]]),
                    "ratio_to_baseline": round(statistics.median(q[0] for q in queries[case]) / bare_median, 3),
                    "page_median_ms": median_ms([p[0] for p in page]),
                    "page_cpu_median_ms": median_ms([p[1] for p in page]),
                }
        buildings = page_times(app, "admin", "/buildings/", args.runs)
        print(
            json.dumps(
                {
                    "benchmark": "dashboard",
                    "firms": args.firms,
                    "metric_rows": args.firms * 8,
                    "database": "postgresql" if url.startswith("postgres") else "sqlite",
                    "build_seconds": round(built, 1),
                    "runs": args.runs,
                    "targets_ms": {"queries_median": 150, "page_median": 300},
                    **figures,
                    "buildings_page_median_ms": median_ms([b[0] for b in buildings]),
                    "load_average_before_after": [round(load[0], 1), round(os.getloadavg()[0], 1)],
                },
                ensure_ascii=False,
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
