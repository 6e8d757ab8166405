"""Load benchmark: gunicorn on PostgreSQL with 30,000 firms, 50 officers working at once.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/load.py \
        [--users 50] [--seconds 60] [--workers 5] [--firms 30000] [--baseline-seconds 10]

Loopback only. Builds the database (bench/export_roster.py's 30,000 firms with figures, tiers,
follow-ups, visits and requests), shares the firms among 48 officers (six per street) and two
street-office users, then starts `gunicorn -w WORKERS wsgi:app` on 127.0.0.1 with CSRF on and a
real secret key, as in production.

- baseline: USERS threads requesting /healthz (the app's cheapest route: one `SELECT 1`) for
  BASELINE seconds: what this machine, this server and this client do with no page work at all;
- load: USERS simulated users for SECONDS, each signing in once, then in a loop, without pause:
  listing firms (a random page), searching (part of a name), opening a firm, opening "My
  follow-ups" and logging a visit (officers), and now and then uploading a roster of five of
  their own firms with new contacts and confirming its preview (every confirmed import must end
  applied, or it counts as an error). Meanwhile the daily sweep and a 30,000-firm export run as
  the scheduler and a user's background export would: at the scheduler's niceness
  (SCHEDULER_NICE, 10).

The JSON also says where the two cores went during the load: CPU seconds of the app server, of
PostgreSQL, of this client and of everything else (the background jobs while they ran).

An error is a 5xx, a refused connection, a timeout, a page that is not what the step expects (a
form that does not come back with a redirect, say), or a form the app refused politely: a visit
sent back to its own follow-up, a confirmed import that did not end applied. Prints JSON with throughput, p50/p95/p99
and errors per step, and keeps it in bench/results/load-<time>.json. Target: 0 errors, p95 ≤ 300
ms, ≥ 200 requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _database import fresh_database_url  # noqa: E402

RESULTS = ROOT / "bench" / "results"
#: The sweep and the export run at the scheduler's niceness (config.Config.SCHEDULER_NICE).
BACKGROUND_NICE = int(os.environ.get("SCHEDULER_NICE", "10"))
PASSWORD = "bench-password"  # noqa: S105 - the load users of a throwaway database
STREETS = 8
OFFICERS_PER_STREET = 6
CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]+)"')
FOLLOWUP_LINK = re.compile(r'href="/followups/(\d+)"')
BATCH_URL = re.compile(r"/roster/imports/(\d+)$")
#: How often each step is chosen, for an officer (street offices only read).
STEPS = (("list", 30), ("search", 20), ("open", 30), ("visit", 15), ("import", 5))
DISTRICT_STEPS = (("list", 40), ("search", 30), ("open", 30))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: A user's firms, as (id, credit code, name): opened by id, rostered by code and name.
Firms = list[tuple[int, str, str]]


def prepare(database_url: str, firms: int) -> dict[str, Firms]:
    """Build the data set and the users; returns each user's firms."""
    import export_roster
    import sqlalchemy as sa

    export_roster.build(database_url, firms)
    from service_app.domain.followups import FollowupStatus
    from service_app.domain.tiers import Role
    from service_app.extensions import db
    from service_app.models import Firm, Followup, Street, User

    app = export_roster.make_app(database_url)
    owned: dict[str, Firms] = {}
    with app.app_context():
        streets = db.session.scalars(sa.select(Street).order_by(Street.id)).all()
        users = []
        for n in range(STREETS * OFFICERS_PER_STREET):
            user = User(username=f"load{n:02d}", role=Role.OFFICER, display_name=f"专员{n:02d}")
            user.set_password(PASSWORD, "pbkdf2:sha256:1000")
            user.streets = [streets[n % STREETS]]
            users.append(user)
        for n in range(2):
            user = User(username=f"district{n}", role=Role.DISTRICT, display_name=f"街道{n}")
            user.set_password(PASSWORD, "pbkdf2:sha256:1000")
            user.streets = [streets[n]]
            users.append(user)
        db.session.add_all(users)
        db.session.flush()
        officers = users[: STREETS * OFFICERS_PER_STREET]
        # Firm n is in street n % 8 (export_roster's layout); its officer is one of that street's six.
        for street_index, street in enumerate(streets):
            rows = db.session.execute(
                sa.select(Firm.id, Firm.credit_code, Firm.name).where(Firm.street_id == street.id).order_by(Firm.id)
            ).all()
            for k in range(OFFICERS_PER_STREET):
                officer = officers[street_index + STREETS * k]
                theirs = [(row.id, row.credit_code, row.name) for row in rows[k::OFFICERS_PER_STREET]]
                mine = [firm_id for firm_id, _, _ in theirs]
                db.session.execute(sa.update(Firm).where(Firm.id.in_(mine)).values(officer_id=officer.id))
                # Their open follow-ups go with the firms, as reassigning firms does, so "My
                # follow-ups" lists them and the visit step has visits to log.
                db.session.execute(
                    sa.update(Followup)
                    .where(Followup.firm_id.in_(mine), Followup.status == FollowupStatus.OPEN)
                    .values(officer_id=officer.id)
                )
                owned[officer.username] = theirs
        for n in range(2):
            owned[f"district{n}"] = [
                (row.id, row.credit_code, row.name)
                for row in db.session.execute(
                    sa.select(Firm.id, Firm.credit_code, Firm.name).where(Firm.street_id == streets[n].id).limit(2000)
                )
            ]
        db.session.commit()
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # as autovacuum would have long before a real day's work
        db.engine.dispose()
    return owned


