"""Benchmark: the daily follow-up sweep over 30,000 firms, and "My follow-ups" for a busy officer.

    .venv/bin/python bench/sweep.py [--firms 30000] [--officer-firms 1000] [--requests 50]

Builds a fresh database (SQLite by default, PostgreSQL when DATABASE_URL points at one) with
`firms` tiered firms, one officer holding `officer-firms` of them. Times the first sweep (it
creates every follow-up) and a second one (it must change nothing), then requests the officer's
"My follow-ups" page `requests` times through the WSGI app and reports the median. In the same
run, baselines: sqlite3 executemany of the same number of rows, and the bare SQL query behind
the page. Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
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

TODAY = dt.date(2026, 11, 26)
TIERS = ("key", "cultivate", "observe", "exit")


def build(database_url: str, firms: int, officer_firms: int):
    """An app on a fresh database: `firms` tiered firms in 8 streets; one officer with `officer_firms`."""
    from flask_migrate import upgrade

    from config import TestConfig
    from service_app import create_app
    from service_app.bulk import bulk_insert
    from service_app.domain.tiers import Role
    from service_app.extensions import db
    from service_app.models import Firm, Street, User
    from service_app.models.types import utcnow

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        streets = [Street(name=f"街道{i}", region_code=f"330113{i:03d}") for i in range(8)]
        db.session.add_all(streets)
        officer = User(username="officer", role=Role.OFFICER, display_name="专员")
        officer.set_password("bench-password", "pbkdf2:sha256:1000")
        officer.streets = list(streets)
        db.session.add(officer)
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
                    "status": "active",
                    "current_tier": TIERS[n % 4],
                    "officer_id": officer.id if n < officer_firms else None,
                    "above_scale": False,
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
        db.session.commit()
    return app


def baseline_insert(rows: int) -> float:
    """sqlite3 executemany of `rows` follow-up-sized rows into a fresh table."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "baseline.db")
        conn.execute(
            "CREATE TABLE f (id INTEGER PRIMARY KEY, firm_id INT, officer_id INT, tier TEXT, base_date TEXT,"
            " due_date TEXT, status TEXT, created_at TEXT, version INT)"
        )
        started = time.perf_counter()
        conn.executemany(
            "INSERT INTO f (firm_id, officer_id, tier, base_date, due_date, status, created_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(n, None, "key", "2026-11-26", "2026-12-28", "open", "2026-11-26 00:00:00", 1) for n in range(rows)],
        )
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.close()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=30_000)
    parser.add_argument("--officer-firms", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(Path(tmp))
        app = build(url, args.firms, args.officer_firms)
        from service_app.extensions import db
        from service_app.followups.tasks import daily_sweep

        with app.app_context():
            started = time.perf_counter()
            first = daily_sweep(TODAY)
            first_seconds = time.perf_counter() - started
            db.session.remove()
            started = time.perf_counter()
            second = daily_sweep(TODAY)
            second_seconds = time.perf_counter() - started
            db.session.remove()

        client = app.test_client()
        client.post("/login", data={"username": "officer", "password": "bench-password"})
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get("/followups/?view=all")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        with app.app_context():
            from service_app.models import Firm, Followup

            started = time.perf_counter()
            for _ in range(args.requests):
                db.session.execute(
                    sa.select(Followup.id, Followup.due_date, Firm.name)
                    .join(Firm, Firm.id == Followup.firm_id)
                    .where(Followup.officer_id == 1, Followup.status == "open")
                    .order_by(Followup.due_date)
                    .limit(50)
                ).all()
            query_median = (time.perf_counter() - started) / args.requests
        print(
            json.dumps(
                {
                    "benchmark": "followups_sweep",
                    "firms": args.firms,
                    "database": "postgresql" if url.startswith("postgres") else "sqlite",
                    "first_sweep_seconds": round(first_seconds, 3),
                    "first_sweep_created": first["created"],
                    "second_sweep_seconds": round(second_seconds, 3),
                    "second_sweep_changes": second["created"] + second["rescheduled"] + second["cancelled"],
                    "baseline_sqlite3_executemany_seconds": round(baseline_insert(args.firms), 3),
                    "targets_seconds": {"first": 3.0, "second": 0.5, "my_followups_median": 0.1},
                    "my_followups_officer_firms": args.officer_firms,
                    "my_followups_median_seconds": round(statistics.median(timings), 4),
                    "my_followups_p95_seconds": round(sorted(timings)[int(len(timings) * 0.95) - 1], 4),
                    "baseline_page_query_seconds": round(query_median, 4),
                },
                ensure_ascii=False,
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
