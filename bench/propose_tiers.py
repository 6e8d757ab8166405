"""Benchmark: propose and approve tiers for 30,000 firms with eight quarters of metrics.

    .venv/bin/python bench/propose_tiers.py [--firms 30000]

Builds a fresh database (SQLite by default, PostgreSQL when DATABASE_URL points at one), times
propose_tiers and apply_proposal as the CLI runs them, and, in the same run, a baseline: one
aggregate SQL query over the same metrics (the least any proposal must read). Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from _database import fresh_database_url  # noqa: E402
from stdnum.cn import uscc  # noqa: E402

QUARTER = "2026Q4"


def build(database_url: str, firms: int):
    """An app on a fresh database holding `firms` firms with metrics for 2024Q4–2026Q3."""
    from flask_migrate import upgrade

    from config import TestConfig
    from service_app import create_app
    from service_app.bulk import bulk_insert
    from service_app.domain.quarters import Quarter
    from service_app.extensions import db
    from service_app.models import Firm, QuarterlyMetric, Street
    from service_app.models.types import utcnow

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    rng = random.Random(11)
    with app.app_context():
        upgrade()
        streets = [Street(name=f"街道{i}", region_code=f"330113{i:03d}") for i in range(8)]
        db.session.add_all(streets)
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
                    "above_scale": n % 4 == 0,
                    "is_high_tech": False,
                    "is_specialised": False,
                    "is_listed": n % 500 == 0,
                    "is_chain_leader": False,
                    "is_abnormal": n % 37 == 0,
                    "has_serious_violation": False,
                    "established": dt.date(2005 + n % 20, 1, 1),
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        bulk_insert(Firm.__table__, rows)
        ids = list(db.session.scalars(sa.select(Firm.id)))
        quarters = [q.key for q in (Quarter.parse(QUARTER) - 1).trailing(8)]
        metrics = []
        for firm_id in ids:
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
                        "floor_area_m2": 800 if firm_id % 3 else None,
                        "land_mu": None if firm_id % 3 else 12,
                    }
                )
        bulk_insert(QuarterlyMetric.__table__, metrics)
        db.session.commit()
    return app


def baseline(app) -> float:
    """One aggregate query over the same eight quarters: the floor for any proposal."""
    from service_app.extensions import db
    from service_app.models import QuarterlyMetric as M

    with app.app_context():
        started = time.perf_counter()
        db.session.execute(
            sa.select(
                M.firm_id,
                sa.func.sum(M.revenue),
                sa.func.sum(M.tax),
                sa.func.max(M.employees),
                sa.func.sum(M.rd_spend),
                sa.func.max(M.floor_area_m2),
            ).group_by(M.firm_id)
        ).all()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=30_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(Path(tmp))
        app = build(url, args.firms)
        from service_app.domain.quarters import Quarter
        from service_app.extensions import db
        from service_app.tiers.services import apply_proposal, propose_tiers

        base = baseline(app)
        with app.app_context():
            started = time.perf_counter()
            proposal = propose_tiers(Quarter.parse(QUARTER))
            db.session.commit()
            proposed = time.perf_counter()
            counts = apply_proposal(proposal, None)
            db.session.commit()
            applied = time.perf_counter()
            summary = proposal.summary
        print(
            json.dumps(
                {
                    "benchmark": "propose_tiers",
                    "firms": args.firms,
                    "metric_rows": args.firms * 8,
                    "database": "postgresql" if url.startswith("postgres") else "sqlite",
                    "propose_seconds": round(proposed - started, 3),
                    "apply_seconds": round(applied - proposed, 3),
                    "baseline_aggregate_seconds": round(base, 3),
                    "target_seconds": 2.0,
                    "counts": summary["counts"],
                    "applied_firms": counts["firms"],
                },
                ensure_ascii=False,
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
