"""The scheduler process: `flask --app wsgi scheduler run`.

Every periodic job is declared once in JOBS and reconciled with APScheduler at start-up (stable
ids, replace_existing). Web workers never start a scheduler, so N gunicorn workers never run a
job N times. A job missed while the process was down runs once when it comes back (coalesce,
misfire grace of hours).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from flask.cli import AppGroup

log = logging.getLogger(__name__)
TIMEZONE = "Asia/Shanghai"
MISFIRE_GRACE_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Job:
    """One periodic job: a stable id, the function (a dotted path) and its cron trigger."""

    id: str
    function: str
    cron: dict[str, Any]


#: Every periodic job, in one table.
JOBS = (
    # Daily at 09:00; the job itself acts only on a quarter's first working day (调休 included).
    Job("tiers.quarterly_proposal", "service_app.tiers.tasks:quarterly_proposal", {"hour": 9, "minute": 0}),
    # Daily at 07:30: missing and overdue follow-ups, overdue requests, the bell and e-mail.
    Job("followups.daily_sweep", "service_app.followups.tasks:daily_sweep", {"hour": 7, "minute": 30}),
    # Every 15 seconds (a cheap query when idle): stalled builds retried, a street pack for each newly
    # applied proposal, packs and large list downloads asked for, old ones purged.
    Job("exports.build_packs", "service_app.exports.tasks:build_packs", {"second": "*/15"}),
)


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attribute = path.partition(":")
    module = __import__(module_name, fromlist=[attribute])
    return getattr(module, attribute)  # type: ignore[no-any-return]


def run_job(app: Flask, job: Job) -> Any:
    """Run one job in its own app context: one transaction per job."""
    with app.app_context():
        return _resolve(job.function)()


def build_scheduler(app: Flask) -> BlockingScheduler:
    """A scheduler holding JOBS, each calling into the app."""
    scheduler = BlockingScheduler(
        timezone=TIMEZONE,
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    for job in JOBS:
        scheduler.add_job(
            run_job,
            CronTrigger(timezone=TIMEZONE, **job.cron),
            args=(app, job),
            id=job.id,
            name=job.function,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            max_instances=1,
        )
    return scheduler


scheduler_cli = AppGroup("scheduler", help="The job scheduler (its own process).")


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler in the foreground until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    now = datetime.now(ZoneInfo(TIMEZONE))
    for job in scheduler.get_jobs():
        click.echo(f"{job.id}: next run {job.trigger.get_next_fire_time(None, now)}")
    scheduler.start()


@scheduler_cli.command("jobs")
def jobs_command() -> None:
    """List the declared jobs."""
    for job in JOBS:
        click.echo(f"{job.id}\t{job.function}\t{job.cron}")
