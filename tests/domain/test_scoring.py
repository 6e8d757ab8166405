"""The tier engine (domain.md "How a firm is scored"): indicators, pools, bands, the six rules.

Plain Python: no app, no database. The target quarter is 2026Q4 throughout, so the engine's base
quarter is 2026Q3 and its window of trailing quarters is 2025Q4..2026Q3 (2024Q4..2025Q3 the year
before, for growth).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pytest

from service_app.domain.quarters import Quarter
from service_app.domain.scoring import (
    INDICATORS,
    RULES,
    Decision,
    FirmFacts,
    Override,
    QuarterFigures,
    RuleSet,
    RuleSetError,
    compute_indicators,
    decide_tiers,
)
from service_app.domain.tiers import FirmStatus, Tier

TARGET = Quarter(2026, 4)
BASE = Quarter(2026, 3)
WINDOW = ("2025Q4", "2026Q1", "2026Q2", "2026Q3")
YEAR_BEFORE = ("2024Q4", "2025Q1", "2025Q2", "2025Q3")
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- builders -------------------------------------------------------------------------------


def qf(revenue=100.0, tax=10.0, employees=10, rd=5.0, area=1000.0, land=None) -> QuarterFigures:
    """One quarter's figures, reasonable defaults (万元, people, m², 亩)."""
    return QuarterFigures(revenue=revenue, tax=tax, employees=employees, rd_spend=rd, floor_area_m2=area, land_mu=land)


def figures(quarters=WINDOW, **kwargs) -> dict[str, QuarterFigures]:
    """The same figures for each of `quarters` (the base window by default)."""
    return {q: qf(**kwargs) for q in quarters}


def scaled(k: float) -> dict[str, QuarterFigures]:
    """Four quarters whose revenue, tax and R&D grow with k: a higher k scores strictly higher."""
    return figures(revenue=100.0 * k, tax=10.0 * k, rd=5.0 * k)


def firm(firm_id: int = 1, **facts) -> FirmFacts:
    """A firm with one unit of `scaled` figures unless `figures` is given."""
    return FirmFacts(**{"firm_id": firm_id, "figures": scaled(1), **facts})


def ladder(n: int = 20, at: int = 1, **facts) -> list[FirmFacts]:
    """n firms of one pool whose scores rise with firm_id; firm `at` gets the extra `facts`.

    With 20 firms and the default bands: firms 18-20 key, 11-17 cultivate, 3-10 observe, 1-2 exit.
    """
    return [firm(k, **{"figures": scaled(k), **(facts if k == at else {})}) for k in range(1, n + 1)]


def switches(**on) -> dict[str, bool]:
    """The six rule switches, all on unless named."""
    return {**dict.fromkeys(RULES, True), **on}


def only_weights(**weights) -> dict[str, float]:
    """Weights naming every indicator, zero unless named."""
    return {**dict.fromkeys(INDICATORS, 0.0), **weights}


def decide(firms, rules: RuleSet | None = None, quarter=TARGET, today=None) -> dict[int, Decision]:
    return {d.firm_id: d for d in decide_tiers(firms, (rules or RuleSet()).check(), quarter, today)}


def codes(decision: Decision) -> list[str]:
    return [r["code"] for r in decision.reasons]


def indicator_reason(decision: Decision, name: str) -> dict:
    (reason,) = [r for r in decision.reasons if r["code"] == f"indicator:{name}"]
    return reason


def tier_counts(decisions) -> dict[Tier, int]:
    return {t: sum(d.tier == t for d in decisions.values()) for t in Tier}


def test_the_ladder_builder_gives_the_documented_score_tiers():
    decisions = decide(ladder())
    assert {k: decisions[k].tier for k in (1, 2, 3, 10, 11, 17, 18, 20)} == {
        1: Tier.EXIT,
        2: Tier.EXIT,
        3: Tier.OBSERVE,
        10: Tier.OBSERVE,
        11: Tier.CULTIVATE,
        17: Tier.CULTIVATE,
        18: Tier.KEY,
        20: Tier.KEY,
    }
    assert all(d.tier == d.score_tier for d in decisions.values())


# --- compute_indicators -----------------------------------------------------------------------


def test_indicators_use_the_four_quarters_ending_at_the_base():
    data = {
        "2025Q3": qf(revenue=9999, tax=9999),  # before the window
        "2025Q4": qf(revenue=100, tax=10, rd=5, employees=4, area=500),
        "2026Q1": qf(revenue=200, tax=20, rd=5, employees=4, area=500),
        "2026Q2": qf(revenue=300, tax=30, rd=5, employees=4, area=500),
        "2026Q3": qf(revenue=400, tax=40, rd=5, employees=10, area=1000),  # the latest: area, staff
        "2026Q4": qf(revenue=9999, tax=9999),  # the target quarter itself
    }
    item = compute_indicators(data, BASE)
    assert item.values["revenue_ttm"] == 1000
    assert item.values["tax_per_area"] == pytest.approx(100 / 1000)  # tax TTM ÷ the latest floor area
    assert item.values["rd_intensity"] == pytest.approx(20 / 1000)
    assert item.values["productivity"] == pytest.approx(1000 / 10)  # revenue TTM ÷ the latest headcount
    assert item.values["revenue_growth"] is None  # no year before
    assert item.values["tax_growth"] is None
    assert item.area_kind == "m2"
    assert item.quarters_reported == 4
    assert item.zero_revenue_streak is False


