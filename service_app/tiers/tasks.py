"""Scheduled work for tiers: the quarterly reassessment proposal (never an approval)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import IntegrityError

from ..domain.quarters import Quarter
from ..domain.workdays import china_today, first_working_day
from ..extensions import db
from .services import any_proposal, live_proposal, notify_supervisors, propose_tiers

log = logging.getLogger(__name__)


def quarterly_proposal(today: dt.date | None = None) -> int | None:
    """On the first working day of a quarter, propose that quarter's tiers and tell supervisors.

    Runs daily; does nothing on other days. A second run, or two at once, leaves one proposal:
    propose_tiers returns the live one, and a unique index refuses a concurrent duplicate.
    """
    today = today or china_today()
    quarter = Quarter.of(today)
    start = first_working_day(quarter)
    if today < start:
        return None
    if today > start and any_proposal(quarter):
        return None  # done already (a missed first day is caught up once; a discarded one stays discarded)
    try:
        proposal = propose_tiers(quarter)
        notify_supervisors(proposal)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another process made it at the same moment
        existing = live_proposal(quarter)
        return existing.id if existing else None
    log.info("quarterly proposal %s for %s", proposal.id, quarter)
    return proposal.id
