"""The unified social credit code (统一社会信用代码, GB 32100-2015), through python-stdnum."""

from __future__ import annotations

from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from .text import clean_code


class CreditCodeError(ValueError):
    """A credit code that fails validation; `reason` is a short machine code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


#: GB 32100-2015's alphabet (no I, O, S, V, Z) and check weights 3^(i-1) mod 31.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
#: Per position, each allowed character's weighted value: ASCII digits only in the first eight
#: (the registering authority, entity kind and region), the whole alphabet after them.
_TERMS = tuple(
    {char: _ALPHABET.index(char) * weight for char in (_ALPHABET[:10] if position < 8 else _ALPHABET)}
    for position, weight in enumerate(_WEIGHTS)
)


def normalise_credit_code(value: str | None) -> str:
    """Full-width to half-width, spaces and dashes removed, upper-case."""
    code = clean_code(value).replace(" ", "").replace("-", "").upper()
    return code if code.isascii() else uscc.compact(code).upper()


def passes_quickly(code: str) -> bool:
    """The common case of a well-formed code with a correct check character, without
    stdnum's per-character Unicode clean-up (which dominates bulk imports). Anything else
    goes through stdnum, which classifies what is wrong; tests check both agree. A code that
    passes is already normalised: every character is a digit or an upper-case letter."""
    if len(code) != 18:
        return False
    try:
        total = sum(map(dict.__getitem__, _TERMS, code))  # stops after the 17 weighted characters
    except KeyError:
        return False
    return code[17] == _ALPHABET[-total % 31]


def could_be_part_of_a_code(text: str) -> bool:
    """True when `text` (upper-cased) could occur inside a stored code: a stored code has only the
    alphabet's characters (an accepted exception differs in its check character, never in these),
    so a search for anything else (a Chinese name, a space) need not look at codes at all."""
    return bool(text) and all(char in _ALPHABET for char in text.upper())


def validate_credit_code(value: str | None) -> str:
    """Return the normalised code, or raise CreditCodeError saying what is wrong."""
    code = normalise_credit_code(value)
    if not code:
        raise CreditCodeError("empty", "credit code is empty")
    if passes_quickly(code):
        return code
    try:
        return uscc.validate(code)
    except stdnum_errors.InvalidLength as exc:
        raise CreditCodeError("length", f"credit code must have 18 characters, not {len(code)}") from exc
    except stdnum_errors.InvalidChecksum as exc:
        raise CreditCodeError("checksum", "credit code check character is wrong") from exc
    except stdnum_errors.ValidationError as exc:
        raise CreditCodeError("format", "credit code has characters outside the allowed set") from exc


def is_well_formed(value: str | None) -> bool:
    """True when the code has 18 allowed characters, whatever its check character says.

    Admins may accept such a code with a reason (a few real codes fail the check); a code of
    the wrong length or alphabet is never accepted.
    """
    try:
        validate_credit_code(value)
    except CreditCodeError as exc:
        return exc.reason == "checksum"
    return True
