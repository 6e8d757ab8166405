"""Four processes writing into one SQLite file at once (web sign-ins and edits, the daily sweep):
none fails with "database is locked"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from config import TestConfig
from service_app import create_app
from service_app.domain.tiers import Tier
from service_app.extensions import db
from service_app.models import AuditEvent, Firm

from .. import factories

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
ROUNDS = 5


def test_four_processes_write_to_one_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        for n in range(WRITERS):
            street = factories.make_street(f"街道{n}", f"33011300{n}")
            factories.make_user(f"writer{n}", "officer", [street])
            factories.make_firm(street, name=f"writer{n}有限公司", current_tier=list(Tier)[n % 4])
            for m in range(20):
                factories.make_firm(street, name=f"街道{n}企业{m}", current_tier=list(Tier)[m % 4])
        db.session.commit()
        db.engine.dispose()

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.faults.sqlite_writer", url, f"writer{n}", str(ROUNDS), str(WRITERS)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(WRITERS)
    ]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    errors = [err.decode() for _, err in outputs]
    assert not any("database is locked" in err for err in errors), errors
    assert all(writer.returncode == 0 for writer in writers), errors
    counts = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert all(c == {"requests": 4 * ROUNDS, "sweeps": ROUNDS, "errors": 0} for c in counts), counts

    with app.app_context():
        signed_in = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.login")
        )
        notes = db.session.scalars(sa.select(Firm.notes).where(Firm.name.like("writer%"))).all()
        db.engine.dispose()
    assert signed_in == WRITERS * ROUNDS
    assert sorted(notes) == [f"writer{n} {ROUNDS - 1}" for n in range(WRITERS)]
