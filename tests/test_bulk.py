"""Bulk inserts: values converted as SQLAlchemy would, many rows to a statement, conflicts skipped."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from service_app import bulk
from service_app.domain.tiers import Tier
from service_app.extensions import db
from service_app.models import AuditEvent, CalendarDay

DAYS: sa.Table = CalendarDay.__table__  # type: ignore[assignment]
AUDIT: sa.Table = AuditEvent.__table__  # type: ignore[assignment]
NOW = dt.datetime(2026, 11, 26, 8, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def small_statements(monkeypatch):
    """Three rows to a statement, so a handful of rows spans several statements and a remainder."""
    monkeypatch.setattr(bulk, "ROWS_PER_STATEMENT", 3)


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives timestamps back without their zone (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def stored_days() -> list[tuple[dt.date, bool, str, dt.datetime]]:
    db.session.expire_all()
    days = db.session.scalars(sa.select(CalendarDay).order_by(CalendarDay.day))
    return [(d.day, d.is_workday, d.name, aware(d.updated_at)) for d in days]


def test_rows_read_back_as_written(ctx):
    rows = [
        {"day": dt.date(2027, 1, n), "is_workday": n % 2 == 0, "name": f"第{n}天", "updated_at": NOW}
        for n in range(1, 8)
    ]
    assert bulk.bulk_insert(DAYS, rows, batch=4) == 7
    assert stored_days() == [(r["day"], r["is_workday"], r["name"], NOW) for r in rows]


def test_tuples_with_names_in_any_order(ctx):
    names = ("name", "day", "updated_at", "is_workday")
    rows = [(f"第{n}天", dt.date(2027, 2, n), NOW, True) for n in range(1, 6)]
    assert bulk.insert_rows(DAYS, names, rows) == 5
    assert stored_days() == [(dt.date(2027, 2, n), True, f"第{n}天", NOW) for n in range(1, 6)]


def test_conflicts_are_skipped_and_not_counted(ctx):
    def day(n: int, name: str = "") -> tuple[dt.date, bool, str, dt.datetime]:
        return (dt.date(2027, 3, n), False, name, NOW)

    names = ("day", "is_workday", "name", "updated_at")
    assert bulk.insert_rows(DAYS, names, [day(1, "first"), day(2, "first")]) == 2
    # Statements of three: a clash with a stored row, then one inside the statement itself.
    again = [day(1, "again"), day(3), day(3, "twice"), day(4), day(2, "again"), day(5)]
    assert bulk.insert_rows(DAYS, names, again, skip_conflicts=True) == 3
    assert [(d, name) for d, _, name, _ in stored_days()] == [
        (dt.date(2027, 3, 1), "first"),
        (dt.date(2027, 3, 2), "first"),
        (dt.date(2027, 3, 3), ""),
        (dt.date(2027, 3, 4), ""),
        (dt.date(2027, 3, 5), ""),
    ]


def test_json_and_enum_values(ctx):
    shared = {"current_tier": Tier.KEY}
    rows = [
        {
            "created_at": NOW,
            "action": "firm.tier",
            "object_type": "firm",
            "object_id": str(n),
            "before": shared if n % 2 else {"current_tier": None, "note": '引号"与\\反斜杠'},
            "after": {"current_tier": list(Tier)[n % 4], "n": n},
        }
        for n in range(7)
    ]
    assert bulk.bulk_insert(AUDIT, rows) == 7
    stored = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.object_id, e.before, e.after) for e in stored] == [
        (
            str(n),
            {"current_tier": "key"} if n % 2 else {"current_tier": None, "note": '引号"与\\反斜杠'},
            {"current_tier": list(Tier)[n % 4].value, "n": n},
        )
        for n in range(7)
    ]


def test_utf8_bytes_are_stored_as_text(ctx):
    names = ("created_at", "action", "object_type", "object_id", "before")
    rows = [(NOW, "firm.tier", "firm", str(n), f'{{"说明":"第{n}行"}}'.encode()) for n in range(5)]
    rows.append((NOW, "firm.tier", "firm", "5", None))
    assert bulk.insert_rows(AUDIT, names, rows, utf8=("before",)) == 6
    stored = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.before for e in stored] == [{"说明": f"第{n}行"} for n in range(5)] + [None]
    if db.session.connection().dialect.name == "sqlite":
        types = db.session.connection().exec_driver_sql('SELECT typeof("before") FROM audit_events ORDER BY id')
        assert types.scalars().all() == ["text"] * 5 + ["null"]
