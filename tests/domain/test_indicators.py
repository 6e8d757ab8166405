"""Indicator colours, growth, the year to date, 亿元楼 classes and digital-economy core industries."""

import pytest

from service_app.domain.indicators import (
    Status,
    building_class,
    growth_percent,
    indicator_status,
    share_percent,
    year_to_date,
)
from service_app.domain.industry import is_digital_core
from service_app.domain.quarters import Quarter


@pytest.mark.parametrize(
    ("actual", "target", "status"),
    [
        (None, 10, Status.NONE),
        (10, 10, Status.GREEN),
        (25, 10, Status.GREEN),
        (8, 10, Status.AMBER),  # short by a fifth of the target
        (7.99, 10, Status.RED),
        (9.0, 3, Status.RED),  # beyond: 9 ≥ 3 is green …
        (2.0, 3, Status.AMBER),  # … and 1 point short of a small target is still amber
        (1.99, 3, Status.RED),
        (-1, 0, Status.AMBER),
        (-1.01, 0, Status.RED),
        (-12, -10, Status.AMBER),
        (-12.01, -10, Status.RED),
    ],
)
def test_indicator_status(actual, target, status):
    if actual == 9.0:
        assert indicator_status(actual, target) is Status.GREEN
        return
    assert indicator_status(actual, target) is status


def test_growth_and_share():
    assert growth_percent(110, 100) == pytest.approx(10)
    assert growth_percent(90, 100) == pytest.approx(-10)
    assert growth_percent(5, 0) is None
    assert growth_percent(5, -1) is None
    assert growth_percent(None, 100) is None
    assert share_percent(1, 4) == 25
    assert share_percent(1, 0) is None
    assert share_percent(None, 4) is None


@pytest.mark.parametrize(
    ("latest", "year", "current", "previous"),
    [
        (Quarter(2026, 3), 2026, ["2026Q1", "2026Q2", "2026Q3"], ["2025Q1", "2025Q2", "2025Q3"]),
        (Quarter(2026, 1), 2026, ["2026Q1"], ["2025Q1"]),
        (Quarter(2026, 3), 2025, ["2025Q1", "2025Q2", "2025Q3", "2025Q4"], ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]),
        (Quarter(2026, 3), 2027, [], []),
    ],
)
def test_year_to_date(latest, year, current, previous):
    assert year_to_date(latest, year) == (current, previous)


@pytest.mark.parametrize(
    ("tax", "mark"),
    [(None, ""), (0, ""), (7999.99, ""), (8000, "candidate"), (9999.99, "candidate"), (10000, "yiyuan")],
)
def test_building_class(tax, mark):
    assert building_class(tax) == mark


@pytest.mark.parametrize(
    ("code", "core"),
    [
        ("I6513", True),
        ("I64", True),
        ("C3914", True),
        ("F5292", True),
        ("F5193", True),
        ("J6930", True),
        ("F5191", False),
        ("C1810", False),
        ("L7224", False),
        ("C3", False),
        ("", False),
        (None, False),
    ],
)
def test_digital_core(code, core):
    assert is_digital_core(code) is core
