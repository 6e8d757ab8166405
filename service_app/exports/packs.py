"""Exports built in the background, kept 30 days.

Packs are asked for on the Exports page or by an applied proposal; a street office downloads only its
own street's workbook. A firm-list download too large to build while the browser waits becomes a
roster export that only the user who asked downloads. The scheduler's job builds both, reports
progress as it goes, and retries a build whose process died (no heartbeat for STALLED_AFTER).
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import MultiDict

from ..database import SQLITE_BUSY_TIMEOUT_MS
from ..extensions import db
from ..firms.services import filters_from_args
from ..models import ExportKind, ExportPack, PackStatus, ProposalStatus, TierProposal, User
from ..models.types import utcnow
from ..scoping import street_ids_for
from .services import (
    Progress,
    export_pack,
    export_quarter,
    pack_file_name,
    roster_file_name,
    roster_workbook,
    street_label,
)

log = logging.getLogger(__name__)

#: How long a pack's files are kept.
KEEP_DAYS = 30
#: A build that has not reported progress for this long is taken as dead (its process was killed).
STALLED_AFTER = dt.timedelta(minutes=10)
#: Builds started at most this often before an export is marked failed.
MAX_ATTEMPTS = 3
#: The shortest gap between two progress writes.
HEARTBEAT_EVERY = dt.timedelta(seconds=2)


def pack_folder(pack: ExportPack) -> Path:
    """Where a pack's files live: EXPORT_FOLDER (default instance/exports) / <id>."""
    root = current_app.config.get("EXPORT_FOLDER") or Path(current_app.instance_path) / "exports"
    return Path(root) / str(pack.id)


def request_pack(quarter: str | None, user: User | None, proposal_id: int | None = None) -> ExportPack:
    """Ask for a pack of a quarter; the scheduler builds it. Flushes, the caller commits."""
    now = utcnow()
    pack = ExportPack(
        quarter=export_quarter(quarter),
        requested_by_id=user.id if user else None,
        proposal_id=proposal_id,
        created_at=now,
        expires_at=now + dt.timedelta(days=KEEP_DAYS),
    )
    db.session.add(pack)
    db.session.flush()
    log.info("export pack %s requested for %s", pack.id, pack.quarter)
    return pack


def request_roster_export(user: User, args: MultiDict[str, str], quarter: str | None) -> ExportPack:
    """Queue the firm list under `args` as a workbook for `user`; the same list already queued is reused."""
    filters = {key: args.getlist(key) for key in sorted(args) if key not in ("page", "quarter")}
    quarter = export_quarter(quarter)
    queued = db.session.scalars(
        sa.select(ExportPack).where(
            ExportPack.kind == ExportKind.ROSTER,
            ExportPack.requested_by_id == user.id,
            ExportPack.quarter == quarter,
            ExportPack.status.in_((PackStatus.PENDING, PackStatus.BUILDING)),
        )
    ).all()
    for pack in queued:
        if pack.filters == filters:
            return pack
    now = utcnow()
    pack = ExportPack(
        kind=ExportKind.ROSTER,
        quarter=quarter,
        filters=filters,
        requested_by_id=user.id,
        created_at=now,
        expires_at=now + dt.timedelta(days=KEEP_DAYS),
    )
    db.session.add(pack)
    db.session.flush()
    log.info("roster export %s queued for %s", pack.id, user.username)
    return pack


def request_packs_for_applied_proposals() -> list[ExportPack]:
    """A pack for each proposal applied in the last 30 days that has none yet."""
    since = utcnow() - dt.timedelta(days=KEEP_DAYS)
    has_pack = sa.select(ExportPack.proposal_id).where(ExportPack.proposal_id.is_not(None))
    proposals = db.session.execute(
        sa.select(TierProposal.id, TierProposal.quarter).where(
            TierProposal.status == ProposalStatus.APPLIED,
            TierProposal.applied_at >= since,
            TierProposal.id.not_in(has_pack),
        )
    ).all()
    return [request_pack(quarter, None, proposal_id) for proposal_id, quarter in proposals]


def _claim(pack: ExportPack) -> bool:
    """Move a pending export to building; False when another process took it first."""
    table: Any = ExportPack.__table__
    now = utcnow()
    claimed: Any = db.session.execute(
        sa.update(table)
        .where(table.c.id == pack.id, table.c.status == PackStatus.PENDING.value)
        .values(status=PackStatus.BUILDING.value, attempts=table.c.attempts + 1, heartbeat_at=now, done=0, total=0)
    )
    return bool(claimed.rowcount == 1)


def progress_writer(pack_id: int) -> Progress:
    """Write (done, total) and a heartbeat on a connection of its own, so the Exports page sees it.

    Progress is advisory: when the row is locked (a test's open transaction, a busy database) the
    report is skipped rather than waited for, and the build goes on.
    """
    table: Any = ExportPack.__table__
    last: list[dt.datetime] = []

    def report(done: int, total: int) -> None:
        now = utcnow()
        if last and now - last[0] < HEARTBEAT_EVERY and done < total:
            return
        last[:] = [now]
        try:
            with db.engine.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql("PRAGMA busy_timeout=200")
                else:
                    conn.exec_driver_sql("SET lock_timeout = 200")
                try:
                    conn.execute(
                        sa.update(table)
                        .where(table.c.id == pack_id, table.c.status == PackStatus.BUILDING.value)
                        .values(done=done, total=total, heartbeat_at=now)
                    )
                    conn.commit()
                finally:
                    conn.rollback()
                    if sqlite:
                        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    else:
                        conn.exec_driver_sql("SET lock_timeout = 0")
        except sa.exc.OperationalError:
            log.debug("export %s: progress not written (database busy)", pack_id)

    return report