def test_the_engine_reads_the_window_before_the_target_quarter():
    data = {**scaled(1), "2026Q4": qf(revenue=1e9), "2025Q3": qf(revenue=1e9)}
    (decision,) = decide_tiers([firm(figures=data)], RuleSet(), TARGET)
    assert decision.indicators["revenue_ttm"] == 400
    assert "forced_key" not in codes(decision)  # the 1e9 quarters are outside the window


@pytest.mark.parametrize(
    ("area", "land", "kind", "value"),
    [
        (1000.0, None, "m2", 40 / 1000),
        (None, 8.0, "mu", 40 / 8),
        (1000.0, 8.0, "m2", 40 / 1000),  # floor area first when both are reported
        (None, None, None, None),
        (0.0, 0.0, None, None),
    ],
)
def test_tax_per_area_kind(area, land, kind, value):
    item = compute_indicators(figures(area=area, land=land), BASE)
    assert item.area_kind == kind
    assert item.values["tax_per_area"] == (pytest.approx(value) if value is not None else None)


def test_growth_needs_all_eight_quarters():
    data = {**figures(YEAR_BEFORE, revenue=100, tax=10), **figures(revenue=150, tax=30)}
    item = compute_indicators(data, BASE)
    assert item.values["revenue_growth"] == pytest.approx(1.5)
    assert item.values["tax_growth"] == pytest.approx(3.0)

    missing_quarter = {k: v for k, v in data.items() if k != "2025Q1"}
    item = compute_indicators(missing_quarter, BASE)
    assert item.values["revenue_growth"] is None
    assert item.values["tax_growth"] is None

    no_revenue = {**data, "2025Q1": qf(revenue=None, tax=10)}  # only revenue missing in one quarter
    item = compute_indicators(no_revenue, BASE)
    assert item.values["revenue_growth"] is None
    assert item.values["tax_growth"] == pytest.approx(3.0)


def test_growth_against_a_zero_year_is_not_computed():
    data = {**figures(YEAR_BEFORE, revenue=0, tax=0), **figures()}
    item = compute_indicators(data, BASE)
    assert item.values["revenue_growth"] is None
    assert item.values["tax_growth"] is None


@pytest.mark.parametrize(
    ("quarters", "reported"),
    [((), 0), (("2026Q3",), 1), (("2025Q4", "2026Q3"), 2), (WINDOW, 4), (("2025Q3", "2026Q4"), 0)],
)
def test_quarters_reported_counts_window_quarters_with_revenue(quarters, reported):
    assert compute_indicators(figures(quarters), BASE).quarters_reported == reported


def test_a_quarter_without_revenue_is_not_reported():
    data = {**figures(("2026Q2",)), "2026Q3": qf(revenue=None, tax=10)}
    assert compute_indicators(data, BASE).quarters_reported == 1


@pytest.mark.parametrize(
    ("zero_quarters", "streak"),
    [
        (("2026Q2", "2026Q3"), True),  # the last two of the window
        (("2025Q4", "2026Q1", "2026Q2", "2026Q3"), True),
        (("2026Q3",), False),  # only one
        (("2026Q1", "2026Q2"), False),  # two running, but 2026Q3 has revenue again
        (("2025Q4", "2026Q2"), False),  # not running
    ],
)
def test_zero_revenue_streak(zero_quarters, streak):
    data = {q: qf(revenue=0.0 if q in zero_quarters else 100.0) for q in WINDOW}
    assert compute_indicators(data, BASE).zero_revenue_streak is streak


def test_a_missing_quarter_is_not_a_zero_revenue_quarter():
    data = {"2025Q4": qf(), "2026Q1": qf(), "2026Q2": qf(revenue=0.0)}  # 2026Q3 not reported
    assert compute_indicators(data, BASE).zero_revenue_streak is False


# --- rule 1: override -------------------------------------------------------------------------


def test_an_override_beats_every_other_rule():
    facts = {
        "status": FirmStatus.DEREGISTERED,
        "is_listed": True,
        "is_abnormal": True,
        "figures": figures(revenue=0.0),
        "override": Override(Tier.CULTIVATE, "区领导挂联企业"),
    }
    decision = decide(ladder(at=1, **facts))[1]
    assert decision.tier == Tier.CULTIVATE
    assert codes(decision)[0] == "override"
    assert "区领导挂联企业" in decision.reasons[0]["text"]
    assert not {"forced_exit", "forced_key", "veto"} & set(codes(decision))


@pytest.mark.parametrize(
    ("expiry", "applies"),
    [
        (None, True),  # until lifted
        ("2027Q2", True),
        ("2026Q4", True),  # expiry == the target quarter: still in force
        ("2026年第四季度", True),
        ("2026Q3", False),  # expired the quarter before
        ("2025Q1", False),
    ],
)
def test_override_expiry(expiry, applies):
    override = Override(Tier.KEY, "企业申请复核", expiry=expiry)
    decision = decide([firm(status=FirmStatus.DEREGISTERED, override=override)])[1]
    assert decision.tier == (Tier.KEY if applies else Tier.EXIT)
    assert codes(decision)[0] == ("override" if applies else "forced_exit")
    if applies and expiry:
        assert expiry in decision.reasons[0]["text"]


