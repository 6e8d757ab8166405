"""Quarter keys: `2026Q3`, parsed from the forms Chinese rosters use, and their arithmetic."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .text import clean_code

_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_PATTERNS = (
    re.compile(r"^(\d{4})\s*[-_/ ]?\s*Q([1-4])$", re.IGNORECASE),
    re.compile(r"^(\d{4})\s*年?\s*第?\s*([一二三四1-4])\s*季度?$"),
)


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter; orders and subtracts like one."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"quarter number must be 1-4, not {self.number}")
        if not 1900 <= self.year <= 2999:
            raise ValueError(f"year {self.year} is out of range")

    @classmethod
    def parse(cls, value: object) -> Quarter:
        """Parse `2026Q3`, `2026-Q3`, `2026 Q3`, `2026年第三季度`, `2026年3季度`."""
        if isinstance(value, Quarter):
            return value
        text = clean_code(value) if value is not None else ""
        for pattern in _PATTERNS:
            match = pattern.match(text)
            if match:
                return cls(int(match.group(1)), _CHINESE_DIGITS[match.group(2)])
        raise ValueError(f"not a quarter: {text or '(empty)'}")

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        """The quarter a date falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        """The stored form, `2026Q3`."""
        return f"{self.year}Q{self.number}"

    def __str__(self) -> str:
        return self.key

    def __add__(self, quarters: int) -> Quarter:
        index = self.year * 4 + self.number - 1 + quarters
        return Quarter(index // 4, index % 4 + 1)

    def __sub__(self, quarters: int) -> Quarter:
        return self + (-quarters)

    @property
    def first_day(self) -> dt.date:
        """The first calendar day of the quarter."""
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        """The last calendar day of the quarter."""
        return (self + 1).first_day - dt.timedelta(days=1)

    def trailing(self, count: int = 4) -> list[Quarter]:
        """This quarter and the count-1 before it, oldest first (TTM uses 4)."""
        return [self - offset for offset in range(count - 1, -1, -1)]


def quarter_key(value: object) -> str:
    """Normalise any accepted quarter form to its key; raises ValueError."""
    return Quarter.parse(value).key
