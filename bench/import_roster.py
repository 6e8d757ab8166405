"""Benchmark: import a generated roster through the CLI's service code, against a bare baseline.

    .venv/bin/python bench/import_roster.py [--rows 30000] [--memory-rows 200000]

Generates an .xlsx roster (firm fields and one quarter of metrics), imports it into a fresh
database with the same functions `flask roster import` uses, and in the same run times the
baseline: a bare python-calamine parse plus sqlite3 executemany of the same rows. Import and
baseline take turns, `--repeat` times each, and the best of each is compared, so a burst of
load from elsewhere on the machine weighs on both alike. Then, in a child process, imports a
larger roster and reports its peak memory. Prints JSON.
With DATABASE_URL set to PostgreSQL, the import runs there (the baseline stays SQLite).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _database import fresh_database_url  # noqa: E402
from openpyxl import Workbook  # noqa: E402
from python_calamine import CalamineWorkbook  # noqa: E402
from stdnum.cn import uscc  # noqa: E402

STREETS = ["临平街道", "东湖街道", "南苑街道", "星桥街道", "运河街道", "乔司街道", "崇贤街道", "塘栖镇"]
HEADER = [
    "序号",
    "统一社会信用代码",
    "企业名称",
    "所属产业链",
    "国民经济行业代码",
    "所在街道",
    "成立日期",
    "注册资本（万元）",
    "是否规上",
    "联系人",
    "联系电话",
    "季度",
    "营业收入（万元）",
    "税收（万元）",
    "从业人数",
    "研发投入（万元）",
    "使用面积（平方米）",
]


def make_roster(path: Path, rows: int) -> None:
    """A realistic roster: title row, header, data, totals row."""
    rng = random.Random(7)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("名录")
    sheet.append(["临平新城 2026年第三季度 企业名录"])
    sheet.append(HEADER)
    for n in range(rows):
        body = f"91330113{n:09d}"
        code = body + uscc.calc_check_digit(body)
        sheet.append(
            [
                n + 1,
                code,
                f"杭州基准{n:06d}号科技有限公司",
                rng.choice(["数字时尚", "数字贸易", "数字科技"]),
                rng.choice(["I6510", "C1810", "F5191", "M7320"]),
                STREETS[n % 8],
                dt.date(2000 + n % 25, n % 12 + 1, n % 28 + 1),
                f"{rng.randint(10, 5000)}.00",
                "是" if n % 4 == 0 else "否",
                "张三",
                f"138{n:08d}",
                "2026Q3",
                round(rng.uniform(10, 9000), 2),
                round(rng.uniform(0, 400), 2),
                rng.randint(1, 900),
                round(rng.uniform(0, 300), 2),
                rng.randint(50, 5000),
            ]
        )
    sheet.append(["合计"])
    workbook.save(path)


def baseline(path: Path) -> float:
    """Bare calamine parse plus sqlite3 executemany of the same rows into two tables."""
    started = time.perf_counter()
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    data = [r for r in rows[2:] if len(r) > 5 and r[1]]
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE firms (id INTEGER PRIMARY KEY, credit_code TEXT UNIQUE, name TEXT, chain TEXT, "
        "industry_code TEXT, street TEXT, established TEXT, registered_capital NUMERIC, above_scale INT, "
        "contact_name TEXT, contact_phone TEXT)"
    )
    connection.execute(
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY, credit_code TEXT, quarter TEXT, revenue NUMERIC, "
        "tax NUMERIC, employees INT, rd_spend NUMERIC, floor_area_m2 NUMERIC)"
    )
    connection.executemany(
        "INSERT INTO firms (credit_code, name, chain, industry_code, street, established, "
        "registered_capital, above_scale, contact_name, contact_phone) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(r[1], r[2], r[3], r[4], r[5], str(r[6]), r[7], r[8] == "是", r[9], r[10]) for r in data],
    )
    connection.executemany(
        "INSERT INTO metrics (credit_code, quarter, revenue, tax, employees, rd_spend, floor_area_m2) "
        "VALUES (?,?,?,?,?,?,?)",
        [(r[1], r[11], r[12], r[13], r[14], r[15], r[16]) for r in data],
    )
    connection.commit()
    return time.perf_counter() - started


def import_with_app(path: Path, database_url: str) -> dict[str, float | int]:
    """The CLI's path: upload_roster (read, plan) then confirm_batch (apply), one commit."""
    from flask_migrate import upgrade

    from config import TestConfig
    from service_app import create_app
    from service_app.extensions import db
    from service_app.models import Street
    from service_app.roster.plan import ImportOptions
    from service_app.roster.services import confirm_batch, upload_roster

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        if not db.session.query(Street).count():
            db.session.add_all(Street(name=name, region_code=f"330113{i:03d}") for i, name in enumerate(STREETS, 1))
            db.session.commit()
        data = path.read_bytes()
        started = time.perf_counter()
        batch, plan = upload_roster(data, path.name, None, ImportOptions(), dedupe=False)
        planned = time.perf_counter()
        confirm_batch(batch, None, "bench", plan)
        db.session.commit()
        finished = time.perf_counter()
        return {
            "seconds": finished - started,
            "plan_seconds": planned - started,
            "apply_seconds": finished - planned,
            "created": plan.count("created"),
            "errors": len(plan.errors),
        }


def memory_child(rows: int) -> None:
    """Import a large roster and print the peak resident memory (MB) as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "big.xlsx"
        make_roster(path, rows)
        result = import_with_app(path, fresh_database_url(folder))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "rows": rows,
                    "peak_mb": round(peak, 1),
                    **{k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()},
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--memory-rows", type=int, default=200_000, help="0 skips the memory run")
    parser.add_argument("--repeat", type=int, default=3, help="imports (and baselines) to take the best of")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "roster.xlsx"
        make_roster(path, args.rows)
        bases, results = [], []
        for run in range(args.repeat):
            bases.append(baseline(path))
            (folder / str(run)).mkdir()
            results.append(import_with_app(path, fresh_database_url(folder / str(run))))
        base = min(bases)
        result = min(results, key=lambda r: r["seconds"])
    report = {
        "benchmark": "import_roster",
        "rows": args.rows,
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
        "import_seconds": round(result["seconds"], 3),
        "plan_seconds": round(result["plan_seconds"], 3),
        "apply_seconds": round(result["apply_seconds"], 3),
        "baseline_seconds": round(base, 3),
        "ratio": round(result["seconds"] / base, 2),
        "import_runs": [round(r["seconds"], 3) for r in results],
        "baseline_runs": [round(b, 3) for b in bases],
        "target_ratio": 3.0,
        "created": result["created"],
        "errors": result["errors"],
    }
    if args.memory_rows:
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(args.memory_rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        memory = json.loads(child.stdout.strip().splitlines()[-1])
        report["memory"] = {**memory, "target_peak_mb": 300}
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
