"""Scheduled work for exports: retry stalled builds, build what is queued (packs, one per applied
proposal, and large list downloads), purge old ones."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..extensions import db
from ..models import ExportPack, PackStatus
from .packs import build_pack, purge_expired_packs, recover_stalled, request_packs_for_applied_proposals

log = logging.getLogger(__name__)


def build_packs() -> int:
    """Every few seconds: retry stalled builds, queue a pack per newly applied proposal, build what is pending."""
    recover_stalled()
    request_packs_for_applied_proposals()
    db.session.commit()
    pending = db.session.scalars(
        sa.select(ExportPack).where(ExportPack.status == PackStatus.PENDING).order_by(ExportPack.id)
    ).all()
    for pack in pending:
        build_pack(pack)
    purged = purge_expired_packs()
    if pending or purged:
        log.info("export packs: %s built, %s purged", len(pending), purged)
    return len(pending)
