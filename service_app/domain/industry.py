"""Industry codes (国民经济行业分类, GB/T 4754-2017): a section letter and up to four digits."""

from __future__ import annotations

import re

from .text import clean_code

#: Each section letter and the two-digit divisions it spans.
SECTIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5),
    "B": (6, 12),
    "C": (13, 43),
    "D": (44, 46),
    "E": (47, 50),
    "F": (51, 52),
    "G": (53, 60),
    "H": (61, 62),
    "I": (63, 65),
    "J": (66, 69),
    "K": (70, 70),
    "L": (71, 72),
    "M": (73, 75),
    "N": (76, 79),
    "O": (80, 82),
    "P": (83, 83),
    "Q": (84, 85),
    "R": (86, 90),
    "S": (91, 96),
    "T": (97, 97),
}

_PATTERN = re.compile(r"^([A-T])(\d{2,4})?$")


class IndustryCodeError(ValueError):
    """An industry code outside GB/T 4754-2017."""


def section_for_division(division: int) -> str | None:
    """The section letter that holds a two-digit division, or None."""
    for letter, (low, high) in SECTIONS.items():
        if low <= division <= high:
            return letter
    return None


def normalise_industry_code(value: str | None) -> str:
    """Upper-case, half-width, no spaces; a bare number gets its section letter (3511 → C3511)."""
    code = clean_code(value).upper().replace(" ", "")
    if code.isdigit() and len(code) in (2, 3, 4):
        letter = section_for_division(int(code[:2]))
        if letter:
            code = letter + code
    return code


def validate_industry_code(value: str | None) -> str:
    """Return the normalised code, or raise IndustryCodeError."""
    code = normalise_industry_code(value)
    match = _PATTERN.match(code)
    if not match:
        raise IndustryCodeError(f"{code or '(empty)'} is not a section letter with up to 4 digits")
    letter, digits = match.groups()
    if digits:
        low, high = SECTIONS[letter]
        if not low <= int(digits[:2]) <= high:
            raise IndustryCodeError(f"division {digits[:2]} is not in section {letter} ({low:02d}–{high:02d})")
    return code


# 数字经济核心产业: the core industries (categories 01–04) of the NBS's 数字经济及其核心产业统计分类
# (2021), read at the level rosters carry. Whole two-digit divisions where the division belongs to the
# core as a whole, four-digit classes where only part of a division does.
#: Divisions wholly in the core: 计算机、通信和其他电子设备制造 (C39), 电信广播电视和卫星传输 (I63),
#: 互联网和相关服务 (I64), 软件和信息技术服务 (I65).
DIGITAL_CORE_DIVISIONS = frozenset({"C39", "I63", "I64", "I65"})
#: Classes in the core from other divisions: digital-product equipment and optical fibre (C3474, C3475,
#: C3562, C3563, C3832, C3833), digital-product wholesale and retail (F5176–F5178, F5273, F5274), 互联网批发
#: 零售 (F5193, F5292), digital finance (J6930 payment, J6940 financial information), repair of computers
#: and communication equipment (O8121, O8122) and digital publishing (R8626).
DIGITAL_CORE_CLASSES = frozenset(
    {
        "C3474", "C3475", "C3562", "C3563", "C3832", "C3833",
        "F5176", "F5177", "F5178", "F5273", "F5274", "F5193", "F5292",
        "J6930", "J6940", "O8121", "O8122", "R8626",
    }
)  # fmt: skip


def is_digital_core(code: str | None) -> bool:
    """Whether an industry code is a 数字经济核心产业 (by division, or by class within other divisions)."""
    if not code:
        return False
    return code[:3] in DIGITAL_CORE_DIVISIONS or code[:5] in DIGITAL_CORE_CLASSES