def test_an_override_keeps_the_score_for_the_record():
    decision = decide(ladder(at=20, override=Override(Tier.EXIT, "拟迁出")))[20]
    assert decision.tier == Tier.EXIT
    assert decision.score_tier == Tier.KEY
    assert decision.score is not None and "score" in codes(decision)


# --- rule 2: forced exit ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "word"), [(FirmStatus.DEREGISTERED, "已注销"), (FirmStatus.RELOCATING, "迁出中")])
def test_forced_exit_for_status(status, word):
    decision = decide(ladder(at=20, status=status))[20]  # the best score of the pool
    assert decision.score_tier == Tier.KEY
    assert decision.tier == Tier.EXIT
    assert codes(decision)[0] == "forced_exit"
    assert word in decision.reasons[0]["text"]


@pytest.mark.parametrize(
    ("zero_quarters", "exit_"),
    [
        (("2026Q2", "2026Q3"), True),
        (("2026Q3",), False),
        (("2026Q1", "2026Q2"), False),
        (("2026Q3", "2026Q4"), False),  # the target quarter is not in the window
    ],
)
def test_forced_exit_for_zero_revenue_in_the_last_two_window_quarters(zero_quarters, exit_):
    data = {q: qf(revenue=0.0 if q in zero_quarters else 100.0) for q in (*WINDOW, "2026Q4")}
    decision = decide([firm(figures=data)])[1]  # alone in its pool: key by score
    assert (decision.tier == Tier.EXIT) is exit_
    assert ("forced_exit" in codes(decision)) is exit_
    if exit_:
        assert "营业收入为零" in decision.reasons[0]["text"]


def test_an_active_firm_with_revenue_is_not_forced_out():
    decision = decide([firm(status=FirmStatus.ACTIVE)])[1]
    assert decision.tier == Tier.KEY
    assert "forced_exit" not in codes(decision)


@pytest.mark.parametrize(
    "facts",
    [
        {"is_listed": True, "status": FirmStatus.DEREGISTERED},
        {"is_chain_leader": True, "status": FirmStatus.RELOCATING},
        {"is_listed": True, "figures": {**scaled(1), "2026Q2": qf(revenue=0.0), "2026Q3": qf(revenue=0.0)}},
        {"figures": figures(revenue=20_000.0), "status": FirmStatus.DEREGISTERED},  # 80 000 万元 TTM
    ],
)
def test_forced_exit_beats_forced_key(facts):
    decision = decide([firm(**facts)])[1]
    assert decision.tier == Tier.EXIT
    assert codes(decision)[0] == "forced_exit"
    assert "forced_key" not in codes(decision)


# --- rule 3: forced key -----------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "word"), [("is_listed", "上市企业"), ("is_chain_leader", "链主企业")])
def test_forced_key_for_listed_and_chain_leaders(flag, word):
    decision = decide(ladder(at=1, **{flag: True}))[1]  # the worst score of the pool
    assert decision.score_tier == Tier.EXIT
    assert decision.tier == Tier.KEY
    assert codes(decision)[0] == "forced_key"
    assert word in decision.reasons[0]["text"]


@pytest.mark.parametrize(("threshold", "forced"), [(400.0, True), (399.0, True), (400.01, False)])
def test_forced_key_at_the_revenue_threshold(threshold, forced):
    decisions = decide(ladder(), RuleSet(key_revenue_threshold=threshold))  # firm 1: revenue TTM 400
    decision = decisions[1]
    assert decision.indicators["revenue_ttm"] == 400
    assert decision.tier == (Tier.KEY if forced else Tier.EXIT)
    assert ("forced_key" in codes(decision)) is forced


def test_default_threshold_is_fifty_thousand():
    at = decide([*ladder(), firm(99, figures=figures(revenue=12_500.0))])  # exactly 50 000 TTM
    below = decide([*ladder(), firm(99, figures=figures(revenue=12_499.0))])
    assert "forced_key" in codes(at[99])
    assert "forced_key" not in codes(below[99])


def test_the_veto_overrides_forced_key():
    # Rules apply in order, so rule 4 comes after rule 3: a listed firm on the abnormal list is
    # not kept at key (a veto a listing could bypass would be no veto).
    decision = decide(ladder(at=1, is_listed=True, is_abnormal=True))[1]
    assert decision.tier == Tier.OBSERVE
    assert {"veto", "forced_key"} <= set(codes(decision))


# --- rule 4: veto -----------------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "word"), [("is_abnormal", "经营异常"), ("has_serious_violation", "严重违法违规")])
@pytest.mark.parametrize(("at", "score_tier"), [(20, Tier.KEY), (15, Tier.CULTIVATE)])
def test_veto_caps_key_and_cultivate_at_observe(flag, word, at, score_tier):
    decision = decide(ladder(at=at, **{flag: True}))[at]
    assert decision.score_tier == score_tier
    assert decision.tier == Tier.OBSERVE
    assert codes(decision)[0] == "veto"
    assert word in decision.reasons[0]["text"]


