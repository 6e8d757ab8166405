"""Chinese working days: public holidays and make-up working days (调休) from chinese-calendar,
and for years it does not know, weekends plus the days an admin enters. Never raises for a year."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

from .quarters import Quarter

#: Where the platform's officers work: "today" and deadlines are counted here.
CHINA = ZoneInfo("Asia/Shanghai")


def china_today() -> dt.date:
    """Today's date in Asia/Shanghai, whatever the server's own time zone."""
    return dt.datetime.now(CHINA).date()


@cache
def calendar_knows(year: int) -> bool:
    """True when chinese-calendar ships the holidays of `year`."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


class WorkCalendar:
    """Working days with an admin's table on top: `holidays` are days off and `workdays` are
    make-up working days; both win over chinese-calendar and, for the years it does not ship,
    over the weekend rule. Answers are cached, so scheduling 30,000 firms costs little."""

    def __init__(self, holidays: Iterable[dt.date] = (), workdays: Iterable[dt.date] = ()) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self._working: dict[dt.date, bool] = {}
        self._next: dict[dt.date, dt.date] = {}

    def is_working_day(self, day: dt.date) -> bool:
        """A working day in mainland China."""
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = self._decide(day)
        return known

    def _decide(self, day: dt.date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if calendar_knows(day.year):
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def next_working_day(self, day: dt.date) -> dt.date:
        """`day` itself if it is a working day, else the next one."""
        found = self._next.get(day)
        if found is None:
            found = day
            while not self.is_working_day(found):
                found += dt.timedelta(days=1)
            self._next[day] = found
        return found

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The date `count` working days after `day` (deadlines in working days)."""
        while count > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def is_guessed(self, day: dt.date) -> bool:
        """True when `day`'s year is beyond chinese-calendar and the admin entered nothing for it:
        the answer then rests on weekends alone, and the UI says so."""
        if calendar_knows(day.year):
            return False
        return not any(d.year == day.year for d in self.holidays | self.workdays)


def is_working_day(day: dt.date, extra_holidays: Collection[dt.date] = ()) -> bool:
    """A working day in mainland China; for unknown years, a weekday not in `extra_holidays`."""
    return WorkCalendar(extra_holidays).is_working_day(day)


def next_working_day(day: dt.date, extra_holidays: Collection[dt.date] = ()) -> dt.date:
    """`day` itself if it is a working day, else the next one."""
    return WorkCalendar(extra_holidays).next_working_day(day)


def add_working_days(day: dt.date, count: int, extra_holidays: Collection[dt.date] = ()) -> dt.date:
    """The date `count` working days after `day` (deadlines in working days)."""
    return WorkCalendar(extra_holidays).add_working_days(day, count)


def first_working_day(quarter: Quarter, extra_holidays: Collection[dt.date] = ()) -> dt.date:
    """The first working day of a quarter (the quarterly reassessment runs then)."""
    return next_working_day(quarter.first_day, extra_holidays)
