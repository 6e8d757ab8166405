"""Benchmark: the roster export of 30,000 firms against bare openpyxl write-only.

    .venv/bin/python bench/export_roster.py [--firms 30000]

Builds a fresh database (SQLite by default, PostgreSQL when DATABASE_URL points at one) with
`firms` firms in 8 streets, each with a quarter of figures, tiers for two quarters with reasons,
an open follow-up, and a visit and an open request for one firm in ten. Then, each in a child
process so its peak resident memory (resource.getrusage, ru_maxrss) is its own:

- export: `roster_workbook` for all firms (queries included), timed;
- baseline: the same cells (read back from the export) written with bare openpyxl write-only,
  one `append` of plain values per row, no styles, timed from the first append to the save.

The database is built in a child too, so this parent stays small (a forked child's ru_maxrss
starts from its parent's resident size). Prints JSON: both times, the ratio (target ≤ 1.5) and
the export's peak memory (target ≤ 200 MB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIERS = ("key", "cultivate", "observe", "exit")
CHAINS = ("fashion", "trade", "tech", "other")


def make_app(database_url: str):
    from config import TestConfig
    from service_app import create_app

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    return create_app(Config)


def build(database_url: str, firms: int) -> None:
    """Migrate a fresh database and fill it with `firms` firms and their follow-up data."""
    from flask_migrate import upgrade
    from stdnum.cn import uscc

    from service_app.bulk import bulk_insert
    from service_app.domain.tiers import Role
    from service_app.extensions import db
    from service_app.models import (
        Building,
        Firm,
        FirmRequest,
        Followup,
        QuarterlyMetric,
        Street,
        TierAssignment,
        User,
        Visit,
    )
    from service_app.models.types import utcnow

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        streets = [Street(name=name, region_code=f"330113{i:03d}") for i, name in enumerate(STREETS)]
        db.session.add_all(streets)
        db.session.flush()
        buildings = [Building(name=f"{s.name}数字大厦{j}号楼", street_id=s.id) for s in streets for j in range(5)]
        officer = User(username="officer", role=Role.OFFICER, display_name="专员")
        officer.set_password("bench-password", "pbkdf2:sha256:1000")
        officer.streets = list(streets)
        db.session.add_all([*buildings, officer])
        db.session.flush()
        now = utcnow()
        firm_rows, metric_rows, assignment_rows, followup_rows, visit_rows, request_rows = [], [], [], [], [], []
        reasons = [
            {"code": "score", "text": "综合得分 1.3；规下企业中得分高于它的占 12%，按分档为重点服务"},
            {"code": "tax_per_area", "text": "亩均税收：为基准的 1.40 倍，贡献 0.42"},
        ]
        for n in range(firms):
            body = f"91330113{n:09d}"
            street = streets[n % 8]
            firm_rows.append(
                {
                    "id": n + 1,
                    "credit_code": body + uscc.calc_check_digit(body),
                    "name": f"杭州临平基准{n:06d}号数字科技有限公司",
                    "chain": CHAINS[n % 4],
                    "industry_code": "C3511",
                    "street_id": street.id,
                    "building_id": buildings[(n % 8) * 5 + n % 5].id if n % 3 else None,
                    "established": dt.date(2010 + n % 14, 1 + n % 12, 1 + n % 28),
                    "registered_capital": Decimal(n % 5000) + Decimal("0.50"),
                    "status": "active",
                    "current_tier": TIERS[n % 4],
                    "officer_id": officer.id,
                    "contact_name": "张经理",
                    "contact_phone": f"0571-8{n:07d}",
                    "notes": "园区重点跟踪" if n % 7 == 0 else None,
                    "above_scale": n % 5 == 0,
                    "is_high_tech": n % 3 == 0,
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
            metric_rows.append(
                {
                    "firm_id": n + 1,
                    "quarter": "2026Q3",
                    "revenue": Decimal(n % 9000) + Decimal("0.25"),
                    "tax": Decimal(n % 400) + Decimal("0.10"),
                    "employees": 5 + n % 300,
                    "rd_spend": Decimal(n % 100),
                    "floor_area_m2": Decimal(100 + n % 900),
                    "land_mu": None,
                }
            )
            for quarter, tier in (("2026Q3", TIERS[(n + 1) % 4]), ("2026Q4", TIERS[n % 4])):
                assignment_rows.append(
                    {
                        "firm_id": n + 1,
                        "quarter": quarter,
                        "tier": tier,
                        "score": Decimal("1.2345"),
                        "reasons": reasons,
                        "method": "auto",
                        "created_at": now,
                    }
                )
            followup_rows.append(
                {
                    "firm_id": n + 1,
                    "officer_id": officer.id,
                    "tier": TIERS[n % 4],
                    "base_date": dt.date(2026, 10, 9),
                    "due_date": dt.date(2026, 12, 9),
                    "status": "open",
                    "created_at": now,
                    "version": 1,
                }
            )
            if n % 10 == 0:
                visit_rows.append(
                    {
                        "firm_id": n + 1,
                        "officer_id": officer.id,
                        "visited_on": dt.date(2026, 10, 9),
                        "kind": "onsite",
                        "participants": "",
                        "notes": "",
                        "created_at": now,
                    }
                )
                request_rows.append(
                    {
                        "firm_id": n + 1,
                        "category": "financing",
                        "description": "融资需求",
                        "urgency": "normal",
                        "owner_department": "",
                        "status": "received",
                        "received_on": dt.date(2026, 10, 9),
                        "deadline": dt.date(2026, 10, 30),
                        "created_at": now,
                        "version": 1,
                    }
                )
        for model, rows in (
            (Firm, firm_rows),
            (QuarterlyMetric, metric_rows),
            (TierAssignment, assignment_rows),
            (Followup, followup_rows),
            (Visit, visit_rows),
            (FirmRequest, request_rows),
        ):
            bulk_insert(model.__table__, rows)
        db.session.commit()


STREETS = ("临平街道", "东湖街道", "南苑街道", "星桥街道", "运河街道", "乔司街道", "崇贤街道", "塘栖镇")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_export(database_url: str, out: Path) -> dict[str, float]:
    from service_app.exports.services import roster_workbook
    from service_app.firms.services import FirmFilters

    app = make_app(database_url)
    with app.app_context():
        before = peak_mb()
        started = time.perf_counter()
        result = roster_workbook(out, None, FirmFilters(), "2026Q4", platform="临平新城")
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "firms": result.total, "peak_mb": peak_mb(), "peak_mb_before_export": before}


def child_baseline(exported: Path, out: Path) -> dict[str, float]:
    import python_calamine
    from openpyxl import Workbook

    book = python_calamine.CalamineWorkbook.from_path(str(exported))
    sheets = {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}
    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(out)
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def run_child(*args: str) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=30_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, first, second = args.child
        if kind == "build":
            started = time.perf_counter()
            build(first, int(second))
            result = {"seconds": time.perf_counter() - started}
        elif kind == "export":
            result = child_export(first, Path(second))
        else:
            result = child_baseline(Path(first), Path(second))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.db'}"
        # Every step runs in its own child, and this parent stays small: Linux carries the RSS of
        # the process that forks over into the child's ru_maxrss.
        built = run_child("build", url, str(args.firms))["seconds"]
        exported, copied = Path(tmp) / "export.xlsx", Path(tmp) / "baseline.xlsx"
        export = run_child("export", url, str(exported))
        baseline = run_child("baseline", str(exported), str(copied))
        ratio = export["seconds"] / baseline["seconds"]
        print(
            json.dumps(
                {
                    "firms": export["firms"],
                    "database": url.split(":", 1)[0],
                    "build_seconds": round(built, 2),
                    "export_seconds": round(export["seconds"], 2),
                    "baseline_openpyxl_seconds": round(baseline["seconds"], 2),
                    "ratio": round(ratio, 2),
                    "ratio_target": 1.5,
                    "export_peak_mb": round(export["peak_mb"], 1),
                    "export_peak_mb_before_export": round(export["peak_mb_before_export"], 1),
                    "baseline_peak_mb": round(baseline["peak_mb"], 1),
                    "peak_mb_target": 200,
                    "file_mb": round(exported.stat().st_size / 1e6, 2),
                    "ratio_met": ratio <= 1.5,
                    "memory_met": export["peak_mb"] <= 200,
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
