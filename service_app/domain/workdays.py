"""Chinese working days: public holidays and make-up working days (调休) from chinese-calendar,
and for years it does not know, weekends plus holidays an admin enters. Never raises for a year."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import chinese_calendar

from .quarters import Quarter


def calendar_knows(year: int) -> bool:
    """True when chinese-calendar ships the holidays of `year`."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: dt.date, extra_holidays: Collection[dt.date] = ()) -> bool:
    """A working day in mainland China; for unknown years, a weekday not in `extra_holidays`."""
    if day in extra_holidays:
        return False
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def next_working_day(day: dt.date, extra_holidays: Collection[dt.date] = ()) -> dt.date:
    """`day` itself if it is a working day, else the next one."""
    while not is_working_day(day, extra_holidays):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, count: int, extra_holidays: Collection[dt.date] = ()) -> dt.date:
    """The date `count` working days after `day` (deadlines in working days)."""
    while count > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, extra_holidays):
            count -= 1
    return day


def first_working_day(quarter: Quarter, extra_holidays: Collection[dt.date] = ()) -> dt.date:
    """The first working day of a quarter (the quarterly reassessment runs then)."""
    return next_working_day(quarter.first_day, extra_holidays)
