"""Due dates by tier across Chinese holidays, the admin's table, and the request lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest

from service_app.domain.followups import (
    DEFAULT_CADENCE_DAYS,
    IllegalStep,
    RequestStatus,
    Satisfaction,
    check_step,
    due_date,
    is_overdue,
    request_deadline,
    week_bounds,
)
from service_app.domain.tiers import Tier
from service_app.domain.workdays import WorkCalendar, calendar_knows


def test_default_cadences_follow_the_domain():
    assert DEFAULT_CADENCE_DAYS == {Tier.KEY: 30, Tier.CULTIVATE: 60, Tier.OBSERVE: 90, Tier.EXIT: 30}


def test_due_date_skips_the_spring_festival():
    # 2026-01-18 + 30 days = 2026-02-17, 春节 (Feb 15–23 off): due the first working day after.
    due = due_date(dt.date(2026, 1, 18), 30, WorkCalendar())
    assert due == dt.date(2026, 2, 24)


def test_due_date_lands_on_a_makeup_saturday():
    # 2026-09-20 (a Sunday) is a 调休 working day before National Day.
    calendar = WorkCalendar()
    assert calendar.is_working_day(dt.date(2026, 9, 20))
    assert due_date(dt.date(2026, 8, 21), 30, calendar) == dt.date(2026, 9, 20)


def test_due_date_skips_national_day():
    due = due_date(dt.date(2026, 9, 1), 30, WorkCalendar())  # 2026-10-01
    assert due == dt.date(2026, 10, 8)


def test_year_beyond_the_package_uses_weekends_and_the_admin_table():
    assert not calendar_knows(2031)
    plain = WorkCalendar()
    assert plain.is_guessed(dt.date(2031, 2, 3))
    assert due_date(dt.date(2031, 1, 1), 30, plain) == dt.date(2031, 1, 31)  # a Friday
    table = WorkCalendar(holidays=[dt.date(2031, 1, 31), dt.date(2031, 2, 3)], workdays=[dt.date(2031, 2, 1)])
    assert not table.is_guessed(dt.date(2031, 2, 3))
    assert due_date(dt.date(2031, 1, 1), 30, table) == dt.date(2031, 2, 1)  # a make-up Saturday


def test_admin_table_wins_in_a_known_year_too():
    table = WorkCalendar(holidays=[dt.date(2026, 11, 26)])
    assert not table.is_working_day(dt.date(2026, 11, 26))
    assert table.next_working_day(dt.date(2026, 11, 26)) == dt.date(2026, 11, 27)


def test_request_deadline_in_working_days_across_national_day():
    # Received 2026-09-30: the next working day is 10-09 (10-01..08 off; 10-10 Saturday is 调休? not in 2026).
    calendar = WorkCalendar()
    deadline = request_deadline(dt.date(2026, 9, 30), 1, calendar)
    assert deadline >= dt.date(2026, 10, 8)
    assert calendar.is_working_day(deadline)
    assert request_deadline(dt.date(2026, 11, 26), 2, calendar) == dt.date(2026, 11, 30)  # Thu + 2 = Mon


def test_week_bounds():
    assert week_bounds(dt.date(2026, 11, 26)) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))


def test_lifecycle_in_order():
    check_step(RequestStatus.RECEIVED, RequestStatus.ASSIGNED, owner="区科技局")
    check_step(RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)
    check_step(RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED, resolution="已对接")
    check_step(RequestStatus.RESOLVED, RequestStatus.REVISITED, satisfaction=Satisfaction.SATISFIED)
    check_step(RequestStatus.REVISITED, RequestStatus.CLOSED, resolution="已对接")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS),
        (RequestStatus.RECEIVED, RequestStatus.CLOSED),
        (RequestStatus.ASSIGNED, RequestStatus.RECEIVED),
        (RequestStatus.IN_PROGRESS, RequestStatus.REVISITED),
        (RequestStatus.CLOSED, RequestStatus.RECEIVED),
        (RequestStatus.RESOLVED, RequestStatus.RESOLVED),
    ],
)
def test_illegal_jumps_are_refused(current, target):
    with pytest.raises(IllegalStep) as refused:
        check_step(current, target, owner="x", resolution="x", satisfaction=Satisfaction.MOSTLY)
    assert refused.value.reason == "order"


@pytest.mark.parametrize(
    ("current", "target", "reason"),
    [
        (RequestStatus.RECEIVED, RequestStatus.ASSIGNED, "owner"),
        (RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED, "resolution"),
        (RequestStatus.RESOLVED, RequestStatus.REVISITED, "satisfaction"),
        (RequestStatus.REVISITED, RequestStatus.CLOSED, "resolution"),
    ],
)
def test_steps_need_what_they_record(current, target, reason):
    with pytest.raises(IllegalStep) as refused:
        check_step(current, target, owner="  ", resolution=" ")
    assert refused.value.reason == reason


def test_overdue_only_while_unresolved():
    deadline = dt.date(2026, 11, 20)
    assert is_overdue(RequestStatus.IN_PROGRESS, deadline, dt.date(2026, 11, 21))
    assert not is_overdue(RequestStatus.IN_PROGRESS, deadline, deadline)
    assert not is_overdue(RequestStatus.RESOLVED, deadline, dt.date(2026, 12, 1))
