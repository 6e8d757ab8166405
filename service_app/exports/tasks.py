"""Scheduled work for exports: build the packs asked for (and one per applied proposal), purge old ones."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..extensions import db
from ..models import ExportPack, PackStatus
from .packs import build_pack, purge_expired_packs, request_packs_for_applied_proposals

log = logging.getLogger(__name__)


def build_packs() -> int:
    """Every few minutes: a pack for each newly applied proposal, then build every pending pack."""
    request_packs_for_applied_proposals()
    db.session.commit()
    pending = db.session.scalars(sa.select(ExportPack).where(ExportPack.status == PackStatus.PENDING)).all()
    for pack in pending:
        build_pack(pack)
    purged = purge_expired_packs()
    if pending or purged:
        log.info("export packs: %s built, %s purged", len(pending), purged)
    return len(pending)
