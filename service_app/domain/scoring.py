"""How a firm is scored and tiered (domain.md "How a firm is scored"): plain Python.

The engine takes each firm's facts (flags, status, current tier, override, metrics by quarter)
and a rule set, and returns a decision per firm: indicators, score, pool, percentile, tier and
the reasons. It imports nothing from Flask or the database; services feed it and store results.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, NamedTuple

from .quarters import Quarter
from .tiers import FirmStatus, Tier

#: Indicators, in the order reasons list them.
INDICATORS = ("tax_per_area", "revenue_ttm", "revenue_growth", "tax_growth", "rd_intensity", "productivity")
INDICATOR_NAMES = {
    "tax_per_area": "亩均/平方米税收",
    "revenue_ttm": "近四季度营业收入",
    "revenue_growth": "营收增长",
    "tax_growth": "税收增长",
    "rd_intensity": "研发投入强度",
    "productivity": "劳动生产率",
}
#: The six rules that stand above the score, in their order.
RULES = ("override", "forced_exit", "forced_key", "veto", "protection", "insufficient_data")
TIER_ORDER = (Tier.KEY, Tier.CULTIVATE, Tier.OBSERVE, Tier.EXIT)
TIER_NAMES = {Tier.KEY: "重点服务", Tier.CULTIVATE: "辅导培育", Tier.OBSERVE: "观察发展", Tier.EXIT: "跟踪清退"}


class RuleSetError(ValueError):
    """A rule set that cannot be used; the message says which setting is wrong."""


@dataclass(frozen=True)
class RuleSet:
    """Weights, cap, bands, threshold and switches; every saved change is a new version."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "tax_per_area": 30,
            "revenue_ttm": 20,
            "revenue_growth": 20,
            "tax_growth": 10,
            "rd_intensity": 10,
            "productivity": 10,
        }
    )
    cap: float = 3.0
    #: Percent of each pool per tier, best first: key, cultivate, observe, exit.
    bands: dict[str, float] = field(default_factory=lambda: {"key": 15, "cultivate": 35, "observe": 40, "exit": 10})
    #: Revenue over the trailing four quarters (万元) at which a firm is key whatever its score.
    key_revenue_threshold: float = 50_000
    #: Which of the six rules are on.
    rules: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(RULES, True))
    #: A pool smaller than this is ranked together with the other pool.
    min_pool_size: int = 10
    #: Drop a tier only after two quarters running below its band.
    hysteresis: bool = False

    def check(self) -> RuleSet:
        """Raise RuleSetError unless the settings make sense; returns self."""
        if set(self.weights) != set(INDICATORS):
            raise RuleSetError("weights must name exactly the six indicators")
        if not all(math.isfinite(v) for v in (*self.weights.values(), *self.bands.values())):
            raise RuleSetError("weights and bands must be finite numbers")
        if any(w < 0 for w in self.weights.values()):
            raise RuleSetError("weights cannot be negative")
        if not any(w > 0 for w in self.weights.values()):
            raise RuleSetError("at least one weight must be above zero")
        if not 1 <= self.cap <= 10:
            raise RuleSetError("the cap must be between 1 and 10")
        if set(self.bands) != {t.value for t in Tier} or any(b < 0 for b in self.bands.values()):
            raise RuleSetError("bands must give a non-negative percent for each tier")
        if abs(sum(self.bands.values()) - 100) > 1e-6:
            raise RuleSetError("bands must add up to 100%")
        if self.key_revenue_threshold <= 0:
            raise RuleSetError("the key revenue threshold must be above zero")
        if set(self.rules) != set(RULES):
            raise RuleSetError("rules must name exactly the six rules")
        if not 1 <= self.min_pool_size <= 1000:
            raise RuleSetError("the minimum pool size must be between 1 and 1000")
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {
            "weights": dict(self.weights),
            "cap": self.cap,
            "bands": dict(self.bands),
            "key_revenue_threshold": self.key_revenue_threshold,
            "rules": dict(self.rules),
            "min_pool_size": self.min_pool_size,
            "hysteresis": self.hysteresis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleSet:
        """Settings from JSON; missing keys take the defaults."""
        default = cls()
        return cls(
            weights={k: float(v) for k, v in data.get("weights", default.weights).items()},
            cap=float(data.get("cap", default.cap)),
            bands={k: float(v) for k, v in data.get("bands", default.bands).items()},
            key_revenue_threshold=float(data.get("key_revenue_threshold", default.key_revenue_threshold)),
            rules={k: bool(v) for k, v in data.get("rules", default.rules).items()},
            min_pool_size=int(data.get("min_pool_size", default.min_pool_size)),
            hysteresis=bool(data.get("hysteresis", default.hysteresis)),
        )


class QuarterFigures(NamedTuple):
    """One quarter of a firm's metrics (万元, people, m², 亩); None where not reported.

    A named tuple: a proposal builds a quarter of a million of them.
    """

    revenue: float | None = None
    tax: float | None = None
    employees: int | None = None
    rd_spend: float | None = None
    floor_area_m2: float | None = None
    land_mu: float | None = None


@dataclass(frozen=True)
class Override:
    """A supervisor's tier for a firm, with its reason, in force up to an expiry quarter."""

    tier: Tier
    reason: str
    expiry: str | None = None  # quarter key; None: until lifted

    def in_force(self, quarter: Quarter) -> bool:
        return self.expiry is None or Quarter.parse(self.expiry) >= quarter


@dataclass(slots=True)
class FirmFacts:
    """What the engine needs to know about one firm.

    Not frozen, though nothing changes one once made: a frozen dataclass sets each field through
    object.__setattr__, which makes building a proposal's 30,000 of them three times as slow.
    """

    firm_id: int
    status: FirmStatus = FirmStatus.ACTIVE
    above_scale: bool = False
    is_listed: bool = False
    is_chain_leader: bool = False
    is_abnormal: bool = False
    has_serious_violation: bool = False
    established: dt.date | None = None
    above_scale_since: int | None = None  # the year it became 规上, when known
    current_tier: Tier | None = None
    override: Override | None = None
    #: The score-based tier of the previous assessment, for hysteresis.
    previous_score_tier: Tier | None = None
    figures: dict[str, QuarterFigures] = field(default_factory=dict)  # quarter key → figures
    #: The window's totals when already summed (by the database); else computed from `figures`.
    totals: WindowTotals | None = None


@dataclass
class Decision:
    """The engine's answer for one firm."""

    firm_id: int
    tier: Tier
    score: float | None
    pool: str  # "above" (规上), "below" (规下) or "merged"
    percentile: float | None  # share of the pool scoring strictly higher, 0–1
    score_tier: Tier | None  # what the score alone gives
    insufficient_data: bool
    reasons: list[dict[str, Any]]
    indicators: dict[str, float | None]


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


class WindowTotals(NamedTuple):
    """A firm's metrics over the trailing four quarters (and the four before), summed.

    What the indicators are computed from. The services have the database compute these in one
    aggregate query; `window_totals` derives them from quarterly figures. Either way a sum adds
    the quarters oldest first and skips those not reported, so both give the same numbers.
    """

    revenue: float | None  # None when no window quarter reports it
    tax: float | None
    rd_spend: float | None
    #: Revenue over the four quarters before the window; None unless all eight quarters report it.
    previous_revenue: float | None
    #: Likewise for tax.
    previous_tax: float | None
    #: Employees, floor area and land of the latest window quarter the firm reported at all.
    employees: int | None
    floor_area_m2: float | None
    land_mu: float | None
    #: Window quarters that report revenue.
    quarters_reported: int
    #: Zero revenue in the last two window quarters.
    zero_revenue_streak: bool


class Indicators(NamedTuple):
    """A firm's indicator values over the trailing four quarters; None where not computable.

    A named tuple: a proposal makes one per firm.
    """

    values: dict[str, float | None]
    area_kind: str | None  # "m2" or "mu": which benchmark tax per area is compared with
    quarters_reported: int
    zero_revenue_streak: bool  # zero revenue in the last two quarters


def window_keys(base: Quarter) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys of the four quarters ending at `base`, and of the four before them."""
    return tuple(q.key for q in base.trailing(4)), tuple(q.key for q in (base - 4).trailing(4))


def window_totals(figures: dict[str, QuarterFigures], keys: tuple[tuple[str, ...], tuple[str, ...]]) -> WindowTotals:
    """The window's totals from quarterly figures (`keys` from window_keys)."""
    recent_keys, earlier_keys = keys
    window = [figures.get(key) for key in recent_keys]
    earlier = [figures.get(key) for key in earlier_keys]
    latest = next((f for f in reversed(window) if f is not None), None) or QuarterFigures()
    previous_revenue = previous_tax = None
    if all(f is not None and f.revenue is not None for f in window + earlier):
        previous_revenue = _sum(f.revenue for f in earlier if f)
    if all(f is not None and f.tax is not None for f in window + earlier):
        previous_tax = _sum(f.tax for f in earlier if f)
    return WindowTotals(
        revenue=_sum(f.revenue for f in window if f),
        tax=_sum(f.tax for f in window if f),
        rd_spend=_sum(f.rd_spend for f in window if f),
        previous_revenue=previous_revenue,
        previous_tax=previous_tax,
        employees=latest.employees,
        floor_area_m2=latest.floor_area_m2,
        land_mu=latest.land_mu,
        quarters_reported=sum(1 for f in window if f is not None and f.revenue is not None),
        zero_revenue_streak=all(f is not None and f.revenue == 0 for f in window[-2:]),
    )


def indicators_from_totals(totals: WindowTotals) -> Indicators:
    """The six indicators from a firm's window totals."""
    revenue, tax = totals.revenue, totals.tax
    values: dict[str, float | None] = dict.fromkeys(INDICATORS)
    values["revenue_ttm"] = revenue
    area_kind = None
    if tax is not None:
        if totals.floor_area_m2:
            values["tax_per_area"], area_kind = tax / totals.floor_area_m2, "m2"
        elif totals.land_mu:
            values["tax_per_area"], area_kind = tax / totals.land_mu, "mu"
    if totals.previous_revenue and revenue is not None:
        values["revenue_growth"] = revenue / totals.previous_revenue
    if totals.previous_tax and tax is not None:
        values["tax_growth"] = tax / totals.previous_tax
    if revenue and totals.rd_spend is not None:
        values["rd_intensity"] = totals.rd_spend / revenue
    if revenue is not None and totals.employees:
        values["productivity"] = revenue / totals.employees
    return Indicators(values, area_kind, totals.quarters_reported, totals.zero_revenue_streak)


def compute_indicators(
    figures: dict[str, QuarterFigures], base: Quarter, keys: tuple[tuple[str, ...], tuple[str, ...]] | None = None
) -> Indicators:
    """Indicators from the four quarters ending at `base` (and the four before, for growth)."""
    return indicators_from_totals(window_totals(figures, keys or window_keys(base)))


def _benchmark_key(indicator: str, area_kind: str | None) -> str:
    return f"tax_per_area:{area_kind}" if indicator == "tax_per_area" else indicator


def _benchmarks(pool: Sequence[Indicators]) -> dict[str, float]:
    """The median of each indicator over the firms of a pool that have it (tax per area per kind)."""
    samples: dict[str, list[float]] = {}
    for name in INDICATORS:
        if name == "tax_per_area":  # present exactly when the firm reports an area of some kind
            for item in pool:
                value = item.values[name]
                if value is not None:
                    samples.setdefault(_benchmark_key(name, item.area_kind), []).append(value)
        else:
            values = [value for item in pool if (value := item.values[name]) is not None]
            if values:
                samples[name] = values
    return {key: median(values) for key, values in samples.items()}


_INDICATOR_CODES = {name: f"indicator:{name}" for name in INDICATORS}
_INDICATOR_LABELS = {name: f"{label}：为基准的 " for name, label in INDICATOR_NAMES.items()}


class _PoolScorer:
    """Scores the firms of one pool: Σ weight × min(value ÷ benchmark, cap), with missing
    indicators' weight spread over the rest. What firms share (the benchmarks by area kind,
    the shares of each set of indicators present, the fixed parts of each reason) is worked out
    once per pool, not per firm: a proposal scores 30,000 firms."""

    def __init__(self, benchmarks: dict[str, float], rules: RuleSet) -> None:
        self.cap = rules.cap
        weighted = [(name, rules.weights[name]) for name in INDICATORS if rules.weights[name] > 0]
        #: Per area kind, the indicators that can count: (name, weight, benchmark) where a benchmark exists.
        self.by_kind: dict[str | None, list[tuple[str, float, float]]] = {}
        for kind in (None, "m2", "mu"):
            self.by_kind[kind] = [
                (name, weight, benchmark)
                for name, weight in weighted
                if (benchmark := benchmarks.get(_benchmark_key(name, kind))) is not None
            ]
        self.weighted = [name for name, _ in weighted]
        #: The indicators present → per indicator (share, code, text head, text middle, rounded
        #: share) in the same order, and the reweighting note.
        self.shares: dict[tuple[str, ...], tuple[list[tuple[float, str, str, str, float]], str | None]] = {}

    def _shares_of(self, names: tuple[str, ...], weights: list[float]) -> tuple[list[Any], str | None]:
        total_weight = sum(weights)
        parts = []
        for name, weight in zip(names, weights, strict=True):
            share = weight / total_weight * 100
            middle = f" 倍，权重 {share:.0f}%，贡献 "
            parts.append((share, _INDICATOR_CODES[name], _INDICATOR_LABELS[name], middle, round(share, 2)))
        missing = [n for n in self.weighted if n not in names]
        note = None
        if missing:
            note = f"缺少{'、'.join(INDICATOR_NAMES[n] for n in missing)}，其权重按比例分配给其余指标"
        known = self.shares[names] = (parts, note)
        return known

    def score(self, item: Indicators) -> tuple[float, list[dict[str, Any]]]:
        """The firm's score and a reason per indicator (plus the reweighting note)."""
        cap, values = self.cap, item.values
        present = []  # (name, weight, value, ratio capped to 0..cap)
        for name, weight, benchmark in self.by_kind[item.area_kind]:
            value = values[name]
            if value is None:
                continue
            ratio = (cap if value > 0 else 0.0) if benchmark <= 0 else value / benchmark
            # max(0.0, min(ratio, cap)), NaN included, without two calls per indicator
            ratio = cap if ratio > cap else (ratio if ratio > 0.0 else 0.0)
            present.append((name, weight, value, ratio))
        reasons: list[dict[str, Any]] = []
        if not present:
            return 0.0, reasons
        names = tuple(p[0] for p in present)
        known = self.shares.get(names)
        parts, note = known if known is not None else self._shares_of(names, [p[1] for p in present])
        score = 0.0
        for (name, _, value, ratio), (share, code, head, middle, rounded) in zip(present, parts, strict=True):
            contribution = share * ratio
            score += contribution
            reasons.append(
                {
                    "code": code,
                    "text": f"{head}{ratio:.2f}{middle}{contribution:.1f} 分",
                    "indicator": name,
                    "value": value,
                    "ratio": round(ratio, 4),
                    "weight": rounded,
                    "contribution": round(contribution, 2),
                }
            )
        if note:
            reasons.append({"code": "reweighted", "text": note})
        return score, reasons


def _band_edges(bands: dict[str, float]) -> list[tuple[float, Tier]]:
    """Each tier with the percentile its band ends below (a hair under, for rounding)."""
    edges = []
    edge = 0.0
    for tier in TIER_ORDER:
        edge += bands[tier.value] / 100
        edges.append((edge - 1e-12, tier))
    return edges


def _band_tier(percentile: float, edges: list[tuple[float, Tier]]) -> Tier:
    for edge, tier in edges:
        if percentile < edge:
            return tier
    return Tier.EXIT


def _rank(scores: list[float], bands: dict[str, float]) -> list[tuple[float, Tier]]:
    """Percentile (share strictly above) and band tier per score; ties share the better tier."""
    ordered = sorted(scores, reverse=True)
    total = len(ordered)
    edges = _band_edges(bands)
    at: dict[float, tuple[float, Tier]] = {}  # a score's place: where it first appears, best first
    for index, value in enumerate(ordered):
        if value not in at:
            percentile = index / total
            at[value] = (percentile, _band_tier(percentile, edges))
    return [at[value] for value in scores]


def _worse(tier: Tier, than: Tier) -> bool:
    return TIER_ORDER.index(tier) > TIER_ORDER.index(than)


def decide_tiers(
    firms: Sequence[FirmFacts], rules: RuleSet, quarter: Quarter, today: dt.date | None = None
) -> list[Decision]:
    """Tier every firm for `quarter`, from the metrics of the four quarters before it."""
    base = quarter - 1
    today = today or quarter.first_day
    keys = window_keys(base)
    indicators = [indicators_from_totals(f.totals or window_totals(f.figures, keys)) for f in firms]
    pools: dict[str, list[int]] = {"above": [], "below": []}  # positions in `firms`
    for position, (facts, item) in enumerate(zip(firms, indicators, strict=True)):
        if item.quarters_reported >= 2:
            pools["above" if facts.above_scale else "below"].append(position)
    if any(0 < len(members) < rules.min_pool_size for members in pools.values()):
        pools = {"merged": pools["above"] + pools["below"]}
    ranked: list[tuple[str, float, float, Tier, list[dict[str, Any]]] | None] = [None] * len(firms)
    for pool_name, members in pools.items():
        if not members:
            continue
        items = [indicators[position] for position in members]
        scorer = _PoolScorer(_benchmarks(items), rules)
        scored = [scorer.score(item) for item in items]
        places = _rank([score for score, _ in scored], rules.bands)
        for position, (score, reasons), (percentile, tier) in zip(members, scored, places, strict=True):
            ranked[position] = (pool_name, score, percentile, tier, reasons)
    return [
        _decide(facts, item, rank, rules, quarter, today)
        for facts, item, rank in zip(firms, indicators, ranked, strict=True)
    ]


_POOL_NAMES = {"above": "规上", "below": "规下", "merged": "规上规下合并"}
_TIER_VALUES = {tier: tier.value for tier in Tier}  # an enum's .value is a descriptor call


def _decide(
    facts: FirmFacts,
    item: Indicators,
    ranked: tuple[str, float, float, Tier, list[dict[str, Any]]] | None,
    rules: RuleSet,
    quarter: Quarter,
    today: dt.date,
) -> Decision:
    on = rules.rules
    reasons: list[dict[str, Any]] = []
    pool, score, percentile, score_tier, score_reasons = ranked or ("none", None, None, None, [])
    if ranked is not None:
        pool, score, percentile, score_tier, score_reasons = ranked  # narrowed: all present
        reasons.append(
            {
                "code": "score",
                "text": f"综合得分 {score:.1f}；{_POOL_NAMES[pool]}企业中得分高于它的占 {percentile * 100:.0f}%，"
                f"按分档为{TIER_NAMES[score_tier]}",
                "score": round(score, 4),
                "percentile": round(percentile, 4),
                "pool": pool,
                "score_tier": _TIER_VALUES[score_tier],
            }
        )
        reasons.extend(score_reasons)

    def decision(tier: Tier) -> Decision:
        return Decision(facts.firm_id, tier, score, pool, percentile, score_tier, ranked is None, reasons, item.values)

    # 1. A supervisor's override in force decides.
    if on["override"] and facts.override and facts.override.in_force(quarter):
        expiry = f"，有效至{facts.override.expiry}" if facts.override.expiry else ""
        reasons.insert(
            0,
            {
                "code": "override",
                "text": f"人工调整为{TIER_NAMES[facts.override.tier]}：{facts.override.reason}{expiry}",
            },
        )
        return decision(facts.override.tier)
    # 2. Forced exit: leaving or closed, or no revenue two quarters running.
    if on["forced_exit"]:
        if facts.status in (FirmStatus.DEREGISTERED, FirmStatus.RELOCATING):
            word = "已注销" if facts.status == FirmStatus.DEREGISTERED else "迁出中"
            reasons.insert(0, {"code": "forced_exit", "text": f"企业{word}，列入跟踪清退"})
            return decision(Tier.EXIT)
        if item.zero_revenue_streak:
            reasons.insert(0, {"code": "forced_exit", "text": "连续两个季度营业收入为零，列入跟踪清退"})
            return decision(Tier.EXIT)
    # 3. Forced key: listed, chain leader, or revenue at the threshold.
    forced_key = False
    if on["forced_key"]:
        why = []
        if facts.is_listed:
            why.append("上市企业")
        if facts.is_chain_leader:
            why.append("链主企业")
        revenue = item.values["revenue_ttm"]
        if revenue is not None and revenue >= rules.key_revenue_threshold:
            why.append(f"近四季度营收 {revenue:,.0f} 万元，达到重点服务门槛 {rules.key_revenue_threshold:,.0f} 万元")
        if why:
            reasons.insert(0, {"code": "forced_key", "text": "；".join(why) + "，列为重点服务"})
            forced_key = True
    # 6. Insufficient data: keep the current tier (observe if none), flagged.
    if forced_key:
        tier = Tier.KEY  # the veto below still applies: a violation outweighs a listing
    elif score_tier is None:
        tier = facts.current_tier or Tier.OBSERVE
        if on["insufficient_data"]:
            reasons.insert(
                0, {"code": "insufficient_data", "text": f"指标数据不足（少于两个季度），保持{TIER_NAMES[tier]}"}
            )
        else:
            tier = Tier.OBSERVE
            reasons.append({"code": "unscored", "text": "指标数据不足（少于两个季度），无法评分，列为观察发展"})
    else:
        tier = score_tier
        current = facts.current_tier
        dropping = rules.hysteresis and current is not None and _worse(tier, current)
        if dropping and current and not (facts.previous_score_tier and _worse(facts.previous_score_tier, current)):
            reasons.append({"code": "hysteresis", "text": f"首个季度低于原档次，暂保持{TIER_NAMES[current]}"})
            tier = current
    # 4. Veto: abnormal operation or a serious violation → not key or cultivate.
    if on["veto"] and (facts.is_abnormal or facts.has_serious_violation) and tier in (Tier.KEY, Tier.CULTIVATE):
        word = "列入经营异常名录" if facts.is_abnormal else "存在严重违法违规"
        reasons.insert(0, {"code": "veto", "text": f"{word}，不列入重点服务或辅导培育"})
        tier = Tier.OBSERVE
    # 5. Protection: young firms and firms newly above size are not put on exit.
    if on["protection"] and tier == Tier.EXIT:
        young = facts.established is not None and (today - facts.established).days < 730
        promoted = facts.above_scale_since is not None and facts.above_scale_since == quarter.year
        if young or promoted:
            word = "成立不满两年" if young else "本年度新升规上"
            reasons.insert(0, {"code": "protection", "text": f"{word}，不列入跟踪清退"})
            tier = Tier.OBSERVE
    return decision(tier)
