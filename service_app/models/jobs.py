"""Scheduled job runs: one row per job and fire time, so no fire time runs twice and a missed one is seen."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import Timestamp, enum_column


class JobRunStatus(StrEnum):
    """Where a run is."""

    RUNNING = "running"  # claimed; a leader that finds it so after taking over runs it again
    DONE = "done"
    FAILED = "failed"


class JobRun(Model):
    """One run of a declared job (scheduler.JOBS) for one of its fire times."""

    __tablename__ = "job_runs"
    __table_args__ = (sa.UniqueConstraint("job_id", "scheduled_for"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The job's stable id, `followups.daily_sweep`.
    job_id: Mapped[str] = mapped_column(sa.String(64))
    #: The fire time this run is for (UTC); unique per job, which is what stops a second run.
    scheduled_for: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    #: running, done or failed.
    status: Mapped[JobRunStatus] = mapped_column(enum_column(JobRunStatus), default=JobRunStatus.RUNNING)
    #: The scheduler process that ran it last, `host:pid`.
    runner: Mapped[str] = mapped_column(sa.String(128), default="")
    #: When that process started it.
    started_at: Mapped[Timestamp]
    #: When it ended; empty while running (or when its process died).
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: The exception's text when it failed.
    error: Mapped[str] = mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        return f"<JobRun {self.job_id} {self.scheduled_for} {self.status}>"
