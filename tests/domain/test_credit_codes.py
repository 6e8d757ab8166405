"""Credit codes: the valid codes of domain.md, their mutations, and normalisation."""

import pytest

from service_app.domain.credit_codes import (
    CreditCodeError,
    could_be_part_of_a_code,
    is_well_formed,
    normalise_credit_code,
    validate_credit_code,
)

VALID = ["91110108551385082Q", "91350200MA2YJ1XR9G", "91440101MA5CJQ4N59"]


@pytest.mark.parametrize("code", VALID)
def test_known_valid_codes(code):
    assert validate_credit_code(code) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("９１１１０１０８５５１３８５０８２Ｑ", "91110108551385082Q"),  # full-width
        (" 91110108 551385082q ", "91110108551385082Q"),  # spaces, lower case
        ("91350200-MA2YJ1XR9G", "91350200MA2YJ1XR9G"),  # a dash
    ],
)
def test_normalisation(raw, expected):
    assert normalise_credit_code(raw) == expected
    assert validate_credit_code(raw) == expected


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91110108551385082A", "checksum"),  # wrong check character
        ("91110108551385083Q", "checksum"),  # one digit changed
        ("91350200MA2YJ1XR9", "length"),  # one short
        ("91350200MA2YJ1XR9GG", "length"),  # one long
        ("91350200MA2YJ1XO9G", "format"),  # O is not in the alphabet
        ("9135020IMA2YJ1XR9G", "format"),  # a letter in the region
        ("", "empty"),
        (None, "empty"),
    ],
)
def test_invalid_codes_say_why(code, reason):
    with pytest.raises(CreditCodeError) as info:
        validate_credit_code(code)
    assert info.value.reason == reason


def test_checksum_failure_is_well_formed_but_length_is_not():
    assert is_well_formed("91110108551385082A")
    assert not is_well_formed("91110108551385082")
    assert is_well_formed(VALID[0])


@pytest.mark.parametrize("position", range(17))
def test_every_single_character_mutation_is_caught(position):
    code = VALID[0]
    replacement = "1" if code[position] != "1" else "2"
    mutated = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(CreditCodeError):
        validate_credit_code(mutated)


def test_fast_path_agrees_with_stdnum():
    """The bulk fast path and python-stdnum give the same verdict on random codes."""
    import random

    from stdnum.cn import uscc

    rng = random.Random(4)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for _ in range(5000):
        body = f"{rng.randint(10, 99)}{rng.randint(0, 999999):06d}" + "".join(rng.choice(alphabet) for _ in range(9))
        code = body + rng.choice([uscc.calc_check_digit(body), rng.choice(alphabet)])
        try:
            validate_credit_code(code)
            ours = True
        except CreditCodeError:
            ours = False
        assert ours == uscc.is_valid(code), code


def test_valid_codes_never_reach_stdnum(monkeypatch):
    """The fast path takes every valid code: stdnum costs several times more per code in bulk imports."""
    from stdnum.cn import uscc

    def refuse(code):
        raise AssertionError(f"stdnum validated {code}")

    monkeypatch.setattr(uscc, "validate", refuse)
    for code in VALID:
        assert validate_credit_code(code) == code


def test_fast_path_agrees_with_stdnum_on_any_characters():
    """Letters and non-ASCII digits anywhere, the excluded letters too: the same verdict as stdnum."""
    import random

    from stdnum.cn import uscc

    from service_app.domain.credit_codes import passes_quickly

    rng = random.Random(5)
    characters = "0123456789ABCDEFGHJKLMNPQRTUWXY" + "IOSVZ" + "٣²"
    for _ in range(20000):
        body = "".join(rng.choice(characters if rng.random() < 0.2 else "0123456789") for _ in range(8))
        body += "".join(rng.choice(characters) for _ in range(9))
        check = uscc.calc_check_digit(body) if all(c in characters[:31] for c in body) else "0"
        code = body + rng.choice([check, rng.choice(characters)])
        assert passes_quickly(code) == uscc.is_valid(code), code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("913301", True),
        ("0000003d", True),  # searched upper-cased
        ("91330113000000003D", True),
        ("基准012", False),
        ("数字科技", False),
        ("9133 01", False),  # a space is in no code
        ("91330I", False),  # I, O, S, V and Z are not in the alphabet
        ("", False),
    ],
)
def test_what_could_be_part_of_a_code(text, expected):
    assert could_be_part_of_a_code(text) is expected