@pytest.mark.parametrize(("at", "tier"), [(5, Tier.OBSERVE), (1, Tier.EXIT)])
def test_veto_does_not_lift_observe_or_exit(at, tier):
    decision = decide(ladder(at=at, is_abnormal=True, has_serious_violation=True))[at]
    assert decision.tier == tier
    assert "veto" not in codes(decision)


# --- rule 5: protection -----------------------------------------------------------------------


@pytest.mark.parametrize(("days", "protected"), [(0, True), (729, True), (730, False), (3000, False)])
def test_protection_for_young_firms(days, protected):
    established = TARGET.first_day - dt.timedelta(days=days)
    decision = decide(ladder(at=1, established=established))[1]
    assert decision.score_tier == Tier.EXIT
    assert decision.tier == (Tier.OBSERVE if protected else Tier.EXIT)
    assert ("protection" in codes(decision)) is protected
    if protected:
        assert "成立不满两年" in decision.reasons[0]["text"]


def test_protection_counts_from_the_given_day():
    established = TARGET.first_day - dt.timedelta(days=700)
    later = TARGET.first_day + dt.timedelta(days=40)
    assert decide(ladder(at=1, established=established))[1].tier == Tier.OBSERVE
    assert decide(ladder(at=1, established=established), today=later)[1].tier == Tier.EXIT


@pytest.mark.parametrize(("year", "protected"), [(2026, True), (2025, False), (None, False)])
def test_protection_for_firms_promoted_this_year(year, protected):
    decision = decide(ladder(at=1, above_scale=True, above_scale_since=year))[1]
    assert decision.tier == (Tier.OBSERVE if protected else Tier.EXIT)
    assert ("protection" in codes(decision)) is protected
    if protected:
        assert "新升规上" in decision.reasons[0]["text"]


def test_protection_only_touches_exit():
    young = TARGET.first_day - dt.timedelta(days=10)
    decision = decide(ladder(at=20, established=young))[20]
    assert decision.tier == Tier.KEY
    assert "protection" not in codes(decision)


@pytest.mark.parametrize(
    "facts",
    [
        {"status": FirmStatus.DEREGISTERED},
        {"figures": {**scaled(1), "2026Q2": qf(revenue=0.0), "2026Q3": qf(revenue=0.0)}},
    ],
)
def test_protection_does_not_lift_a_forced_exit(facts):
    young = TARGET.first_day - dt.timedelta(days=10)
    decision = decide([firm(established=young, above_scale_since=2026, **facts)])[1]
    assert decision.tier == Tier.EXIT
    assert "protection" not in codes(decision)


# --- rule 6: insufficient data ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [(None, Tier.OBSERVE), (Tier.KEY, Tier.KEY), (Tier.CULTIVATE, Tier.CULTIVATE), (Tier.EXIT, Tier.EXIT)],
)
def test_insufficient_data_keeps_the_current_tier(current, expected):
    thin = firm(99, figures=figures(("2026Q3",)), current_tier=current)
    decisions = decide([*ladder(), thin])
    decision = decisions[99]
    assert decision.tier == expected
    assert decision.insufficient_data is True
    assert codes(decision)[0] == "insufficient_data"
    assert (decision.score, decision.percentile, decision.score_tier, decision.pool) == (None, None, None, "none")
    assert decisions[20].insufficient_data is False


@pytest.mark.parametrize(
    ("data", "insufficient"),
    [
        ({}, True),
        (figures(("2026Q3",)), True),
        (figures(("2025Q4", "2026Q3")), False),  # two quarters are enough
        (figures(("2025Q3", "2026Q4")), True),  # neither is in the window
        ({**figures(("2026Q2",)), "2026Q3": qf(revenue=None)}, True),
    ],
)
def test_insufficient_data_is_fewer_than_two_window_quarters(data, insufficient):
    decision = decide([firm(figures=data)])[1]
    assert decision.insufficient_data is insufficient
    assert ("insufficient_data" in codes(decision)) is insufficient


def test_firms_with_insufficient_data_stay_out_of_the_pools():
    with_thin = decide([*ladder(10), *(firm(100 + i, figures={}, above_scale=True) for i in range(3))])
    assert {d.pool for k, d in with_thin.items() if k <= 10} == {"below"}  # no tiny 规上 pool to merge
    assert [with_thin[k].percentile for k in range(1, 11)] == [d.percentile for d in decide(ladder(10)).values()]


def test_veto_still_applies_after_insufficient_data_keeps_a_key_tier():
    decision = decide([firm(figures={}, current_tier=Tier.KEY, is_abnormal=True)])[1]
    assert decision.tier == Tier.OBSERVE
    assert decision.insufficient_data is True
    assert codes(decision)[:2] == ["veto", "insufficient_data"]


def test_protection_still_applies_after_insufficient_data_keeps_an_exit_tier():
    young = TARGET.first_day - dt.timedelta(days=100)
    decision = decide([firm(figures={}, current_tier=Tier.EXIT, established=young)])[1]
    assert decision.tier == Tier.OBSERVE
    assert codes(decision)[:2] == ["protection", "insufficient_data"]


def test_forced_rules_apply_without_data():
    assert decide([firm(figures={}, is_listed=True)])[1].tier == Tier.KEY
    assert decide([firm(figures={}, status=FirmStatus.RELOCATING, current_tier=Tier.KEY)])[1].tier == Tier.EXIT


