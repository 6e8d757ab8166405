"""An import whose process is killed (SIGKILL) while it writes: nothing half-written, the batch
marked failed, and running the same import again works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade
from stdnum.cn import uscc

from config import TestConfig
from service_app import create_app
from service_app.extensions import db
from service_app.models import Firm, ImportBatch, ImportStatus, QuarterlyMetric
from service_app.roster.services import recover_interrupted_imports

from .. import factories

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000


def write_roster(path: Path) -> None:
    """ROWS firms with a quarter of figures, as a CSV roster."""
    lines = ["统一社会信用代码,企业名称,所在街道,所属产业链,季度,营业收入（万元）,税收（万元）,从业人数"]
    for n in range(ROWS):
        body = f"91330113{n:09d}"
        firm = f"{body}{uscc.calc_check_digit(body)},杭州中断{n:06d}号有限公司,临平街道,数字贸易"
        lines.append(f"{firm},2026Q3,{n % 900}.5,{n % 40}.1,{n % 300}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def counts(app) -> tuple[int, int, list[tuple[ImportStatus, str | None]]]:
    with app.app_context():
        firms = db.session.scalar(sa.select(sa.func.count()).select_from(Firm))
        metrics = db.session.scalar(sa.select(sa.func.count()).select_from(QuarterlyMetric))
        batches = [(b.status, b.failure) for b in db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id))]
        db.session.remove()
    return firms, metrics, batches


def test_an_import_killed_while_writing_leaves_nothing_and_runs_again(empty_database_url, tmp_path):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        factories.make_street("临平街道", "330113001")
        db.session.commit()
        db.session.remove()
    roster = tmp_path / "名录.csv"
    write_roster(roster)
    env = {**os.environ, "DATABASE_URL": empty_database_url, "SECRET_KEY": "x"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "roster", "import", str(roster)]

    log = tmp_path / "first-run.log"
    with log.open("wb") as output:
        run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    status = None
    while time.monotonic() < deadline and run.poll() is None:
        with app.app_context():
            status = db.session.scalar(sa.select(ImportBatch.status))
            db.session.remove()
        if status == ImportStatus.APPLYING:
            run.send_signal(signal.SIGKILL)  # while it writes its 20,000 firms
            break
        time.sleep(0.005)
    run.wait(timeout=60)
    assert status == ImportStatus.APPLYING, f"never caught it writing: {log.read_text()[-2000:]}"
    assert run.returncode == -signal.SIGKILL

    firms, metrics, batches = counts(app)
    assert (firms, metrics) == (0, 0)  # nothing half-written
    assert batches == [(ImportStatus.APPLYING, None)]  # as the dead process left it
    with app.app_context():
        assert recover_interrupted_imports() == 1  # its process is gone: marked failed at once
        db.session.remove()
    _, _, batches = counts(app)
    assert batches[0][0] == ImportStatus.FAILED and "中断" in (batches[0][1] or "")

    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    firms, metrics, batches = counts(app)
    assert (firms, metrics) == (ROWS, ROWS)
    assert [status for status, _ in batches] == [ImportStatus.FAILED, ImportStatus.APPLIED]
    with app.app_context():
        db.engine.dispose()
