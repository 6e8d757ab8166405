"""Each declared job runs once per fire time, whichever scheduler process asks: a run first claims its
fire time in job_runs (unique per job), so a second claim finds it taken. A leader that takes over
runs, once, each job's latest fire time that no process ran (the scheduler was down) or that a dead
leader left half done (its transaction was rolled back with it)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.exc import IntegrityError

from .database import begin_writing
from .extensions import db
from .models import JobRun, JobRunStatus
from .models.types import utcnow

log = logging.getLogger(__name__)

#: How far back the latest fire time is looked for; every declared job fires at least daily.
LOOKBACKS = (dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(days=8))
#: Runs older than this are deleted (the two-minute job alone writes 720 a day).
KEEP_RUNS = dt.timedelta(days=30)


def runner_name() -> str:
    """This process, as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def latest_fire_time(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """The trigger's last fire time at or before `now` (UTC), or None within the lookback."""
    for lookback in LOOKBACKS:
        latest = None
        fire = trigger.get_next_fire_time(None, now - lookback)
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if latest is not None:
            return latest.astimezone(dt.UTC)
    return None


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Fire times are kept in UTC (SQLite stores the UTC wall time, PostgreSQL the instant)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def claim_run(job_id: str, fire: dt.datetime) -> int | None:
    """Claim `fire` for this process and commit; the run's id, or None when it is taken already."""
    begin_writing()
    run = JobRun(job_id=job_id, scheduled_for=as_utc(fire), runner=runner_name(), status=JobRunStatus.RUNNING)
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:
        db.session.commit()  # nothing of ours in it: the fire time was taken
        return None
    db.session.execute(
        sa.delete(JobRun).where(JobRun.job_id == job_id, JobRun.scheduled_for < as_utc(fire - KEEP_RUNS))
    )
    db.session.commit()
    return run.id


def _take_over(run: JobRun) -> int | None:
    """Claim a run a dead leader left `running`; None if someone else got to it first."""
    taken = db.session.execute(
        sa.update(JobRun)
        .where(JobRun.id == run.id, JobRun.status == JobRunStatus.RUNNING, JobRun.runner == run.runner)
        .values(runner=runner_name(), started_at=utcnow())
    )
    db.session.commit()
    return run.id if taken.rowcount else None  # type: ignore[attr-defined]


def finish_run(run_id: int, error: str = "") -> None:
    """Record how a run ended, in its own transaction."""
    db.session.rollback()  # whatever the job left open
    db.session.execute(
        sa.update(JobRun)
        .where(JobRun.id == run_id)
        .values(status=JobRunStatus.FAILED if error else JobRunStatus.DONE, finished_at=utcnow(), error=error[:2000])
    )
    db.session.commit()


def execute_claimed(run_id: int, job_id: str, function: Callable[[], Any]) -> Any:
    """Run a claimed job and record the outcome; a failure is logged, not raised (the next fire time
    runs it again)."""
    try:
        result = function()
    except Exception as error:
        log.exception("job %s failed", job_id)
        finish_run(run_id, f"{type(error).__name__}: {error}")
        return None
    finish_run(run_id)
    return result


def runs_to_catch_up(job_id: str, trigger: BaseTrigger, now: dt.datetime) -> int | None:
    """For a leader that has just taken over: claim the job's latest fire time if nobody ran it, or if
    a dead leader left it running; the run's id, or None when there is nothing to catch up."""
    fire = latest_fire_time(trigger, now)
    if fire is None:
        return None
    begin_writing()
    # older runs a dead leader left open will not run again: the latest fire time covers them
    db.session.execute(
        sa.update(JobRun)
        .where(JobRun.job_id == job_id, JobRun.status == JobRunStatus.RUNNING, JobRun.scheduled_for < as_utc(fire))
        .values(status=JobRunStatus.FAILED, finished_at=utcnow(), error="interrupted: its scheduler stopped")
    )
    existing = db.session.scalars(
        sa.select(JobRun).where(JobRun.job_id == job_id, JobRun.scheduled_for == as_utc(fire))
    ).first()
    if existing is None:
        return claim_run(job_id, fire)
    if existing.status == JobRunStatus.RUNNING:
        log.warning("job %s of %s was left running by %s: running it again", job_id, fire, existing.runner)
        return _take_over(existing)
    db.session.commit()
    return None
