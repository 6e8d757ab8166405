"""The "My follow-ups" plan: whose follow-ups a list shows, and one statement per shape of filters."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict

from service_app.domain.tiers import Role, Tier
from service_app.followups.listing import ids_statement, list_plan, officer_choice, tally_statement


def user(role: Role, user_id: int = 7, streets: tuple[int, ...] = (3,)) -> SimpleNamespace:
    return SimpleNamespace(
        id=user_id,
        role=role,
        sees_all_streets=role in (Role.ADMIN, Role.SUPERVISOR),
        streets=[SimpleNamespace(id=street) for street in streets],
    )


@pytest.mark.parametrize(
    ("role", "officer", "expected"),
    [
        (Role.OFFICER, "", (7, "me")),
        (Role.OFFICER, "all", (None, "all")),
        (Role.OFFICER, "12", (7, "me")),  # an officer cannot pick another's
        (Role.SUPERVISOR, "", (None, "all")),
        (Role.SUPERVISOR, "me", (7, "me")),
        (Role.SUPERVISOR, "12", (12, "12")),
        (Role.SUPERVISOR, "12abc", (None, "all")),
        (Role.ADMIN, "12345678901", (None, "all")),
    ],
)
def test_whose_follow_ups(role, officer, expected):
    assert officer_choice(user(role), MultiDict({"officer": officer})) == expected


def test_the_plan_names_its_clauses_and_values():
    plan = list_plan(user(Role.OFFICER), MultiDict({"q": " 甲_% ", "tier": "key", "street": "3", "day": "2026-11-30"}))
    assert plan.shape == ("streets", "officer", "street", "tier", "text", "day")
    assert plan.values == {
        "street_ids": [3],
        "officer_id": 7,
        "street_id": 3,
        "tier": Tier.KEY,
        "name_pattern": "%甲\\_\\%%",
        "credit_code": "甲_%",
        "day": dt.date(2026, 11, 30),
    }
    assert plan.officer_choice == "me" and plan.day == dt.date(2026, 11, 30)


def test_junk_is_left_out_and_a_user_without_streets_sees_nothing():
    plan = list_plan(user(Role.OFFICER, streets=()), MultiDict({"tier": "x", "street": "y", "day": "2026-02-30"}))
    assert plan.shape == ("no_street", "officer")
    assert plan.day is None


def test_one_statement_per_shape_and_view():
    first = list_plan(user(Role.OFFICER), MultiDict({"q": "甲"}))
    second = list_plan(user(Role.OFFICER, user_id=8, streets=(4, 5)), MultiDict({"q": "乙"}))
    assert first.shape == second.shape
    assert tally_statement(first.shape) is tally_statement(second.shape)
    assert ids_statement(first.shape, "week") is ids_statement(second.shape, "week")
    assert ids_statement(first.shape, "week") is not ids_statement(first.shape, "all")