# --- rule switches ----------------------------------------------------------------------------

#: Strong figures, but no revenue in 2026Q2 and 2026Q3: the best score of a ladder, yet forced out.
BIG_THEN_ZERO = {
    **figures(("2025Q4", "2026Q1"), revenue=6000.0, tax=600.0, rd=300.0),
    **figures(("2026Q2", "2026Q3"), revenue=0.0, tax=600.0, rd=300.0),
}
SWITCH_CASES = [
    # rule, firm, its facts, tier with the rule on, tier with it off
    ("override", 1, {"override": Override(Tier.KEY, "人工认定")}, Tier.KEY, Tier.EXIT),
    ("forced_exit", 20, {"status": FirmStatus.DEREGISTERED}, Tier.EXIT, Tier.KEY),
    ("forced_exit", 20, {"figures": BIG_THEN_ZERO}, Tier.EXIT, Tier.KEY),
    ("forced_key", 1, {"is_chain_leader": True}, Tier.KEY, Tier.EXIT),
    ("veto", 20, {"has_serious_violation": True}, Tier.OBSERVE, Tier.KEY),
    ("protection", 1, {"above_scale_since": 2026}, Tier.OBSERVE, Tier.EXIT),
    ("insufficient_data", 1, {"figures": {}, "current_tier": Tier.KEY}, Tier.KEY, Tier.OBSERVE),
]


@pytest.mark.parametrize(("rule", "at", "facts", "on_tier", "off_tier"), SWITCH_CASES)
def test_each_rule_switch_turns_its_rule_off(rule, at, facts, on_tier, off_tier):
    firms = ladder(at=at, **facts)
    on = decide(firms)[at]
    off = decide(firms, RuleSet(rules=switches(**{rule: False})))[at]
    assert on.tier == on_tier
    assert rule in codes(on)
    assert off.tier == off_tier
    assert rule not in codes(off)


def test_with_the_insufficient_data_rule_off_an_unscored_firm_still_says_why():
    decision = decide([firm(figures={}, current_tier=Tier.KEY)], RuleSet(rules=switches(insufficient_data=False)))[1]
    assert decision.tier == Tier.OBSERVE
    assert decision.insufficient_data is True
    assert codes(decision) == ["unscored"]
    assert "数据不足" in decision.reasons[0]["text"]


def test_all_rules_off_leaves_the_score_tier():
    facts = {"is_listed": True, "status": FirmStatus.DEREGISTERED, "override": Override(Tier.KEY, "x")}
    rules = RuleSet(rules=dict.fromkeys(RULES, False))
    decisions = decide(ladder(at=1, **facts), rules)
    assert all(d.tier == d.score_tier for d in decisions.values())


# --- pools and percentile bands ---------------------------------------------------------------


def test_ties_share_the_better_tier():
    decisions = decide([firm(k) for k in range(1, 21)])  # 20 identical firms
    assert {d.tier for d in decisions.values()} == {Tier.KEY}
    assert {d.percentile for d in decisions.values()} == {0.0}
    assert len({d.score for d in decisions.values()}) == 1


def test_ties_in_the_middle_share_the_better_tier():
    # Scores 20, 19, then 18 firms tied: the tied firms have 2 of 20 above (10%) → all key.
    firms = [firm(1, figures=scaled(3)), firm(2, figures=scaled(2)), *(firm(k) for k in range(3, 21))]
    decisions = decide(firms)
    assert {decisions[k].percentile for k in range(3, 21)} == {0.1}
    assert tier_counts(decisions)[Tier.KEY] == 20


@pytest.mark.parametrize("small", [1, 2, 3, 9])
def test_a_pool_below_the_minimum_is_merged_with_the_other(small):
    above = [firm(100 + k, figures=scaled(k), above_scale=True) for k in range(1, small + 1)]
    decisions = decide([*above, *ladder(12)])
    assert {d.pool for d in decisions.values()} == {"merged"}
    assert sum(d.tier == Tier.KEY for d in decisions.values()) == sum(d.percentile < 0.15 for d in decisions.values())


@pytest.mark.parametrize("size", [1, 2, 3, 9])
def test_a_lone_small_pool_is_reported_as_merged(size):
    decisions = decide(ladder(size))
    assert {d.pool for d in decisions.values()} == {"merged"}


def test_pools_at_the_minimum_are_ranked_separately():
    # 规上 firms all outscore 规下 firms, yet each pool has its own key firms.
    above = [firm(100 + k, figures=scaled(100 + k), above_scale=True) for k in range(1, 11)]
    decisions = decide([*above, *ladder(10)])
    assert {decisions[k].pool for k in range(101, 111)} == {"above"}
    assert {decisions[k].pool for k in range(1, 11)} == {"below"}
    assert decisions[10].tier == Tier.KEY
    assert decisions[110].tier == Tier.KEY
    assert decisions[101].tier == Tier.EXIT


def test_a_custom_minimum_pool_size():
    above = [firm(100 + k, figures=scaled(k), above_scale=True) for k in range(1, 4)]
    separate = decide([*above, *ladder(3)], RuleSet(min_pool_size=3))
    merged = decide([*above, *ladder(3)], RuleSet(min_pool_size=4))
    assert {d.pool for d in separate.values()} == {"above", "below"}
    assert {d.pool for d in merged.values()} == {"merged"}


