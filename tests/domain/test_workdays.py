"""Working days across holidays and 调休, and years chinese-calendar does not know."""

import datetime as dt

import pytest

from service_app.domain.quarters import Quarter
from service_app.domain.workdays import (
    add_working_days,
    calendar_knows,
    first_working_day,
    is_working_day,
    next_working_day,
)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (dt.date(2026, 10, 1), False),  # National Day
        (dt.date(2026, 10, 8), True),
        (dt.date(2026, 2, 17), False),  # Spring Festival
        (dt.date(2026, 11, 26), True),  # a Thursday
        (dt.date(2026, 11, 28), False),  # a Saturday
    ],
)
def test_known_days(day, working):
    assert is_working_day(day) is working


def test_makeup_working_day_on_a_weekend():
    saturdays = [d for d in (dt.date(2026, 1, 1) + dt.timedelta(n) for n in range(365)) if d.weekday() == 5]
    assert any(is_working_day(d) for d in saturdays), "2026 has at least one 调休 Saturday"


def test_first_working_day_of_q4_skips_national_day():
    day = first_working_day(Quarter(2026, 4))
    assert day > dt.date(2026, 10, 7)
    assert is_working_day(day)


def test_unknown_year_falls_back_to_weekends_and_extra_holidays():
    assert not calendar_knows(2031)
    assert is_working_day(dt.date(2031, 1, 2))  # a Thursday
    assert not is_working_day(dt.date(2031, 1, 4))  # a Saturday
    assert not is_working_day(dt.date(2031, 1, 2), {dt.date(2031, 1, 2)})
    assert next_working_day(dt.date(2031, 1, 4)) == dt.date(2031, 1, 6)


def test_add_working_days_crosses_a_holiday():
    assert add_working_days(dt.date(2026, 9, 30), 1) == next_working_day(dt.date(2026, 10, 1))
