"""Two real `flask scheduler run` processes on one database: one leads, the other waits; the leader
killed with SIGKILL, the other takes over within seconds, runs nothing twice and what was missed once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from config import TestConfig
from service_app import create_app
from service_app.extensions import db
from service_app.job_runs import latest_fire_time
from service_app.leadership import AdvisoryLock, FileLock, wait_for_leadership
from service_app.models import JobRun, JobRunStatus
from service_app.scheduler import JOBS, watch_leadership

ROOT = Path(__file__).resolve().parents[1]
TAKEOVER_SECONDS = 15


class Scheduler:
    """One scheduler process, its output in a file."""

    def __init__(self, url: str, log: Path) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "x",
            "SCHEDULER_LEADER_RETRY_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds until `text` appears in the output; fails on timeout or when the process exits."""
        start = time.monotonic()
        while text not in self.output():
            assert self.process.poll() is None, self.output()[-3000:]
            assert time.monotonic() - start < timeout, f"no {text!r} within {timeout} s:\n{self.output()[-3000:]}"
            time.sleep(0.05)
        return time.monotonic() - start

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def scheduler_database(empty_database_url):
    """A migrated, empty database, as the scheduler processes see it."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    other = create_app(Config)
    with other.app_context():
        upgrade()
        db.engine.dispose()
    yield empty_database_url, other
    with other.app_context():
        db.engine.dispose()


def test_one_leads_the_other_takes_over_when_it_is_killed(scheduler_database, tmp_path):
    url, other = scheduler_database
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    sweep = next(job for job in JOBS if job.id == "followups.daily_sweep")
    latest_sweep = latest_fire_time(sweep.trigger(), now)
    with other.app_context():
        # the sweep ran the day before its latest fire time, then the schedulers were down
        db.session.add(
            JobRun(
                job_id=sweep.id,
                scheduled_for=latest_sweep - dt.timedelta(days=1),
                status=JobRunStatus.DONE,
                runner="old:1",
                finished_at=latest_sweep - dt.timedelta(days=1),
            )
        )
        db.session.commit()

    first = Scheduler(url, tmp_path / "first.log")
    second = None
    try:
        first.wait_for("next run", timeout=90)
        assert "leader:" in first.output()
        assert "running at niceness 10" in first.output()  # the jobs give way to web requests
        assert "followups.daily_sweep" in first.output().split("caught up:")[1].splitlines()[0]
        second = Scheduler(url, tmp_path / "second.log")
        second.wait_for("standby", timeout=60)
        time.sleep(1)
        assert "leader:" not in second.output()

        with other.app_context():
            before = {(r.job_id, r.scheduled_for, r.runner) for r in db.session.scalars(sa.select(JobRun))}
        assert sum(1 for job_id, *_ in before if job_id == sweep.id) == 2  # the old run and one catch-up

        first.process.kill()  # SIGKILL: no clean-up, the lock goes with the process
        first.process.wait()
        took = second.wait_for("leader:", timeout=TAKEOVER_SECONDS)
        second.wait_for("next run", timeout=60)
        assert took < TAKEOVER_SECONDS

        with other.app_context():
            after = db.session.scalars(sa.select(JobRun)).all()
            fire_times = [(r.job_id, r.scheduled_for) for r in after]
            assert len(fire_times) == len(set(fire_times))  # no fire time ran twice
            frequent = {"exports.build_packs", "roster.recover_interrupted"}  # may fire during the test
            daily = [r for r in after if r.job_id not in frequent]
            assert {(r.job_id, r.scheduled_for, r.runner) for r in daily} == {
                run for run in before if run[0] not in frequent
            }  # the new leader re-ran nothing the first one had run
            assert all(r.status == JobRunStatus.DONE for r in after)
        second.stop()
        assert second.process.returncode == 0, second.output()[-3000:]
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_file_lock_admits_one_holder_until_released(tmp_path):
    path = tmp_path / "service.db.scheduler.lock"
    first, second = FileLock(path), FileLock(path)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_advisory_lock_is_lost_with_its_connection(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = sa.create_engine(database_url)
    first, second = AdvisoryLock(engine, key=4242), AdvisoryLock(engine, key=4242)
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        with engine.connect() as conn:  # the leader's session dies (a crash, a network cut)
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
                    " AND pid <> pg_backend_pid()"
                )
            )
        assert not first.still_held()
        deadline = time.monotonic() + 5
        while not second.try_acquire():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert second.still_held()
    finally:
        first.release()
        second.release()
        engine.dispose()


def test_standby_retries_until_the_lock_is_free():
    class Taken:
        tries = 0

        def try_acquire(self):
            self.tries += 1
            return self.tries == 3

    told, slept = [], []
    lock = Taken()
    wait_for_leadership(lock, 0.5, lambda: told.append(True), sleep=slept.append)
    assert lock.tries == 3 and told == [True] and slept == [0.5, 0.5]


def test_a_leader_that_lost_its_lock_stops_scheduling():
    class Lost:
        def still_held(self):
            return False

    class FakeScheduler:
        stopped = False

        def shutdown(self, wait=True):
            self.stopped = True

    scheduler, lost = FakeScheduler(), []
    watch_leadership(scheduler, Lost(), lost)
    assert scheduler.stopped and lost == [True]


def test_lower_priority_only_ever_raises_the_niceness():
    """A process cannot take back niceness it gave: asking for less than it has leaves it as it is."""
    script = (
        "from service_app.scheduler import lower_priority;"
        "print(lower_priority(5), lower_priority(3), lower_priority(7), lower_priority(0))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    base = os.nice(0)  # the child starts as nice as this process
    assert out.stdout.split() == [str(max(base, n)) for n in (5, 5, 7, 7)]