def test_all_zero_metrics_are_forced_out_without_crashing():
    firms = [firm(k, figures=figures(revenue=0.0, tax=0.0, employees=0, rd=0.0)) for k in range(1, 13)]
    decisions = decide(firms)
    assert {d.tier for d in decisions.values()} == {Tier.EXIT}
    assert {d.score for d in decisions.values()} == {0.0}


def test_all_zero_metrics_give_a_deterministic_tier():
    firms = [firm(k, figures=figures(revenue=0.0, tax=0.0, employees=0, rd=0.0)) for k in range(1, 13)]
    rules = RuleSet(rules=switches(forced_exit=False))
    first = decide(firms, rules)
    again = decide(list(reversed(firms)), rules)
    assert {d.score for d in first.values()} == {0.0}
    assert {d.tier for d in first.values()} == {Tier.KEY}  # everyone tied at the top
    assert {k: d.tier for k, d in first.items()} == {k: d.tier for k, d in again.items()}


def test_a_zero_benchmark_gives_a_positive_value_the_cap():
    firms = [firm(k, figures=figures(tax=0.0)) for k in range(1, 12)]
    firms.append(firm(12, figures=figures(tax=10.0)))
    decision = decide(firms)[12]
    assert indicator_reason(decision, "tax_per_area")["ratio"] == 3.0
    assert indicator_reason(decide(firms)[1], "tax_per_area")["ratio"] == 0.0


def test_default_bands_on_a_hundred_distinct_scores():
    decisions = decide(ladder(100))
    assert len({d.score for d in decisions.values()}) == 100
    assert tier_counts(decisions) == {Tier.KEY: 15, Tier.CULTIVATE: 35, Tier.OBSERVE: 40, Tier.EXIT: 10}
    assert {decisions[k].tier for k in range(86, 101)} == {Tier.KEY}  # the best 15
    assert {decisions[k].tier for k in range(1, 11)} == {Tier.EXIT}  # the worst 10


@pytest.mark.parametrize(
    "bands",
    [
        {"key": 10, "cultivate": 30, "observe": 50, "exit": 10},
        {"key": 25, "cultivate": 25, "observe": 45, "exit": 5},
        {"key": 0, "cultivate": 50, "observe": 50, "exit": 0},
    ],
)
def test_custom_bands_move_the_cut_offs(bands):
    decisions = decide(ladder(100), RuleSet(bands=bands))
    assert tier_counts(decisions) == {t: bands[t.value] for t in Tier}


def test_percentile_is_the_share_strictly_above():
    decisions = decide(ladder(20))
    assert decisions[20].percentile == 0.0
    assert decisions[1].percentile == pytest.approx(19 / 20)


# --- the score formula ------------------------------------------------------------------------


def test_score_by_hand_for_two_firms():
    # Weights 50/50 on tax per m² and revenue TTM; medians of two values are their mean.
    rules = RuleSet(weights=only_weights(tax_per_area=50, revenue_ttm=50), min_pool_size=1)
    a = firm(1, above_scale=True, figures=figures(revenue=100.0, tax=10.0, area=10.0))  # 400 TTM, 4 per m²
    b = firm(2, above_scale=True, figures=figures(revenue=300.0, tax=30.0, area=20.0))  # 1200 TTM, 6 per m²
    decisions = decide([a, b], rules)
    # medians: revenue 800, tax per m² 5
    assert decisions[1].score == pytest.approx(50 * 4 / 5 + 50 * 400 / 800)  # 65
    assert decisions[2].score == pytest.approx(50 * 6 / 5 + 50 * 1200 / 800)  # 135
    assert {d.pool for d in decisions.values()} == {"above"}
    reason = indicator_reason(decisions[1], "tax_per_area")
    assert (reason["ratio"], reason["weight"], reason["contribution"]) == (0.8, 50.0, 40.0)
    assert "reweighted" not in codes(decisions[1])  # zero weights are not "missing"


def test_score_shares_spread_over_the_indicators_present():
    # Four quarters only: no growth, so 30/20/10/10 of the default weights become shares of 70.
    rules = RuleSet(min_pool_size=1)
    decisions = decide([firm(1, figures=scaled(1)), firm(2, figures=scaled(3))], rules)
    shares = {r["indicator"]: r["weight"] for r in decisions[1].reasons if r["code"].startswith("indicator:")}
    assert shares == pytest.approx(
        {"tax_per_area": 300 / 7, "revenue_ttm": 200 / 7, "rd_intensity": 100 / 7, "productivity": 100 / 7}, abs=0.01
    )
    # medians are those of k = 2: firm 1 is at half of every median but R&D intensity (equal)
    expected = 100 / 70 * (30 * 0.5 + 20 * 0.5 + 10 * 1.0 + 10 * 0.5)
    assert decisions[1].score == pytest.approx(expected)
    reweighted = next(r for r in decisions[1].reasons if r["code"] == "reweighted")
    assert "营收增长" in reweighted["text"] and "税收增长" in reweighted["text"]


