"""Quarter keys and arithmetic."""

import datetime as dt

import pytest

from service_app.domain.quarters import Quarter, quarter_key


@pytest.mark.parametrize(
    "raw", ["2026Q3", "2026q3", "2026-Q3", "2026 Q3", "2026年第三季度", "2026年3季度", "２０２６Ｑ３", "2026年第3季度"]
)
def test_accepted_forms(raw):
    assert quarter_key(raw) == "2026Q3"


@pytest.mark.parametrize("raw", ["2026Q5", "2026Q0", "26Q3", "2026", "第三季度", "", None, "2026年第五季度"])
def test_rejected_forms(raw):
    with pytest.raises(ValueError):
        Quarter.parse(raw)


def test_arithmetic_and_bounds():
    q = Quarter(2026, 1)
    assert str(q - 1) == "2025Q4"
    assert str(q + 4) == "2027Q1"
    assert [str(x) for x in Quarter(2026, 3).trailing(4)] == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    assert q.first_day == dt.date(2026, 1, 1)
    assert Quarter(2026, 4).last_day == dt.date(2026, 12, 31)
    assert Quarter.of(dt.date(2026, 11, 26)) == Quarter(2026, 4)
    assert Quarter(2025, 4) < Quarter(2026, 1)