def build_pack(pack: ExportPack, progress: Progress | None = None) -> None:
    """Build a pending export (a pack or a roster); it ends ready or failed, its progress written as it goes."""
    if not _claim(pack):
        return
    db.session.commit()
    progress = progress or progress_writer(pack.id)
    folder = pack_folder(pack)
    platform = current_app.config["PLATFORM_NAME"]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files: list[dict[str, Any]]
        if pack.kind == ExportKind.ROSTER:
            user = pack.requested_by
            if user is None or not user.active:
                raise ValueError("导出人已停用或不存在。(The user who asked for it is disabled or gone.)")
            filters = filters_from_args(MultiDict([(k, v) for k, values in pack.filters.items() for v in values]))
            name = roster_file_name(street_label(user, filters, platform), pack.quarter)
            result = roster_workbook(folder / name, user, filters, pack.quarter, platform=platform, progress=progress)
            files = [{"street_id": None, "street": "", "file": name, "firms": result.total}]
        else:
            name = pack_file_name(platform, pack.quarter)
            results = export_pack(
                folder / name, None, pack.quarter, platform=platform, keep_in=folder, progress=progress
            )
            files = [
                {"street_id": r.street.id, "street": r.street.name, "file": str(r.path), "firms": r.total}
                for r in results
                if r.street is not None
            ]
    except Exception as exc:  # a full disk or a bad row must not leave the export "building" forever
        db.session.rollback()
        log.exception("export %s failed", pack.id)
        shutil.rmtree(folder, ignore_errors=True)
        db.session.refresh(pack)
        pack.status, pack.error, pack.finished_at = PackStatus.FAILED, describe_failure(exc), utcnow()
        db.session.commit()
        return
    # End the read transaction first: on SQLite its snapshot predates the progress writes and could
    # not turn into a write (SQLITE_BUSY_SNAPSHOT, "database is locked" at once).
    db.session.rollback()
    db.session.refresh(pack)
    pack.file_name, pack.files = name, files
    pack.done = pack.total = sum(f["firms"] for f in files)
    pack.status, pack.finished_at = PackStatus.READY, utcnow()
    db.session.commit()
    log.info("export %s ready: %s", pack.id, name)


def describe_failure(exc: Exception) -> str:
    """What the Exports page says about a failed build: a full disk in words, else the error."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "磁盘已满：请管理员清理导出目录或扩容后重新导出。(No space left on the export disk.)"
    return str(exc)[:500]


def recover_stalled(now: dt.datetime | None = None) -> int:
    """Exports left building by a process that died: back to pending, or failed after MAX_ATTEMPTS builds."""
    now = now or utcnow()
    stalled = db.session.scalars(
        sa.select(ExportPack).where(
            ExportPack.status == PackStatus.BUILDING,
            sa.func.coalesce(ExportPack.heartbeat_at, ExportPack.created_at) < now - STALLED_AFTER,
        )
    ).all()
    for pack in stalled:
        shutil.rmtree(pack_folder(pack), ignore_errors=True)
        if pack.attempts >= MAX_ATTEMPTS:
            pack.status, pack.finished_at = PackStatus.FAILED, now
            pack.error = f"构建被中断 {pack.attempts} 次，已停止重试。(Interrupted {pack.attempts} times.)"
        else:
            pack.status = PackStatus.PENDING
        log.warning("export %s stalled while building (attempt %s): %s", pack.id, pack.attempts, pack.status)
    db.session.commit()
    return len(stalled)


def purge_expired_packs(now: dt.datetime | None = None) -> int:
    """Delete packs past their 30 days, files first. Returns how many."""
    now = now or utcnow()
    expired = db.session.scalars(sa.select(ExportPack).where(ExportPack.expires_at < now)).all()
    for pack in expired:
        shutil.rmtree(pack_folder(pack), ignore_errors=True)
        db.session.delete(pack)
    db.session.commit()
    return len(expired)


def visible_packs() -> sa.Select[ExportPack]:
    """Street packs, newest first (each user then sees only its streets' files)."""
    return sa.select(ExportPack).where(ExportPack.kind == ExportKind.PACK).order_by(ExportPack.id.desc())


def my_exports(user: User) -> sa.Select[ExportPack]:
    """The user's own list downloads built in the background, newest first."""
    return (
        sa.select(ExportPack)
        .where(ExportPack.kind == ExportKind.ROSTER, ExportPack.requested_by_id == user.id)
        .order_by(ExportPack.id.desc())
    )


def files_for(pack: ExportPack, user: User) -> list[dict[str, Any]]:
    """The street workbooks of a pack the user may download."""
    ids = street_ids_for(user)
    return [f for f in pack.files or [] if ids is None or f["street_id"] in ids]


def may_download_zip(user: User) -> bool:
    """The zip holds every street: only users who see every street download it."""
    return bool(user.sees_all_streets)
