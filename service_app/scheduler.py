"""The scheduler process: `flask --app wsgi scheduler run`.

Every periodic job is declared once in JOBS and reconciled with APScheduler at start-up (stable
ids, replace_existing). Web workers never start a scheduler, so N gunicorn workers never run a
job N times. Several scheduler processes (one per app machine) elect one leader (leadership.py);
the others wait and one takes over when it dies. Each run claims its fire time in job_runs first,
so no fire time runs twice, and a leader starting up runs each job's latest missed fire time once
(job_runs.py).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from flask.cli import AppGroup

from .extensions import db
from .job_runs import claim_run, execute_claimed, latest_fire_time, runner_name, runs_to_catch_up
from .leadership import Leadership, leadership_for, wait_for_leadership

log = logging.getLogger(__name__)
TIMEZONE = "Asia/Shanghai"
MISFIRE_GRACE_SECONDS = 6 * 3600
#: How often the leader checks that it still holds its lock, in seconds.
LEADERSHIP_CHECK_SECONDS = 10


@dataclass(frozen=True)
class Job:
    """One periodic job: a stable id, the function (a dotted path) and its cron trigger."""

    id: str
    function: str
    cron: dict[str, Any]

    def trigger(self) -> CronTrigger:
        """Its cron trigger, in Asia/Shanghai time."""
        return CronTrigger(timezone=TIMEZONE, **self.cron)


#: Every periodic job, in one table.
JOBS = (
    # Daily at 09:00; the job itself acts only on a quarter's first working day (调休 included).
    Job("tiers.quarterly_proposal", "service_app.tiers.tasks:quarterly_proposal", {"hour": 9, "minute": 0}),
    # Daily at 07:30: missing and overdue follow-ups, overdue requests, the bell and e-mail.
    Job("followups.daily_sweep", "service_app.followups.tasks:daily_sweep", {"hour": 7, "minute": 30}),
    # Every 15 seconds (a cheap query when idle): stalled builds retried, a street pack for each newly
    # applied proposal, packs and large list downloads asked for, old ones purged.
    Job("exports.build_packs", "service_app.exports.tasks:build_packs", {"second": "*/15"}),
    # Every five minutes: imports left applying by a process that died are marked failed.
    Job("roster.recover_interrupted", "service_app.roster.tasks:recover_interrupted", {"minute": "*/5"}),
)


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attribute = path.partition(":")
    module = __import__(module_name, fromlist=[attribute])
    return getattr(module, attribute)  # type: ignore[no-any-return]


def run_job(app: Flask, job: Job, now: datetime | None = None) -> Any:
    """Run one job for its latest fire time, in its own app context (one transaction per job); a
    fire time another process has claimed already is skipped."""
    with app.app_context():
        fire = latest_fire_time(job.trigger(), now or datetime.now(ZoneInfo(TIMEZONE)))
        run_id = claim_run(job.id, fire) if fire is not None else None
        if run_id is None:
            log.info("job %s of %s ran elsewhere already: skipped", job.id, fire)
            return None
        return execute_claimed(run_id, job.id, _resolve(job.function))


def catch_up(app: Flask, jobs: Iterable[Job] = JOBS, now: datetime | None = None) -> list[str]:
    """Run, once each, the jobs whose latest fire time no process ran, or a dead leader left half
    done; the ids of those run. The leader calls it before it starts scheduling."""
    ran = []
    for job in jobs:
        with app.app_context():
            run_id = runs_to_catch_up(job.id, job.trigger(), now or datetime.now(ZoneInfo(TIMEZONE)))
            if run_id is not None:
                log.info("catching up job %s", job.id)
                execute_claimed(run_id, job.id, _resolve(job.function))
                ran.append(job.id)
    return ran


def build_scheduler(app: Flask) -> BlockingScheduler:
    """A scheduler holding JOBS, each calling into the app."""
    scheduler = BlockingScheduler(
        timezone=TIMEZONE,
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    for job in JOBS:
        scheduler.add_job(
            run_job,
            job.trigger(),
            args=(app, job),
            id=job.id,
            name=job.function,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            max_instances=1,
        )
    return scheduler


def watch_leadership(scheduler: BlockingScheduler, lock: Leadership, lost: list[bool]) -> None:
    """Stop scheduling as soon as the lock is lost (its database connection died): another process
    may lead by now. The process then exits non-zero and its supervisor starts it again, as a standby."""
    if not lock.still_held():
        log.error("the scheduler lost its leadership: stopping")
        lost.append(True)
        scheduler.shutdown(wait=False)


def lower_priority(niceness: int) -> int:
    """Run this process at `niceness` (never less nice than it already is); returns the niceness now.

    The scheduler's bulk jobs then use the CPU the web workers leave idle instead of slowing
    officers' pages; they still finish, only later on a busy machine."""
    current = os.nice(0)
    if niceness > current:
        current = os.nice(niceness - current)
    return current


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # finish the running job (shutdown waits for it), then exit


scheduler_cli = AppGroup("scheduler", help="The job scheduler (its own process).")


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler in the foreground until stopped: standby until it leads, then catch up and schedule."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lock = leadership_for(db.engine)
    retry = float(app.config["SCHEDULER_LEADER_RETRY_SECONDS"])
    niceness = lower_priority(int(app.config["SCHEDULER_NICE"]))
    click.echo(f"running at niceness {niceness}: web requests come first")

    def standby() -> None:
        click.echo(f"standby: another scheduler leads; trying again every {retry:g} s")

    previous_handler = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    lost: list[bool] = []
    try:
        wait_for_leadership(lock, retry, standby)
        click.echo(f"leader: {runner_name()} runs the jobs")
        ran = catch_up(app)
        click.echo(f"caught up: {', '.join(ran) or 'nothing missed'}")
        scheduler = build_scheduler(app)
        scheduler.add_job(
            watch_leadership,
            "interval",
            seconds=LEADERSHIP_CHECK_SECONDS,
            args=(scheduler, lock, lost),
            id="leadership",
        )
        now = datetime.now(ZoneInfo(TIMEZONE))
        for job in JOBS:
            click.echo(f"{job.id}: next run {job.trigger().get_next_fire_time(None, now)}")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=True)
    finally:
        lock.release()
        signal.signal(signal.SIGTERM, previous_handler)
    if lost:
        raise click.ClickException("lost the scheduler lock; exiting so that a supervisor restarts this process")


@scheduler_cli.command("jobs")
def jobs_command() -> None:
    """List the declared jobs."""
    for job in JOBS:
        click.echo(f"{job.id}\t{job.function}\t{job.cron}")