def test_the_cap_limits_one_indicator():
    rules = RuleSet(weights=only_weights(revenue_ttm=50, rd_intensity=50), min_pool_size=1)
    firms = [
        firm(1, figures=figures(revenue=100.0, rd=10.0)),
        firm(2, figures=figures(revenue=100.0, rd=10.0)),
        firm(3, figures=figures(revenue=10_000.0, rd=1000.0)),  # 100× the median revenue
    ]
    decision = decide(firms, rules)[3]
    assert indicator_reason(decision, "revenue_ttm")["ratio"] == 3.0
    assert decision.score == pytest.approx(50 * 3 + 50 * 1)
    lower_cap = decide(firms, dataclasses.replace(rules, cap=2.0))[3]
    assert lower_cap.score == pytest.approx(50 * 2 + 50 * 1)


def test_a_firm_without_floor_area_or_land_is_reweighted():
    firms = [*ladder(12), firm(99, figures=figures(area=None, land=None))]
    decision = decide(firms)[99]
    assert decision.indicators["tax_per_area"] is None
    assert "indicator:tax_per_area" not in codes(decision)
    shares = [r["weight"] for r in decision.reasons if r["code"].startswith("indicator:")]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    reweighted = next(r for r in decision.reasons if r["code"] == "reweighted")
    assert "亩均/平方米税收" in reweighted["text"]


def test_tax_per_area_is_benchmarked_per_kind():
    rules = RuleSet(weights=only_weights(tax_per_area=100))
    m2 = [firm(k, figures=figures(tax=250.0 * k, area=1000.0)) for k in (1, 2, 3)]  # 1, 2, 3 per m²
    mu = [firm(10 + k, figures=figures(tax=250.0 * k, area=None, land=10.0)) for k in (1, 3)]  # 100, 300 per 亩
    decisions = decide([*m2, *mu], rules)
    ratio = {k: indicator_reason(d, "tax_per_area")["ratio"] for k, d in decisions.items()}
    assert ratio == {1: 0.5, 2: 1.0, 3: 1.5, 11: 0.5, 13: 1.5}  # medians: 2 per m², 200 per 亩


def test_a_land_firm_is_not_compared_with_floor_area_firms():
    rules = RuleSet(weights=only_weights(tax_per_area=100))
    m2 = [firm(k, figures=figures(tax=10.0 * k, area=1000.0)) for k in range(1, 12)]  # ≤ 0.44 per m²
    land = firm(99, figures=figures(tax=10.0, area=None, land=10.0))  # 4 per 亩, alone of its kind
    decision = decide([*m2, land], rules)[99]
    assert indicator_reason(decision, "tax_per_area")["ratio"] == 1.0  # not capped at 3 against m² firms
    assert decision.score == pytest.approx(100.0)


def test_growth_indicators_score_only_with_eight_quarters():
    rules = RuleSet(min_pool_size=1)
    full = {**figures(YEAR_BEFORE), **figures(revenue=200.0)}
    short = {k: v for k, v in full.items() if k != "2024Q4"}
    decisions = decide([firm(1, figures=full), firm(2, figures=full), firm(3, figures=short)], rules)
    assert "indicator:revenue_growth" in codes(decisions[1])
    assert decisions[1].indicators["revenue_growth"] == pytest.approx(2.0)
    assert decisions[3].indicators["revenue_growth"] is None
    assert "indicator:revenue_growth" not in codes(decisions[3])
    assert "reweighted" in codes(decisions[3])
    assert "reweighted" not in codes(decisions[1])


# --- hysteresis -------------------------------------------------------------------------------


def test_hysteresis_is_off_by_default():
    assert RuleSet().hysteresis is False
    decision = decide(ladder(at=1, current_tier=Tier.KEY))[1]
    assert decision.tier == Tier.EXIT
    assert "hysteresis" not in codes(decision)


@pytest.mark.parametrize(
    ("previous", "tier", "held"),
    [
        (None, Tier.KEY, True),  # first quarter below: held
        (Tier.KEY, Tier.KEY, True),  # last time the score was in band
        (Tier.CULTIVATE, Tier.EXIT, False),  # second quarter running below: drops
        (Tier.EXIT, Tier.EXIT, False),
    ],
)
def test_hysteresis_holds_for_one_quarter(previous, tier, held):
    rules = RuleSet(hysteresis=True)
    decision = decide(ladder(at=1, current_tier=Tier.KEY, previous_score_tier=previous), rules)[1]
    assert decision.score_tier == Tier.EXIT
    assert decision.tier == tier
    assert ("hysteresis" in codes(decision)) is held


def test_hysteresis_does_not_slow_a_rise():
    decision = decide(ladder(at=20, current_tier=Tier.EXIT), RuleSet(hysteresis=True))[20]
    assert decision.tier == Tier.KEY
    assert "hysteresis" not in codes(decision)


def test_veto_applies_to_a_tier_held_by_hysteresis():
    facts = {"current_tier": Tier.KEY, "is_abnormal": True}
    decision = decide(ladder(at=1, **facts), RuleSet(hysteresis=True))[1]
    assert decision.tier == Tier.OBSERVE


# --- RuleSet ----------------------------------------------------------------------------------


