"""One of several processes writing into one SQLite file at once: `python -m tests.faults.sqlite_writer
URL NAME ROUNDS WRITERS`. Once its app is built it waits for the other writers (a file per writer
beside the database), so all write at the same time. Each round signs in through the web app (a
wrong password, then the right one: reads, then writes the audit, the counters and last_login),
edits its firm's notes through the web form and runs the daily sweep (the scheduler's job).
Prints one JSON line of counts; exits 1 on any error."""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from config import Config
from service_app import create_app

from .. import factories


def wait_for_the_others(url: str, name: str, writers: int) -> None:
    """Say this writer is ready, then wait (a minute at most) until every writer is."""
    folder = Path(url.removeprefix("sqlite:///")).parent
    (folder / f"ready-{name}").touch()
    deadline = time.monotonic() + 60
    while len(list(folder.glob("ready-*"))) < writers and time.monotonic() < deadline:
        time.sleep(0.01)


def main(url: str, name: str, rounds: int, writers: int) -> int:
    class WriterConfig(Config):
        SQLALCHEMY_DATABASE_URI = url
        SECRET_KEY = "writer"
        WTF_CSRF_ENABLED = False
        LOGIN_LIMIT_PER_ACCOUNT = LOGIN_LIMIT_PER_ADDRESS = "1000 per minute"
        RATELIMIT_STORAGE_URI = "servicedb://"

    app = create_app(WriterConfig)
    from service_app.extensions import db
    from service_app.followups.tasks import daily_sweep
    from service_app.models import Firm

    with app.app_context():
        firm_id = db.session.query(Firm.id).filter(Firm.name == f"{name}有限公司").scalar()
    counts = {"requests": 0, "sweeps": 0, "errors": 0}
    client = app.test_client()
    wait_for_the_others(url, name, writers)
    for n in range(rounds):
        try:
            responses = [
                client.post("/login", data={"username": name, "password": "wrong"}),
                client.post("/login", data={"username": name, "password": factories.PASSWORD}),
                client.post(
                    f"/firms/{firm_id}/edit",
                    data={"status": "active", "notes": f"{name} {n}", "version": _version(app, firm_id)},
                ),
                client.post("/logout"),
            ]
            counts["requests"] += len(responses)
            bad = [r.status_code for r in responses if r.status_code >= 500]
            if bad:
                raise RuntimeError(f"server errors {bad}: {responses[-1].text[:200]}")
            with app.app_context():
                daily_sweep()
            counts["sweeps"] += 1
        except Exception:
            counts["errors"] += 1
            traceback.print_exc()
    print(json.dumps(counts))
    return 1 if counts["errors"] else 0


def _version(app, firm_id: int) -> int:
    from service_app.extensions import db
    from service_app.models import Firm

    with app.app_context():
        return db.session.get(Firm, firm_id).version


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