def start_server(database_url: str, workers: int, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": uuid.uuid4().hex,
        "APP_ENV": "production",
        "EXPORT_FOLDER": str(log.parent / "exports"),
        # The load signs 50 users in from one address within seconds: not an attack to refuse.
        "LOGIN_LIMIT_PER_ADDRESS": "100000 per 15 minutes",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "wsgi:app",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"gunicorn did not start; see {log}")


class Recorder:
    """Latencies and errors per step, shared by the user threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.confirmed: list[int] = []  # the import batches the users confirmed

    def add(self, step: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.times[step].append(seconds)
            if error:
                self.errors[step].append(error)

    def refused(self, step: str, error: str) -> None:
        """An answer that looked right (a redirect) but said no: an error, not another timing."""
        with self.lock:
            self.errors[step].append(error)


class Client:
    """One signed-in browser: its cookies, no automatic redirects, timed requests.

    Plain http.client, one connection per request (gunicorn's sync workers close each one): the
    client shares the two cores with the server, and urllib's opener and cookie jar cost about
    twice as much CPU per request for nothing a loopback load needs."""

    def __init__(self, base: str, recorder: Recorder) -> None:
        address = urllib.parse.urlsplit(base)
        self.host, self.port = address.hostname or "127.0.0.1", address.port or 80
        self.recorder = recorder
        self.cookies: dict[str, str] = {}

    def request(
        self, step: str, path: str, data: bytes | None = None, content_type: str | None = None, expect: int = 200
    ) -> tuple[int, str, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        error = None
        status, body, location = 0, "", ""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request("POST" if data is not None else "GET", path, data, headers)
            response = connection.getresponse()
            status, body = response.status, response.read().decode("utf-8", "replace")
            location = response.getheader("Location", "")
            for cookie in response.headers.get_all("Set-Cookie") or ():
                self.keep(cookie)
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        if error is None and status != expect:
            error = f"{path}: {status} (expected {expect})"
        self.recorder.add(step, elapsed, error)
        return status, body, location

    def keep(self, header: str) -> None:
        """Remember a Set-Cookie (all of this app's cookies are for / on this host), or forget one
        the server expires."""
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        expired = re.search(r"max-age=0\b|expires=[^;]*1970", attributes, re.IGNORECASE)
        if expired or not value:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def post_form(self, step: str, path: str, fields: dict[str, str], expect: int = 302) -> tuple[int, str, str]:
        return self.request(
            step, path, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded", expect
        )

    def post_file(self, step: str, path: str, fields: dict[str, str], name: str, data: bytes) -> tuple[int, str, str]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            for key, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(step, path, body, f"multipart/form-data; boundary={boundary}", 302)


def street_of(username: str) -> str:
    """The street a load user covers (officer n covers street n % 8; district n street n)."""
    from export_roster import STREETS as NAMES

    return NAMES[int(username.removeprefix("load").removeprefix("district")) % STREETS]


def csrf_of(body: str) -> str:
    tag = CSRF.search(body)
    value = VALUE.search(tag.group(0)) if tag else None
    return value.group(1) if value else ""


def small_roster(rng: random.Random, street: str, firms: Firms) -> bytes:
    """Five of the officer's own firms with a new contact, as a CSV roster: what an officer may
    import (officers update their firms' status and contacts; the rest is for supervisors)."""
    lines = ["统一社会信用代码,企业名称,所在街道,联系人,联系电话"]
    for _, code, name in rng.sample(firms, 5):
        lines.append(f"{code},{name},{street},联系人{rng.randint(1, 99)},138{rng.randint(0, 10**8 - 1):08d}")
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def user_loop(base: str, username: str, firms: Firms, street: str, seed: int, stop: float, recorder: Recorder) -> None:
    rng = random.Random(seed)
    client = Client(base, recorder)
    _, body, _ = client.request("login", "/login")
    client.post_form("login", "/login", {"csrf_token": csrf_of(body), "username": username, "password": PASSWORD})
    steps, weights = zip(*(DISTRICT_STEPS if username.startswith("district") else STEPS), strict=True)
    while time.monotonic() < stop:
        step = rng.choices(steps, weights)[0]
        if step == "list":
            client.request(step, f"/firms/?page={rng.randint(1, 20)}")
        elif step == "search":
            client.request(step, "/firms/?" + urllib.parse.urlencode({"q": f"基准{rng.randint(0, 299):03d}"}))
        elif step == "open":
            client.request(step, f"/firms/{rng.choice(firms)[0]}")
        elif step == "visit":
            _, body, _ = client.request(step, "/followups/?view=all")
            links = FOLLOWUP_LINK.findall(body)
            if not links:
                continue
            followup = rng.choice(links)
            _, page, _ = client.request(step, f"/followups/{followup}")
            token = csrf_of(page)
            if not token or "visited_on" not in page:
                continue  # completed meanwhile by this user's earlier visit: nothing to log
            _, _, location = client.post_form(
                step,
                f"/followups/{followup}/visit",
                {  # the visit form as a browser posts it (its fields carry the form's prefix)
                    "csrf_token": token,
                    "visit-visited_on": time.strftime("%Y-%m-%d"),
                    "visit-kind": "onsite",
                    "visit-participants": "负载测试",
                    "visit-notes": "走访记录",
                    "visit-request_category": "",
                    "visit-request_urgency": "normal",
                },
            )
            if location.endswith(f"/followups/{followup}"):  # refused: back to the same follow-up
                recorder.refused(step, f"visit to follow-up {followup} refused")
        elif step == "import":
            _, page, _ = client.request(step, "/roster/imports")
            status, _, location = client.post_file(
                step,
                "/roster/imports",
                {"csrf_token": csrf_of(page), "mode": "upsert"},
                "roster.csv",
                small_roster(rng, street, firms),
            )
            match = BATCH_URL.search(location)
            if status != 302 or not match:
                continue
            _, preview, _ = client.request(step, f"/roster/imports/{match.group(1)}")
            status, _, _ = client.post_form(
                step, f"/roster/imports/{match.group(1)}/confirm", {"csrf_token": csrf_of(preview)}
            )
            if status == 302:  # applied or refused alike: check_imports tells which
                with recorder.lock:
                    recorder.confirmed.append(int(match.group(1)))


def check_imports(database_url: str, recorder: Recorder) -> dict[str, int]:
    """Every confirmed import must have been applied: one that was refused (its rows out of the
    officer's scope, say) counts as an error of the import step. Returns the batches by status."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                sa.text("SELECT id, status FROM import_batches WHERE id = ANY(:ids)"), {"ids": recorder.confirmed}
            ).all()
        )
    engine.dispose()
    for batch_id in recorder.confirmed:
        if statuses.get(batch_id) != "applied":
            recorder.refused("import", f"batch {batch_id} confirmed but {statuses.get(batch_id, 'missing')}")
    counts: dict[str, int] = defaultdict(int)
    for status in statuses.values():
        counts[status] += 1
    return dict(sorted(counts.items()))


def baseline_loop(base: str, stop: float, recorder: Recorder) -> None:
    client = Client(base, recorder)
    while time.monotonic() < stop:
        client.request("healthz", "/healthz")


def summarise(recorder: Recorder, seconds: float) -> dict[str, object]:
    every = sorted(t for times in recorder.times.values() for t in times)

    def cut(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else 0.0

    return {
        "requests": len(every),
        "requests_per_s": round(len(every) / seconds, 1),
        "p50_ms": cut(every, 0.50),
        "p95_ms": cut(every, 0.95),
        "p99_ms": cut(every, 0.99),
        "errors": sum(len(e) for e in recorder.errors.values()),
        "steps": {
            step: {
                "requests": len(times),
                "median_ms": round(statistics.median(times) * 1000, 1),
                "p95_ms": cut(sorted(times), 0.95),
                "errors": len(recorder.errors.get(step, [])),
                "first_errors": recorder.errors.get(step, [])[:3],
            }
            for step, times in sorted(recorder.times.items())
        },
    }


def cpu_by_process() -> dict[int, tuple[int, str, float]]:
    """Every process's (parent, command, CPU seconds so far), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    seen: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seen[int(entry.name)] = (int(fields[1]), command, (int(fields[11]) + int(fields[12])) / tick)
    return seen


def cpu_breakdown(
    before: dict[int, tuple[int, str, float]], after: dict[int, tuple[int, str, float]], server: int, seconds: float
) -> dict[str, float]:
    """CPU seconds spent in the load window by the app server, PostgreSQL, this client and the rest.

    Processes that ended within the window (the background jobs) are counted by the caller from
    their own rusage; this sees only the living.
    """
    spent: dict[str, float] = defaultdict(float)
    for pid, (parent, command, total) in after.items():
        used = total - before.get(pid, (0, "", 0.0))[2]
        if pid == server or parent == server:
            spent["app_server"] += used
        elif command.startswith("postgres"):
            spent["postgresql"] += used
        elif pid == os.getpid():
            spent["load_client"] += used
        else:
            spent["other"] += used
    result = {name: round(value, 1) for name, value in sorted(spent.items())}
    result["capacity"] = round(seconds * (os.cpu_count() or 1), 1)
    return result


def run_threads(target, count: int, seconds: float, arguments) -> Recorder:  # type: ignore[no-untyped-def]
    """`count` threads running target(*arguments(n), stop, recorder) for `seconds`."""
    recorder = Recorder()
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=target, args=(*arguments(n), stop, recorder), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return recorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--firms", type=int, default=30_000)
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bench/load.py runs against PostgreSQL: set DATABASE_URL=postgresql+psycopg://…/bench")

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        database_url = fresh_database_url(folder)
        started = time.perf_counter()
        owned = prepare(database_url, options.firms)
        prepared = time.perf_counter() - started
        users = sorted(owned)[: options.users]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(database_url, options.workers, port, folder / "gunicorn.log")
        try:
            base_recorder = run_threads(baseline_loop, options.users, options.baseline_seconds, lambda n: (base,))
            env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench"}
            flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
            cpu_before = cpu_by_process()
            load_started = time.monotonic()
            # The jobs run at the scheduler's niceness, as `flask scheduler run` runs them in production.
            background = [
                subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.nice(BACKGROUND_NICE)
                )
                for command in (
                    [*flask, "followups", "sweep"],
                    [*flask, "roster", "export", "-o", str(folder / "all.xlsx")],
                )
            ]
            recorder = run_threads(
                user_loop,
                len(users),
                options.seconds,
                lambda n: (base, users[n], owned[users[n]], street_of(users[n]), n + 1),
            )
            cpu_after = cpu_by_process()
            load_seconds = time.monotonic() - load_started
            imports = check_imports(database_url, recorder)
            # The background jobs are this process's children: os.wait4 gives each its own CPU.
            background_codes, background_cpu = [], 0.0
            for process in background:
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = os.waitstatus_to_exitcode(status)
                background_codes.append(process.returncode)
                background_cpu += usage.ru_utime + usage.ru_stime
            cpu = cpu_breakdown(cpu_before, cpu_after, server.pid, load_seconds)
            # What the jobs spent is in "other" while they ran within the window; report it whole.
            cpu["background_jobs_whole_run"] = round(background_cpu, 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        server_errors = [
            line
            for line in (folder / "gunicorn.log").read_text(errors="replace").splitlines()
            if "Traceback" in line or "[ERROR]" in line or "WORKER TIMEOUT" in line
        ]
    result = {
        "benchmark": "load",
        "firms": options.firms,
        "users": len(users),
        "workers": options.workers,
        "cores": os.cpu_count(),
        "seconds": options.seconds,
        "prepare_s": round(prepared, 1),
        "load": summarise(recorder, options.seconds),
        "import_batches_confirmed_by_status": imports,
        "baseline_healthz": summarise(base_recorder, options.baseline_seconds),
        "cpu_seconds_during_load": cpu,
        "background_niceness": BACKGROUND_NICE,
        "background_exit_codes": {"sweep": background_codes[0], "export_30000": background_codes[1]},
        "server_errors": server_errors[:10],
        "targets": {"errors": 0, "p95_ms": 300, "requests_per_s": 200},
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
