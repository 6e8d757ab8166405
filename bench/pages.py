"""Benchmark: single-request times of the everyday pages, in-process (Flask's test client).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/pages.py \
        [--reuse] [--runs 30] [--user load03] [--profile out.prof --page firms_page7]

Builds bench/load.py's database (30,000 firms, 48 officers, 2 street-office users) unless
--reuse finds it already built, then signs one user in (CSRF on, as in production) and times
each page RUNS times after warming up: the median and the best wall time and the median CPU
time of this process (the app's own work, without the database's), the mean CPU time of the
PostgreSQL backends serving the database (when PostgreSQL runs on this machine), in
milliseconds, and the number of SQL statements one request sends. The machine's other work shows in the times; the
statement counts and a --profile (cProfile of one page, RUNS requests) do not move with it.
Writes nothing but the visits and the five-row imports the write steps make.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _database import fresh_database_url  # noqa: E402
from sqlalchemy.engine import make_url as sa_url  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
FOLLOWUP_LINK = re.compile(r'href="/followups/(\d+)"')
BATCH_URL = re.compile(r"/roster/imports/(\d+)$")


def make_app(database_url: str):  # type: ignore[no-untyped-def]
    """The production configuration (CSRF on, scrypt by default) on the benchmark database."""
    from config import Config
    from service_app import create_app

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = database_url
        SECRET_KEY = "bench-pages"  # noqa: S105 - a throwaway database

    return create_app(BenchConfig)


def built(database_url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text("SELECT count(*) FROM users WHERE username = 'load03'")).scalar())
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def database_cpu_seconds(database: str) -> float:
    """CPU time so far of the local PostgreSQL backends serving `database` (0 when not local)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if not command.startswith("postgres:") or f" {database} " not in f"{command} ":
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def csrf_of(body: str) -> str:
    match = CSRF.search(body)
    return (match.group(1) or match.group(2)) if match else ""


def count_statements(app, action: Callable[[], object]) -> int:  # type: ignore[no-untyped-def]
    """How many SQL statements one call of action sends."""
    import sqlalchemy as sa

    from service_app.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def listen(*args: object) -> None:
        seen.append(args)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="use the database as it is when already built")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--user", default="load03")
    parser.add_argument("--profile", help="write a cProfile of --page to this file")
    parser.add_argument("--page", default="firms_page7")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bench/pages.py runs against PostgreSQL: set DATABASE_URL=postgresql+psycopg://…/bench")

    import load

    with tempfile.TemporaryDirectory() as work:
        from config import normalise_database_url

        url = normalise_database_url(os.environ["DATABASE_URL"]) or ""
        database = sa_url(url).database or ""
        if not (options.reuse and built(url)):
            load.prepare(fresh_database_url(Path(work)), 30_000)
        app = make_app(url)
        client = app.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        started = time.perf_counter()
        signed_in = client.post(
            "/login", data={"csrf_token": token, "username": options.user, "password": load.PASSWORD}
        )
        login_ms = (time.perf_counter() - started) * 1000
        assert signed_in.status_code == 302, signed_in.status_code
        import sqlalchemy as sa

        from service_app.extensions import db
        from service_app.models import Firm, Followup, User

        with app.app_context():
            user = db.session.scalars(sa.select(User).where(User.username == options.user)).one()
            street_ids = [s.id for s in user.streets]
            firm_id = db.session.scalar(
                sa.select(Firm.id).where(Firm.street_id.in_(street_ids)).order_by(Firm.id).offset(100).limit(1)
            )
            followup_id = db.session.scalar(
                sa.select(Followup.id)
                .join(Firm, Firm.id == Followup.firm_id)
                .where(Firm.street_id.in_(street_ids), Followup.status == "open")
                .order_by(Followup.id)
                .limit(1)
            )
        street = load.street_of(options.user)

        def get(path: str) -> Callable[[], object]:
            def request() -> object:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return response

            return request

        imports = iter(range(10**6))

        def import_roster() -> object:
            page = client.get("/roster/imports").get_data(as_text=True)
            seed = int(time.time() * 1000) % 10**6 * 100 + next(imports)
            uploaded = client.post(
                "/roster/imports",
                data={
                    "csrf_token": csrf_of(page),
                    "mode": "upsert",
                    "file": (io.BytesIO(load.small_roster(seed, street)), "roster.csv"),
                },
            )
            batch = BATCH_URL.search(uploaded.headers.get("Location", ""))
            assert batch, uploaded.status_code
            preview = client.get(f"/roster/imports/{batch.group(1)}").get_data(as_text=True)
            confirmed = client.post(f"/roster/imports/{batch.group(1)}/confirm", data={"csrf_token": csrf_of(preview)})
            assert confirmed.status_code == 302, confirmed.status_code
            return confirmed

        def log_visit() -> object:
            listing = client.get("/followups/?view=all").get_data(as_text=True)
            followup = FOLLOWUP_LINK.findall(listing)[0]
            page = client.get(f"/followups/{followup}").get_data(as_text=True)
            posted = client.post(
                f"/followups/{followup}/visit",
                data={
                    "csrf_token": csrf_of(page),
                    "visit-visited_on": time.strftime("%Y-%m-%d"),
                    "visit-kind": "onsite",
                    "visit-participants": "负载测试",
                    "visit-notes": "走访记录",
                    "visit-request_category": "",
                    "visit-request_urgency": "normal",
                },
            )
            assert posted.status_code == 302, posted.status_code
            return posted

        pages: dict[str, Callable[[], object]] = {
            "healthz": get("/healthz"),
            "home": get("/"),
            "firms": get("/firms/"),
            "firms_page7": get("/firms/?page=7"),
            "firms_search": get("/firms/?q=基准012"),
            "firm_detail": get(f"/firms/{firm_id}"),
            "followups_all": get("/followups/?view=all"),
            "followup_detail": get(f"/followups/{followup_id}"),
            "imports_page": get("/roster/imports"),
            "visit_flow": log_visit,
            "import_flow": import_roster,
        }
        if options.profile:
            action = pages[options.page]
            for _ in range(3):
                action()
            profiler = cProfile.Profile(time.process_time)  # CPU time: waits on the database do not count
            profiler.enable()
            for _ in range(options.runs):
                action()
            profiler.disable()
            profiler.dump_stats(options.profile)
            print(f"profile of {options.page} ({options.runs} runs) in {options.profile}")
            return
        results: dict[str, dict[str, float]] = {}
        for name, action in pages.items():
            runs = max(5, options.runs // 5) if name.endswith("_flow") else options.runs
            for _ in range(2):
                action()
            times, cpu = [], []
            database_cpu = database_cpu_seconds(database)
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                action()
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            database_cpu = database_cpu_seconds(database) - database_cpu
            results[name] = {
                "median_ms": round(statistics.median(times), 1),
                "best_ms": round(min(times), 1),
                "cpu_ms": round(statistics.median(cpu), 1),
                "database_cpu_ms": round(database_cpu / runs * 1000, 2),
                "statements": count_statements(app, action),
            }
    print(
        json.dumps(
            {"user": options.user, "login_ms": round(login_ms, 1), "load": os.getloadavg()[0], "pages": results},
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
