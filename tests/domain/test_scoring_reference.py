"""The engine against a reference: domain.md's scoring restated the slow, obvious way.

decide_tiers is written for 30,000 firms (shared work per pool, few objects per firm). Here the
same rules are spelled out one firm at a time from the quarterly figures, on generated firms
with gaps, zeros, whole numbers, both kinds of area and every flag, under several rule sets;
scores, percentiles, pools, score tiers and the score's reasons must be identical to the bit.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_right
from statistics import median
from typing import Any

import pytest

from service_app.domain.quarters import Quarter
from service_app.domain.scoring import (
    INDICATOR_NAMES,
    INDICATORS,
    RULES,
    TIER_NAMES,
    TIER_ORDER,
    FirmFacts,
    Override,
    QuarterFigures,
    RuleSet,
    compute_indicators,
    decide_tiers,
)
from service_app.domain.tiers import FirmStatus, Tier

TARGET = Quarter(2026, 4)
QUARTERS = [q.key for q in (TARGET - 1).trailing(8)]
POOL_NAMES = {"above": "规上", "below": "规下", "merged": "规上规下合并"}


def generated_firms(seed: int, count: int) -> list[FirmFacts]:
    """Firms with random figures: missing quarters and cells, zeros, integers, m² or 亩 or neither."""
    rng = random.Random(seed)

    def maybe(value: Any, none: float = 0.1) -> Any:
        return None if rng.random() < none else value

    firms = []
    for firm_id in range(1, count + 1):
        size = rng.choice([1, 10, 100, 1000, 20_000])
        area = rng.choice([(800.0, None), (None, 12), (None, 0.5), (None, None), (0, None), (1234.56, 3)])
        figures = {}
        for key in QUARTERS:
            if rng.random() < 0.08:
                continue
            revenue = rng.choice([round(rng.uniform(0, 2) * size, 2), rng.randint(0, 3) * size, 0.0])
            figures[key] = QuarterFigures(
                revenue=maybe(revenue),
                tax=maybe(round(rng.uniform(0, 0.1) * size, 2)),
                employees=maybe(rng.choice([0, rng.randint(1, 800)])),
                rd_spend=maybe(round(rng.uniform(0, 0.05) * size, 2), 0.3),
                floor_area_m2=area[0],
                land_mu=area[1],
            )
        firms.append(
            FirmFacts(
                firm_id=firm_id,
                status=FirmStatus.ACTIVE if rng.random() < 0.95 else rng.choice(list(FirmStatus)),
                above_scale=rng.random() < 0.3,
                is_listed=rng.random() < 0.02,
                is_chain_leader=rng.random() < 0.02,
                is_abnormal=rng.random() < 0.03,
                has_serious_violation=rng.random() < 0.02,
                established=rng.choice([None, dt.date(2025, 6, 1), dt.date(2012, 3, 5)]),
                above_scale_since=rng.choice([None, 2026, 2019]),
                current_tier=rng.choice([None, *Tier]),
                override=Override(rng.choice(list(Tier)), "挂联企业", rng.choice([None, "2026Q1", "2027Q2"]))
                if rng.random() < 0.03
                else None,
                previous_score_tier=rng.choice([None, *Tier]),
                figures=figures,
            )
        )
    return firms


def reference(firms: list[FirmFacts], rules: RuleSet) -> dict[int, tuple[str, float, float, Tier, list[dict]]]:
    """Per scored firm: pool, score, percentile, score tier and the score's reasons."""
    items = {f.firm_id: compute_indicators(f.figures, TARGET - 1) for f in firms}
    pools: dict[str, list[FirmFacts]] = {"above": [], "below": []}
    for f in firms:
        if items[f.firm_id].quarters_reported >= 2:
            pools["above" if f.above_scale else "below"].append(f)
    if any(0 < len(members) < rules.min_pool_size for members in pools.values()):
        pools = {"merged": pools["above"] + pools["below"]}
    result = {}
    for pool, members in pools.items():
        if not members:
            continue

        def median_of(name: str, kind: str | None, members: list[FirmFacts] = members) -> float | None:
            """The pool's median of an indicator; tax per area only among firms of the same area kind."""
            values = [
                items[m.firm_id].values[name]
                for m in members
                if items[m.firm_id].values[name] is not None
                and (name != "tax_per_area" or items[m.firm_id].area_kind == kind)
            ]
            return median(values) if values else None

        benchmarks = {(name, kind): median_of(name, kind) for name in INDICATORS for kind in (None, "m2", "mu")}
        scored = {}
        for f in members:
            item = items[f.firm_id]
            counted = []
            for name in INDICATORS:
                weight, value = rules.weights[name], item.values[name]
                base = benchmarks[name, item.area_kind]
                if weight <= 0 or value is None or base is None:
                    continue
                ratio = rules.cap if base <= 0 and value > 0 else (0.0 if base <= 0 else value / base)
                counted.append((name, weight, value, max(0.0, min(ratio, rules.cap))))
            total = sum(weight for _, weight, _, _ in counted)
            score, reasons = 0.0, []
            for name, weight, value, ratio in counted:
                share = weight / total * 100
                contribution = share * ratio
                score += contribution
                reasons.append(
                    {
                        "code": f"indicator:{name}",
                        "text": f"{INDICATOR_NAMES[name]}：为基准的 {ratio:.2f} 倍，权重 {share:.0f}%，"
                        f"贡献 {contribution:.1f} 分",
                        "indicator": name,
                        "value": value,
                        "ratio": round(ratio, 4),
                        "weight": round(share, 2),
                        "contribution": round(contribution, 2),
                    }
                )
            missing = [n for n in INDICATORS if rules.weights[n] > 0 and n not in {c[0] for c in counted}]
            if counted and missing:
                names = "、".join(INDICATOR_NAMES[n] for n in missing)
                reasons.append({"code": "reweighted", "text": f"缺少{names}，其权重按比例分配给其余指标"})
            scored[f.firm_id] = (score, reasons)
        ascending = sorted(score for score, _ in scored.values())
        for firm_id, (score, reasons) in scored.items():
            percentile = (len(ascending) - bisect_right(ascending, score)) / len(ascending)  # share strictly above
            tier, edge = Tier.EXIT, 0.0
            for candidate in TIER_ORDER:
                edge += rules.bands[candidate.value] / 100
                if percentile < edge - 1e-12:
                    tier = candidate
                    break
            head = {
                "code": "score",
                "text": f"综合得分 {score:.1f}；{POOL_NAMES[pool]}企业中得分高于它的占 {percentile * 100:.0f}%，"
                f"按分档为{TIER_NAMES[tier]}",
                "score": round(score, 4),
                "percentile": round(percentile, 4),
                "pool": pool,
                "score_tier": tier.value,
            }
            result[firm_id] = (pool, score, percentile, tier, [head, *reasons])
    return result


