"""GB/T 4754-2017 industry codes."""

import pytest

from service_app.domain.industry import IndustryCodeError, validate_industry_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C3511", "C3511"),
        ("c3511", "C3511"),
        ("Ｉ６５１０", "I6510"),
        ("3511", "C3511"),
        ("K70", "K70"),
        ("A", "A"),
        ("F5191", "F5191"),
        ("T97", "T97"),
    ],
)
def test_valid_codes(raw, expected):
    assert validate_industry_code(raw) == expected


@pytest.mark.parametrize("raw", ["C0511", "A06", "Z1234", "C35111", "C3", "", "中国", "K71", "9999"])
def test_invalid_codes(raw):
    with pytest.raises(IndustryCodeError):
        validate_industry_code(raw)
