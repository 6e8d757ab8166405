"""Each officer's private iCalendar feed of its open follow-ups (Outlook, WPS, phone calendars).

The URL carries a random secret; only its sha256 is stored, so the database never holds a usable
link. Issuing a new secret revokes the old URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from icalendar import Calendar, Event

from ..domain.followups import FollowupStatus
from ..domain.tiers import TIER_CHINESE
from ..extensions import db
from ..models import Firm, Followup, User
from ..models.types import utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> str:
    """A new secret for the user's feed; the previous URL stops working. Shown once."""
    token = secrets.token_urlsafe(32)
    user.calendar_token_hash = _digest(token)
    return token


def revoke_token(user: User) -> None:
    """Switch the user's feed off."""
    user.calendar_token_hash = None


def user_for_token(token: str) -> User | None:
    """The active user whose feed secret this is."""
    if not token or len(token) > 100:
        return None
    user = db.session.scalars(sa.select(User).where(User.calendar_token_hash == _digest(token))).first()
    return user if user is not None and user.active else None


def feed(user: User, platform: str, base_url: str) -> bytes:
    """The user's open follow-ups as all-day events on their due dates."""
    calendar = Calendar()
    calendar.add("prodid", "-//service_app//followups//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{platform} 企业走访 · {user.label}")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    stamp = utcnow()
    rows = db.session.execute(
        sa.select(Followup.id, Followup.due_date, Followup.tier, Followup.firm_id, Firm.name)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(Followup.officer_id == user.id, Followup.status == FollowupStatus.OPEN)
        .order_by(Followup.due_date, Followup.id)
    ).all()
    for row in rows:
        event = Event()
        event.add("uid", f"followup-{row.id}@service-app")
        event.add("dtstamp", stamp)
        event.add("dtstart", row.due_date)
        event.add("dtend", row.due_date + dt.timedelta(days=1))
        event.add("summary", f"走访：{row.name}（{TIER_CHINESE[row.tier]}）")
        event.add("url", f"{base_url.rstrip('/')}/firms/{row.firm_id}")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