RULE_SETS = {
    "default": RuleSet(),
    "cap 2, hysteresis, low threshold": RuleSet(cap=2.0, hysteresis=True, key_revenue_threshold=3_000),
    "zero weights": RuleSet(
        weights={
            "tax_per_area": 0,
            "revenue_ttm": 50,
            "revenue_growth": 0,
            "tax_growth": 10,
            "rd_intensity": 10,
            "productivity": 30,
        }
    ),
    "bands 25/25/45/5, rules off": RuleSet(
        bands={"key": 25, "cultivate": 25, "observe": 45, "exit": 5}, rules=dict.fromkeys(RULES, False)
    ),
    "pools merged": RuleSet(min_pool_size=500),
}


@pytest.mark.parametrize("name", list(RULE_SETS))
@pytest.mark.parametrize(("seed", "count"), [(1, 12), (2, 300), (3, 1000)])
def test_the_engine_scores_exactly_as_the_reference(name, seed, count):
    rules = RULE_SETS[name].check()
    firms = generated_firms(seed, count)
    expected = reference(firms, rules)
    decisions = decide_tiers(firms, rules, TARGET)
    assert [d.firm_id for d in decisions] == [f.firm_id for f in firms]  # in the order given
    for decision in decisions:
        if decision.firm_id not in expected:
            assert (decision.score, decision.percentile, decision.pool) == (None, None, "none")
            continue
        pool, score, percentile, tier, reasons = expected[decision.firm_id]
        assert (decision.pool, decision.score, decision.percentile, decision.score_tier) == (
            pool,
            score,
            percentile,
            tier,
        ), decision.firm_id
        # The rules put their reasons before or after; the score's own come in one run, in order.
        start = next(i for i, r in enumerate(decision.reasons) if r["code"] == "score")
        assert decision.reasons[start : start + len(reasons)] == reasons, decision.firm_id
        assert repr(decision.reasons[start : start + len(reasons)]) == repr(reasons)  # ints stay ints


def test_the_generated_firms_reach_every_branch():
    """The comparison above means something only if the generated set is varied enough."""
    firms = generated_firms(3, 1000)
    decisions = decide_tiers(firms, RuleSet(), TARGET)
    codes = {r["code"] for d in decisions for r in d.reasons}
    assert {"score", "reweighted", "override", "forced_exit", "forced_key", "veto", "protection"} <= codes
    assert {f"indicator:{name}" for name in INDICATORS} <= codes
    assert {"insufficient_data"} <= codes
    ratios = [r["ratio"] for d in decisions for r in d.reasons if "ratio" in r]
    assert 0.0 in ratios and 3.0 in ratios  # nothing, and capped
    kinds = {d.pool for d in decisions}
    assert kinds == {"above", "below", "none"}