def test_the_default_rule_set_checks():
    rules = RuleSet()
    assert rules.check() is rules
    assert sum(rules.weights.values()) == 100
    assert rules.bands == {"key": 15, "cultivate": 35, "observe": 40, "exit": 10}
    assert rules.cap == 3.0
    assert set(rules.rules) == set(RULES) and all(rules.rules.values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weights": {**RuleSet().weights, "tax_per_area": -1}}, "negative"),
        ({"weights": dict.fromkeys(INDICATORS, 0)}, "above zero"),
        ({"weights": {**RuleSet().weights, "profit": 10}}, "six indicators"),
        ({"weights": {k: v for k, v in RuleSet().weights.items() if k != "productivity"}}, "six indicators"),
        ({"bands": {"key": 15, "cultivate": 35, "observe": 40, "exit": 5}}, "100"),
        ({"bands": {"key": 20, "cultivate": 35, "observe": 40, "exit": 10}}, "100"),
        ({"bands": {"key": 15, "cultivate": 35, "observe": 40, "bottom": 10}}, "each tier"),
        ({"bands": {"key": -5, "cultivate": 60, "observe": 35, "exit": 10}}, "non-negative"),
        ({"cap": 0.5}, "cap"),
        ({"cap": 0}, "cap"),
        ({"cap": 11}, "cap"),
        ({"cap": float("nan")}, "cap"),
        ({"key_revenue_threshold": 0}, "threshold"),
        ({"rules": {**switches(), "bonus": True}}, "six rules"),
        ({"min_pool_size": 0}, "pool size"),
    ],
)
def test_check_rejects_bad_settings(changes, message):
    with pytest.raises(RuleSetError, match=message):
        dataclasses.replace(RuleSet(), **changes).check()


@pytest.mark.parametrize("cap", [1, 3, 10])
def test_check_accepts_caps_in_range(cap):
    RuleSet(cap=cap).check()


def test_rule_set_errors_are_value_errors():
    assert issubclass(RuleSetError, ValueError)


def test_as_dict_from_dict_round_trip():
    custom = RuleSet(
        weights=only_weights(tax_per_area=40, revenue_ttm=30, productivity=30),
        cap=2.5,
        bands={"key": 10, "cultivate": 30, "observe": 50, "exit": 10},
        key_revenue_threshold=30_000,
        rules=switches(veto=False, protection=False),
        min_pool_size=5,
        hysteresis=True,
    ).check()
    for rules in (RuleSet(), custom):
        data = json.loads(json.dumps(rules.as_dict(), ensure_ascii=False))
        again = RuleSet.from_dict(data)
        assert again == rules
        assert again.as_dict() == rules.as_dict()
        assert again.check() is again


def test_from_dict_fills_missing_keys_with_defaults():
    assert RuleSet.from_dict({}) == RuleSet()
    partial = RuleSet.from_dict({"cap": "2", "hysteresis": 1})
    assert (partial.cap, partial.hysteresis, partial.weights) == (2.0, True, RuleSet().weights)


# --- reasons ----------------------------------------------------------------------------------


def _mixed_population() -> list[FirmFacts]:
    young = TARGET.first_day - dt.timedelta(days=100)
    zero = {**scaled(1), "2026Q2": qf(revenue=0.0), "2026Q3": qf(revenue=0.0)}
    special = [
        {"override": Override(Tier.CULTIVATE, "人工认定", expiry="2026Q4")},
        {"override": Override(Tier.KEY, "已过期", expiry="2026Q1")},
        {"status": FirmStatus.DEREGISTERED},
        {"status": FirmStatus.RELOCATING},
        {"figures": zero},
        {"is_listed": True},
        {"is_chain_leader": True},
        {"figures": figures(revenue=20_000.0)},
        {"is_abnormal": True},
        {"has_serious_violation": True},
        {"established": young},
        {"above_scale_since": 2026},
        {"figures": {}, "current_tier": Tier.KEY},
        {"figures": figures(("2026Q3",))},
        {"figures": figures(area=None)},
        {"current_tier": Tier.KEY, "previous_score_tier": Tier.KEY},
    ]
    firms = ladder(30)
    firms += [firm(100 + i, **{"figures": scaled(i % 3 + 1), **facts}) for i, facts in enumerate(special)]
    return firms


@pytest.mark.parametrize(
    "rules",
    [
        RuleSet(),
        RuleSet(hysteresis=True),
        RuleSet(rules=dict.fromkeys(RULES, False)),
        RuleSet(rules=switches(insufficient_data=False)),
    ],
    ids=["default", "hysteresis", "all-rules-off", "insufficient-data-off"],
)
def test_every_decision_has_a_reason_in_chinese(rules):
    decisions = decide(_mixed_population(), rules)
    assert len(decisions) == 30 + 16
    for decision in decisions.values():
        assert decision.reasons, decision.firm_id
        for reason in decision.reasons:
            assert reason["code"]
            assert CJK.search(reason["text"]), reason


def test_the_deciding_rule_is_the_first_reason():
    decisions = decide(_mixed_population())
    first = {k: d.reasons[0]["code"] for k, d in decisions.items() if k >= 100}
    expected = {100: "override", 101: "score", 102: "forced_exit", 103: "forced_exit", 104: "forced_exit"}
    expected |= {105: "forced_key", 106: "forced_key", 107: "forced_key", 112: "insufficient_data"}
    assert {k: first[k] for k in expected} == expected
    assert all(decisions[k].reasons[0]["code"] == "score" for k in range(1, 31))
