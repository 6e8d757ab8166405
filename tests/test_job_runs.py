"""No fire time of a job runs twice; a missed one, or one a dead leader left half done, runs once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service_app.extensions import db
from service_app.job_runs import as_utc, claim_run, latest_fire_time
from service_app.models import JobRun, JobRunStatus
from service_app.scheduler import Job, catch_up, run_job

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLS: list[str] = []


def count_call() -> str:
    """A job that only counts its runs."""
    CALLS.append("ran")
    return "ran"


def fail() -> None:
    """A job that fails."""
    raise ValueError("no such quarter")


DAILY = Job("test.daily", "tests.test_job_runs:count_call", {"hour": 7, "minute": 30})
EVERY_TWO = Job("test.every_two", "tests.test_job_runs:count_call", {"minute": "*/2"})
FAILING = Job("test.failing", "tests.test_job_runs:fail", {"hour": 7, "minute": 30})


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


def runs(job_id: str) -> list[JobRun]:
    return db.session.scalars(sa.select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.scheduled_for)).all()


@pytest.mark.parametrize(
    ("job", "now", "expected"),
    [
        (DAILY, at(26, 10), at(26, 7, 30)),
        (DAILY, at(26, 7, 29), at(25, 7, 30)),
        (DAILY, at(26, 7, 30), at(26, 7, 30)),
        (EVERY_TWO, at(26, 10, 5), at(26, 10, 4)),
    ],
)
def test_latest_fire_time(job, now, expected):
    assert latest_fire_time(job.trigger(), now) == expected.astimezone(dt.UTC)


def test_a_fire_time_is_claimed_once(ctx):
    fire = at(26, 7, 30)
    first = claim_run("test.daily", fire)
    assert first is not None
    assert claim_run("test.daily", fire) is None
    assert claim_run("test.daily", at(27, 7, 30)) is not None


def test_run_job_skips_a_fire_time_another_process_ran(app, ctx):
    assert run_job(app, DAILY, now=at(26, 7, 30)) == "ran"
    assert run_job(app, DAILY, now=at(26, 7, 31)) is None  # the same fire time, asked again
    assert CALLS == ["ran"]
    [run] = runs("test.daily")
    assert run.status == JobRunStatus.DONE and run.finished_at is not None


def test_a_missed_run_runs_once_however_many_were_missed(app, ctx):
    assert catch_up(app, [DAILY], now=at(20, 12)) == ["test.daily"]  # nothing recorded yet
    assert catch_up(app, [DAILY], now=at(20, 13)) == []
    assert catch_up(app, [DAILY], now=at(26, 9)) == ["test.daily"]  # six days down: once, for the 26th
    assert catch_up(app, [DAILY], now=at(26, 9, 1)) == []
    assert CALLS == ["ran", "ran"]
    assert [as_utc(r.scheduled_for) for r in runs("test.daily")] == [
        dt.datetime(2026, 11, 19, 23, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC),
    ]


def test_a_run_a_dead_leader_left_running_runs_again_once(app, ctx):
    old = claim_run("test.daily", at(24, 7, 30))
    latest = claim_run("test.daily", at(26, 7, 30))  # both "running": their process died
    assert old and latest
    db.session.execute(sa.update(JobRun).values(runner="dead-host:1"))
    db.session.commit()
    assert catch_up(app, [DAILY], now=at(26, 10)) == ["test.daily"]
    assert catch_up(app, [DAILY], now=at(26, 10, 1)) == []
    assert CALLS == ["ran"]
    first, second = runs("test.daily")
    assert first.status == JobRunStatus.FAILED and "interrupted" in first.error
    assert second.status == JobRunStatus.DONE and second.runner != "dead-host:1"


def test_a_failing_job_is_recorded_not_raised(app, ctx):
    assert run_job(app, FAILING, now=at(26, 8)) is None
    [run] = runs("test.failing")
    assert run.status == JobRunStatus.FAILED
    assert run.error == "ValueError: no such quarter"
    assert catch_up(app, [FAILING], now=at(26, 9)) == []  # failed is not missed: the next fire time retries
