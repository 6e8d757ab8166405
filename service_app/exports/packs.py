"""Export packs built in the background: asked for on the Exports page or by an applied proposal,
built by the scheduler, kept 30 days. A street office downloads only its own street's workbook."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import ExportPack, PackStatus, ProposalStatus, TierProposal, User
from ..models.types import utcnow
from ..scoping import street_ids_for
from .services import export_pack, export_quarter, pack_file_name

log = logging.getLogger(__name__)

#: How long a pack's files are kept.
KEEP_DAYS = 30


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
    """Move a pending pack to building; False when another process took it first."""
    table: Any = ExportPack.__table__
    claimed: Any = db.session.execute(
        sa.update(table)
        .where(table.c.id == pack.id, table.c.status == PackStatus.PENDING.value)
        .values(status=PackStatus.BUILDING.value)
    )
    return bool(claimed.rowcount == 1)


def build_pack(pack: ExportPack) -> None:
    """Write the street workbooks and the zip of a pending pack; the pack ends ready or failed."""
    if not _claim(pack):
        return
    db.session.commit()
    folder = pack_folder(pack)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        name = pack_file_name(current_app.config["PLATFORM_NAME"], pack.quarter)
        results = export_pack(
            folder / name, None, pack.quarter, platform=current_app.config["PLATFORM_NAME"], keep_in=folder
        )
    except Exception as exc:  # a full disk or a bad row must not leave the pack "building" forever
        db.session.rollback()
        log.exception("export pack %s failed", pack.id)
        shutil.rmtree(folder, ignore_errors=True)
        pack.status, pack.error, pack.finished_at = PackStatus.FAILED, str(exc)[:500], utcnow()
        db.session.commit()
        return
    db.session.refresh(pack)
    pack.file_name = name
    pack.files = [
        {"street_id": r.street.id, "street": r.street.name, "file": str(r.path), "firms": r.total}
        for r in results
        if r.street is not None
    ]
    pack.status, pack.finished_at = PackStatus.READY, utcnow()
    db.session.commit()
    log.info("export pack %s ready: %s workbooks", pack.id, len(results))


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
    """Packs, newest first (each user then sees only its streets' files)."""
    return sa.select(ExportPack).order_by(ExportPack.id.desc())


def files_for(pack: ExportPack, user: User) -> list[dict[str, Any]]:
    """The street workbooks of a pack the user may download."""
    ids = street_ids_for(user)
    return [f for f in pack.files or [] if ids is None or f["street_id"] in ids]


def may_download_zip(user: User) -> bool:
    """The zip holds every street: only users who see every street download it."""
    return bool(user.sees_all_streets)
