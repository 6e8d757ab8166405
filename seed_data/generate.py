"""Generate the demo roster of Linping district: streets, buildings, firms and eight quarters of metrics.

Deterministic (one seeded random.Random, no network): running it again rewrites the same CSV files.

    .venv/bin/python seed_data/generate.py
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import sys
from pathlib import Path

from stdnum.cn import uscc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from service_app.domain.industry import validate_industry_code  # noqa: E402
from service_app.domain.quarters import Quarter  # noqa: E402

SEED = 20261126
FIRM_COUNT = 2200
REGION = "330113"  # 临平区
FIRST_QUARTER = Quarter(2024, 4)
QUARTERS = [FIRST_QUARTER + i for i in range(8)]  # 2024Q4 … 2026Q3
ASSESSED_QUARTER = QUARTERS[-1]  # the demo's initial tiers apply to 2026Q3
KEY_REVENUE_TTM = 50_000.0  # 万元: forced key above this
TIER_BANDS = (("key", 0.15), ("cultivate", 0.35), ("observe", 0.40), ("exit", 0.10))

#: The seven streets and one town, with region codes (towns take 1xx, streets 0xx).
STREETS = [
    ("临平街道", "330113001"),
    ("东湖街道", "330113002"),
    ("南苑街道", "330113003"),
    ("星桥街道", "330113004"),
    ("运河街道", "330113005"),
    ("乔司街道", "330113006"),
    ("崇贤街道", "330113007"),
    ("塘栖镇", "330113101"),
]

#: Buildings per street: (name, lean) where lean is the chain the building mostly houses, or "" for mixed.
BUILDINGS = {
    "临平街道": [
        ("临平新城科创大厦", "tech"),
        ("临平商务中心", ""),
        ("世纪大道金融大厦", "trade"),
        ("西子国际中心", ""),
        ("人民大道创业大厦", ""),
        ("临平金融中心", "trade"),
    ],
    "东湖街道": [
        ("艺尚小镇时尚中心", "fashion"),
        ("艺尚小镇设计师大楼", "fashion"),
        ("艺尚小镇国际时尚发布中心", "fashion"),
        ("东湖数字时尚产业园", "fashion"),
        ("东湖智慧谷", "tech"),
        ("临平新城总部大楼", ""),
        ("红丰路数字产业园", "tech"),
    ],
    "南苑街道": [
        ("算力小镇数据港", "tech"),
        ("算力小镇创新中心", "tech"),
        ("南苑数字经济产业园", "tech"),
        ("南苑商务大厦", ""),
        ("南苑跨境贸易中心", "trade"),
        ("迎宾路科技楼", "tech"),
    ],
    "星桥街道": [
        ("工业互联网小镇创新中心", "tech"),
        ("星桥科创园", "tech"),
        ("星桥数智大厦", ""),
        ("北沙西路产业大楼", ""),
        ("星桥创业孵化器", "tech"),
    ],
    "运河街道": [
        ("运河商务大厦", ""),
        ("运河电商产业园", "trade"),
        ("亭趾创意大楼", "fashion"),
        ("大运河数字港", "trade"),
        ("运河数字贸易大厦", "trade"),
    ],
    "乔司街道": [
        ("乔司服装电商产业园", "fashion"),
        ("乔司跨境电商产业园", "trade"),
        ("乔司商贸中心", "trade"),
        ("乔司物流科技大厦", "trade"),
        ("乔司时尚智造中心", "fashion"),
    ],
    "崇贤街道": [
        ("崇贤港科创中心", "tech"),
        ("崇贤智慧产业大厦", ""),
        ("崇贤商贸大楼", "trade"),
    ],
    "塘栖镇": [
        ("塘栖古镇文创中心", "fashion"),
        ("塘栖商务大厦", ""),
        ("塘栖电商园", "trade"),
    ],
}

#: How firms of each chain spread over the streets (weights in STREETS order).
STREET_WEIGHTS = {
    "fashion": [14, 30, 8, 6, 10, 22, 5, 5],
    "trade": [22, 14, 14, 8, 12, 18, 7, 5],
    "tech": [18, 16, 26, 20, 6, 4, 7, 3],
    "other": [18, 12, 12, 12, 12, 12, 10, 12],
}

#: Industry codes (GB/T 4754-2017) per chain: (code, weight, words for the firm name).
INDUSTRIES = {
    "fashion": [
        ("C1810", 14, ["服饰", "服装", "制衣"]),
        ("C1820", 8, ["针织", "服饰"]),
        ("C1830", 6, ["服饰", "饰品"]),
        ("C1752", 4, ["纺织", "织造"]),
        ("C1713", 3, ["印染", "纺织"]),
        ("C1761", 4, ["针纺", "织造"]),
        ("C1781", 2, ["无纺布", "纺织科技"]),
        ("F5132", 14, ["服饰贸易", "服装", "时装"]),
        ("F5131", 6, ["纺织品", "面料"]),
        ("F5133", 4, ["鞋业", "服饰"]),
        ("F5232", 8, ["服饰", "时尚"]),
        ("F5292", 16, ["电子商务", "服饰", "时尚科技"]),
        ("F5193", 6, ["电子商务", "供应链"]),
    ],
    "trade": [
        ("F5193", 16, ["电子商务", "网络科技", "贸易"]),
        ("F5292", 14, ["电子商务", "网络科技", "商贸"]),
        ("F5181", 10, ["进出口", "国际贸易", "贸易"]),
        ("F5189", 4, ["商务", "贸易"]),
        ("F5176", 5, ["电子", "信息科技"]),
        ("F5179", 4, ["机电", "设备"]),
        ("F5139", 4, ["日用品", "商贸"]),
        ("G5821", 7, ["国际货运代理", "物流"]),
        ("G5920", 5, ["仓储", "物流"]),
        ("G6020", 3, ["速递", "快递"]),
        ("L7224", 10, ["供应链管理", "供应链"]),
        ("L7251", 6, ["文化传媒", "广告"]),
        ("L7281", 3, ["会展服务", "展览"]),
        ("L7211", 4, ["企业管理", "实业"]),
    ],
    "tech": [
        ("I6513", 18, ["软件", "信息技术", "网络科技"]),
        ("I6511", 3, ["软件", "信息技术"]),
        ("I6520", 4, ["微电子", "芯片科技"]),
        ("I6531", 8, ["信息系统", "智能科技"]),
        ("I6532", 6, ["物联网科技", "智能科技"]),
        ("I6550", 6, ["数据科技", "云计算"]),
        ("I6560", 5, ["信息技术", "数字科技"]),
        ("I6572", 4, ["动漫", "数字科技"]),
        ("I6450", 5, ["大数据", "数据科技"]),
        ("I6432", 4, ["网络科技", "互联网科技"]),
        ("I6319", 3, ["通信技术", "通讯科技"]),
        ("M7320", 7, ["科技", "技术研究"]),
        ("C3914", 4, ["自动化", "智能装备"]),
        ("C3976", 3, ["光电", "光电科技"]),
        ("C3983", 3, ["传感技术", "传感科技"]),
        ("C3982", 3, ["电子", "电路科技"]),
    ],
    "other": [
        ("K7020", 4, ["物业管理", "物业服务"]),
        ("H6210", 3, ["餐饮管理", "餐饮"]),
        ("E4710", 2, ["建设", "建筑工程"]),
        ("C3311", 2, ["钢结构", "金属结构"]),
        ("C2231", 2, ["包装", "包装材料"]),
    ],
}

BRAND_CHARS = list(
    "云锦星达华创瑞恒博智汇诚鼎新融嘉裕晟辰泽宇航雅尚衣织美禾盛弘卓睿安和丰源启明润景"
    "腾越翔海峰銮琪煜昊钧澜映川谷岚杉沐朗拓远迪欣悦莱卡芯数算链"
)
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方邹孟熊秦邱江薛段雷侯龙陶顾毛郝邵钱严戴俞孔汤"
)
GIVEN_CHARS = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰飞红萍鹏宇浩凯晨昊婷雪琳杭建国海燕佳颖晓峰")
MOBILE_PREFIXES = [
    "133", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
    "177", "180", "181", "182", "186", "187", "188", "189", "191", "199",
]  # fmt: skip
CAPITALS_SMALL = [3, 10, 30, 50, 50, 100, 100, 100, 200, 300, 500, 500, 1000]
CAPITALS_LARGE = [500, 1000, 1000, 2000, 3000, 5000, 5000, 8000, 10000, 20000]

SEASONALITY = {
    "fashion": (0.85, 0.95, 1.0, 1.25),
    "trade": (0.9, 1.0, 0.95, 1.15),
    "tech": (0.8, 1.0, 1.0, 1.2),
    "other": (0.95, 1.0, 1.0, 1.05),
}
TAX_RATES = {"fashion": (0.02, 0.05), "trade": (0.006, 0.025), "tech": (0.04, 0.10), "other": (0.02, 0.06)}
PRODUCTIVITY = {
    "fashion": (35, 150),
    "trade": (100, 600),
    "tech": (40, 160),
    "other": (30, 100),
}  # 万元 per head per year


def weighted(rng: random.Random, items: list, weights: list[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum((int(c) if c.isdigit() else ord(c) - ord("A") + 10) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, established: dt.date, used: set[str]) -> str:
    """91 + 330113 + organisation code + check; post-2016 firms get the MA-style codes registries issue."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    while True:
        if established.year >= 2016:
            body = "MA" + "".join(rng.choice(alphabet) for _ in range(6))
        else:
            body = "".join(rng.choice("0123456789") for _ in range(8))
        partial = "91" + REGION + body + org_code_check(body)
        code = partial + uscc.calc_check_digit(partial)
        if code not in used:
            assert uscc.is_valid(code), code
            used.add(code)
            return code


def firm_name(rng: random.Random, words: list[str], listed: bool, used: set[str]) -> str:
    while True:
        brand = "".join(rng.sample(BRAND_CHARS, 2))
        word = rng.choice(words)
        if listed:
            name = f"浙江{brand}{word}股份有限公司"
        else:
            roll = rng.random()
            if roll < 0.80:
                name = f"杭州{brand}{word}有限公司"
            elif roll < 0.95:
                name = f"浙江{brand}{word}有限公司"
            else:
                name = f"{brand}{word}（杭州）有限公司"
        if name not in used:
            used.add(name)
            return name


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN_CHARS) if rng.random() < 0.3 else "".join(rng.sample(GIVEN_CHARS, 2))
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random, used: set[str]) -> str:
    while True:
        number = rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))
        if number not in used:
            used.add(number)
            return number


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def money(value: float) -> str:
    return f"{max(value, 0.0):.2f}"


def build_buildings(rng: random.Random) -> list[dict]:
    rows = []
    for street, _code in STREETS:
        for name, lean in BUILDINGS[street]:
            area = 8_000 + round(144 * rng.random() ** 1.5) * 500  # 8,000–80,000 m², most of them smaller
            rows.append(
                {
                    "name": name,
                    "street": street,
                    "floor_area_m2": f"{area:.2f}",
                    "is_key": int(area >= 50_000 or rng.random() < 0.15),
                    "is_star": int(rng.random() < 0.45),
                    "lean": lean,
                }
            )
    return rows


def build_firms(rng: random.Random, buildings: list[dict]) -> list[dict]:
    street_names = [name for name, _ in STREETS]
    by_street = {name: [b for b in buildings if b["street"] == name] for name in street_names}
    used_codes: set[str] = set()
    used_names: set[str] = set()
    used_phones: set[str] = set()
    firms = []
    for index in range(FIRM_COUNT):
        chain = weighted(rng, ["fashion", "trade", "tech", "other"], [31.7, 31.7, 31.6, 5])
        code_row = weighted(rng, INDUSTRIES[chain], [w for _, w, _ in INDUSTRIES[chain]])
        industry_code, _weight, words = code_row
        validate_industry_code(industry_code)
        manufacturing = industry_code.startswith(("C", "E"))
        street = weighted(rng, street_names, STREET_WEIGHTS[chain])

        building = ""
        if rng.random() < (0.25 if manufacturing else 0.85):
            candidates = by_street[street]
            weights = [float(b["floor_area_m2"]) * (4 if b["lean"] == chain else 1) for b in candidates]
            building = weighted(rng, candidates, weights)["name"]

        # Founding years lean to recent ones; a few are new enough to have reported one or two quarters.
        roll = rng.random()
        if roll < 0.03:
            established = random_date(rng, dt.date(2025, 9, 1), dt.date(2025, 12, 31))
            cohort = "new"
        elif roll < 0.08:
            established = random_date(rng, dt.date(2024, 10, 1), dt.date(2025, 8, 31))
            cohort = "young"
        else:
            year = 2000 + min(24, int(25 * rng.random() ** 0.6))
            established = random_date(rng, dt.date(year, 1, 1), min(dt.date(year, 12, 31), dt.date(2024, 9, 30)))
            cohort = "old"

        listed = cohort == "old" and rng.random() < 0.011
        leader = cohort == "old" and rng.random() < (0.012 if chain != "other" else 0.0)
        big = listed or leader
        above = big or (cohort != "new" and rng.random() < (0.36 if manufacturing else 0.21))
        high_tech_p = {"tech": 0.36, "fashion": 0.07, "trade": 0.03, "other": 0.04}[chain]
        high_tech = cohort != "new" and (rng.random() < high_tech_p or (big and chain == "tech"))
        status_roll = rng.random()
        if big or cohort == "new":
            status = "active"
        elif status_roll < 0.021:
            status = "relocating"
        elif status_roll < 0.033:
            status = "deregistered"
        else:
            status = "active"
        abnormal = not big and (rng.random() < (0.25 if status == "deregistered" else 0.034))
        violation = not big and rng.random() < (0.018 if manufacturing else 0.009)

        if big:
            capital = rng.choice([5000, 8000, 10000, 12000, 20000, 30000, 50000])
        elif above:
            capital = rng.choice(CAPITALS_LARGE)
        else:
            capital = rng.choice(CAPITALS_SMALL)
        if rng.random() < 0.08:  # a few odd amounts (foreign-currency conversions, capital increases)
            capital = capital * rng.uniform(0.8, 1.6)
        specialised = cohort == "old" and (above or capital >= 100) and rng.random() < (0.3 if high_tech else 0.025)

        firms.append(
            {
                "credit_code": credit_code(rng, established, used_codes),
                "name": firm_name(rng, words, listed, used_names),
                "chain": chain,
                "industry_code": industry_code,
                "street": street,
                "building": building,
                "established": established.isoformat(),
                "registered_capital": money(capital),
                "above_scale": int(above),
                "is_high_tech": int(high_tech),
                "is_specialised": int(specialised),
                "is_listed": int(listed),
                "is_chain_leader": int(leader),
                "is_abnormal": int(abnormal),
                "has_serious_violation": int(violation),
                "status": status,
                "contact_name": person_name(rng),
                "contact_phone": mobile(rng, used_phones),
                "tier": "",
                # Generator-only fields, not written.
                "_index": index,
                "_cohort": cohort,
                "_manufacturing": manufacturing,
            }
        )
    return firms


def first_quarter_index(rng: random.Random, firm: dict) -> int:
    """Index into QUARTERS of the firm's first report."""
    established = dt.date.fromisoformat(firm["established"])
    if firm["_cohort"] == "new":
        return len(QUARTERS) - rng.choice([1, 2])  # only 2026Q3, or 2026Q2 and 2026Q3
    first = Quarter.of(established) + 1  # the first full quarter after founding
    return max(0, QUARTERS.index(first) if first in QUARTERS else 0)


def build_metrics(rng: random.Random, firm: dict) -> list[dict]:
    chain = firm["chain"]
    big = firm["is_listed"] or firm["is_chain_leader"]
    if big:
        base = min(60_000.0, max(5_000.0, rng.lognormvariate(math.log(14_000), 0.6)))
    elif firm["above_scale"]:
        base = min(20_000.0, max(520.0, rng.lognormvariate(math.log(1_400), 0.7)))
    else:
        base = min(450.0, max(2.0, rng.lognormvariate(math.log(55), 1.0)))
    if firm["_cohort"] != "old":
        base *= rng.uniform(0.3, 0.7)  # young firms start small

    growth = rng.gauss(0.015, 0.035)
    if firm["is_high_tech"]:
        growth += 0.012
    if firm["is_abnormal"]:
        growth -= 0.03
    if firm["status"] == "relocating":
        growth -= 0.05
    if firm["_cohort"] != "old":
        growth += 0.04

    tax_low, tax_high = TAX_RATES[chain]
    tax_rate = rng.uniform(tax_low, tax_high)
    if chain == "tech" or firm["is_high_tech"]:
        rd_ratio = rng.uniform(0.05, 0.16) if firm["is_high_tech"] else rng.uniform(0.01, 0.08)
    elif chain == "fashion":
        rd_ratio = rng.uniform(0.005, 0.04)
    else:
        rd_ratio = rng.uniform(0.0, 0.012) if rng.random() < 0.5 else 0.0
    low, high = PRODUCTIVITY[chain]
    if firm["_manufacturing"]:
        high = min(high, 120)
    productivity = rng.uniform(low, high)
    employees0 = max(1, round(base * 4 / productivity))

    in_building = bool(firm["building"])
    floor_area = None
    land_mu = None
    if in_building:
        floor_area = max(30.0, employees0 * rng.uniform(8, 25))
        floor_area = round(min(floor_area, 12_000.0), 2)
    elif (firm["_manufacturing"] and rng.random() < 0.92) or rng.random() < 0.35:
        per_head = 0.15 if firm["_manufacturing"] else 0.05
        land_mu = round(min(300.0, max(2.0, employees0 * per_head * rng.uniform(0.6, 1.8))), 2)
    expansion_at = rng.randrange(1, len(QUARTERS)) if rng.random() < 0.1 else None

    # A few firms stop trading: zero revenue in the last quarter(s).
    zero_from = None
    if firm["status"] == "deregistered":
        zero_from = len(QUARTERS) - rng.choice([2, 3, 4])
    elif not big and firm["_cohort"] == "old" and rng.random() < 0.03:
        zero_from = len(QUARTERS) - rng.choice([1, 2, 2, 3])

    start = first_quarter_index(rng, firm)
    rows = []
    trend = base
    for index in range(start, len(QUARTERS)):
        quarter = QUARTERS[index]
        if index > start:
            trend *= 1 + growth + rng.gauss(0, 0.02)
        season = SEASONALITY[chain][quarter.number - 1]
        revenue = max(0.0, trend * season * rng.gauss(1, 0.08))
        employees = max(1, round(employees0 * math.sqrt(trend / base) * rng.gauss(1, 0.03)))
        tax = revenue * tax_rate * max(0.0, rng.gauss(1, 0.15))
        if not firm["above_scale"] and rng.random() < 0.08:
            tax = 0.0  # small firms under VAT thresholds some quarters
        rd = revenue * rd_ratio * max(0.0, rng.gauss(1, 0.2))
        if zero_from is not None and index >= zero_from:
            revenue = tax = rd = 0.0
            employees = rng.choice([0, 1, 2]) if firm["status"] == "deregistered" else max(1, employees // 4)
        area = floor_area
        if area is not None and expansion_at is not None and index >= expansion_at:
            area = round(area * 1.5, 2)
        rows.append(
            {
                "credit_code": firm["credit_code"],
                "quarter": quarter.key,
                "revenue": money(revenue),
                "tax": money(tax),
                "employees": employees,
                "rd_spend": money(rd),
                "floor_area_m2": "" if area is None else f"{area:.2f}",
                "land_mu": "" if land_mu is None else f"{land_mu:.2f}",
            }
        )
    return rows


def percentile_ranks(values: dict[int, float]) -> dict[int, float]:
    """Each key's share of values at or below its own (ties share the rank), 0–1."""
    ordered = sorted(values.values())
    count = len(ordered)
    result = {}
    for key, value in values.items():
        # bisect_right / count, written out to keep ties together
        low, high = 0, count
        while low < high:
            mid = (low + high) // 2
            if ordered[mid] <= value:
                low = mid + 1
            else:
                high = mid
        result[key] = low / count
    return result


def assign_tiers(
    rng: random.Random, firms: list[dict], metrics: dict[int, list[dict]], quarter: Quarter = ASSESSED_QUARTER
) -> None:
    """The demo's tiers for `quarter` (2026Q3: the initial ones): a percentile score per pool from
    the metrics up to that quarter, then the standing rules."""
    indicators: dict[str, dict[int, float]] = {
        "tax_per_m2": {},
        "tax_per_mu": {},
        "revenue_ttm": {},
        "revenue_growth": {},
        "tax_growth": {},
        "rd_intensity": {},
        "productivity": {},
    }
    facts: dict[int, dict] = {}
    for firm in firms:
        key = firm["_index"]
        rows = {row["quarter"]: row for row in metrics[key] if row["quarter"] <= quarter.key}
        recent = [rows[q.key] for q in quarter.trailing(4) if q.key in rows]
        earlier = [rows[q.key] for q in (quarter - 4).trailing(4) if q.key in rows]
        revenue = sum(float(r["revenue"]) for r in recent)
        tax = sum(float(r["tax"]) for r in recent)
        last_two = [rows.get(q.key) for q in quarter.trailing(2)]
        facts[key] = {
            "quarters": len(rows),
            "revenue_ttm": revenue,
            "zero_two": all(r is not None and float(r["revenue"]) == 0 for r in last_two),
        }
        if len(rows) < 2:
            continue
        latest = recent[-1]
        if latest["floor_area_m2"]:
            indicators["tax_per_m2"][key] = tax / float(latest["floor_area_m2"])
        elif latest["land_mu"]:
            indicators["tax_per_mu"][key] = tax / float(latest["land_mu"])
        indicators["revenue_ttm"][key] = revenue
        if len(recent) == 4 and len(earlier) == 4:
            prior_revenue = sum(float(r["revenue"]) for r in earlier)
            prior_tax = sum(float(r["tax"]) for r in earlier)
            if prior_revenue > 0:
                indicators["revenue_growth"][key] = revenue / prior_revenue - 1
            if prior_tax > 0:
                indicators["tax_growth"][key] = tax / prior_tax - 1
        if revenue > 0:
            indicators["rd_intensity"][key] = sum(float(r["rd_spend"]) for r in recent) / revenue
        employees = int(latest["employees"] or 0)
        if employees > 0:
            indicators["productivity"][key] = revenue / employees

    weights = {
        "tax_per_area": 30,
        "revenue_ttm": 20,
        "revenue_growth": 20,
        "tax_growth": 10,
        "rd_intensity": 10,
        "productivity": 10,
    }
    scores: dict[int, float] = {}
    for pool in (1, 0):
        members = {f["_index"] for f in firms if f["above_scale"] == pool and facts[f["_index"]]["quarters"] >= 2}
        ranks = {
            name: percentile_ranks({k: v for k, v in values.items() if k in members})
            for name, values in indicators.items()
        }
        ranks["tax_per_area"] = {**ranks.pop("tax_per_m2"), **ranks.pop("tax_per_mu")}
        for key in members:
            total = weight_sum = 0.0
            for name, weight in weights.items():
                if key in ranks[name]:
                    total += weight * ranks[name][key]
                    weight_sum += weight
            scores[key] = total / weight_sum if weight_sum else 0.0
        ordered = sorted(members, key=lambda k: (-scores[k], k))
        cut = 0.0
        bands = []
        for tier, share in TIER_BANDS:
            cut += share
            bands.append((tier, cut))
        for position, key in enumerate(ordered):
            share = (position + 1) / len(ordered)
            firms[key]["tier"] = next(tier for tier, cut in bands if share <= cut + 1e-9)

    today = quarter.first_day
    for firm in firms:
        key = firm["_index"]
        fact = facts[key]
        tier = firm["tier"] or "observe"
        if fact["quarters"] < 2:
            tier = "observe"  # insufficient data
        if firm["status"] in ("deregistered", "relocating") or fact["zero_two"]:
            tier = "exit"
        elif firm["is_listed"] or firm["is_chain_leader"] or fact["revenue_ttm"] >= KEY_REVENUE_TTM:
            tier = "key"
        if (firm["is_abnormal"] or firm["has_serious_violation"]) and tier in ("key", "cultivate"):
            tier = "observe"
        young = dt.date.fromisoformat(firm["established"]) > today.replace(year=today.year - 2)
        if young and tier == "exit" and firm["status"] == "active" and not fact["zero_two"]:
            tier = "observe"
        firm["tier"] = tier
    for firm in firms:
        standing = firm["is_listed"] or firm["is_chain_leader"] or firm["status"] != "active"
        if not standing and rng.random() < 0.031:
            firm["tier"] = ""  # not yet assessed


def tier_history(firms: list[dict], metrics: dict[int, list[dict]]) -> list[dict]:
    """The quarter before's tiers (2026Q2) of the firms assessed in 2026Q3 that reported by then,
    computed the same way, so the demo shows how firms moved between tiers."""
    previous = ASSESSED_QUARTER - 1
    copies = [dict(firm) for firm in firms]
    assign_tiers(random.Random(SEED + 1), copies, metrics, previous)
    rows = []
    for firm, copy in zip(firms, copies, strict=True):
        reported = any(row["quarter"] <= previous.key for row in metrics[firm["_index"]])
        if firm["tier"] and copy["tier"] and reported:
            rows.append({"credit_code": firm["credit_code"], "quarter": previous.key, "tier": copy["tier"]})
    return rows


#: Demo service officers (inactive until an admin sets a password): username, name, street.
OFFICERS = [
    ("zy_linping", "陈晓峰", "临平街道"),
    ("zy_donghu", "李静", "东湖街道"),
    ("zy_donghu2", "王浩", "东湖街道"),
    ("zy_nanyuan", "张敏", "南苑街道"),
    ("zy_nanyuan2", "刘洋", "南苑街道"),
    ("zy_xingqiao", "赵磊", "星桥街道"),
    ("zy_yunhe", "孙婷", "运河街道"),
    ("zy_qiaosi", "周杰", "乔司街道"),
    ("zy_chongxian", "吴雪", "崇贤街道"),
    ("zy_tangqi", "郑凯", "塘栖镇"),
]

#: The platform's targets for the demo year: year, indicator, name, target (%).
TARGETS = [
    (2026, "revenue_growth", "平台营业收入增长", "10.00"),
    (2026, "digital_growth", "数字经济核心产业营收增长", "12.00"),
    (2026, "tax_growth", "税收收入增长", "8.00"),
    (2026, "rd_intensity", "研发投入强度", "3.00"),
]

#: What firms ask for, per category: (category, weight per chain, descriptions).
REQUEST_KINDS = [
    ("ip", {"tech": 5, "fashion": 5, "trade": 1, "other": 1},
     ["商标被仿冒，请求协助维权", "申请发明专利，需要代理机构对接", "外观设计专利纠纷咨询"]),
    ("university", {"tech": 4, "fashion": 1, "trade": 1, "other": 1},
     ["希望对接高校实验室开展联合研发", "需要与浙大团队共建研发中心"]),
    ("tech_transfer", {"tech": 4, "fashion": 1, "trade": 1, "other": 1},
     ["寻求高校科技成果转化项目", "技术合同登记与成果评价咨询"]),
    ("mentor", {"tech": 2, "fashion": 2, "trade": 2, "other": 1},
     ["初创团队希望匹配创业导师", "需要企业管理辅导"]),
    ("financing", {"tech": 3, "fashion": 3, "trade": 4, "other": 2},
     ["申请科技贷款贴息", "希望对接产业基金", "流动资金紧张，请求银企对接"]),
    ("talent", {"tech": 4, "fashion": 3, "trade": 2, "other": 2},
     ["高层次人才落户与子女入学咨询", "招聘技术工人困难", "申请人才公寓"]),
    ("space", {"tech": 2, "fashion": 3, "trade": 3, "other": 3},
     ["扩大办公面积，需要楼宇推荐", "厂房租金上涨，请求协调", "申请入驻孵化器"]),
    ("policy", {"tech": 3, "fashion": 3, "trade": 3, "other": 2},
     ["研发费用补助兑现进度", "规上企业奖励政策咨询", "跨境电商扶持资金申报"]),
    ("other", {"tech": 1, "fashion": 1, "trade": 1, "other": 1}, ["周边交通与停车问题", "企业用电增容协调"]),
]  # fmt: skip
DEPARTMENTS = ["区市场监管局", "区科技局", "区人力社保局", "区金融办", "区经信局", "新城管委会企业服务中心"]
RESOLUTIONS = ["已协调相关部门办结", "已对接到位，企业确认", "政策已兑现", "已提供咨询并跟进落实"]


def build_requests(firms: list[dict]) -> list[dict]:
    """About one request for every six assessed, active firms, received up to eight months ago,
    at every step of the lifecycle (a few unresolved past their deadline). Days are counted back
    from the day the demo is loaded, so it stays current."""
    rng = random.Random(SEED + 2)
    rows = []
    for firm in firms:
        if not firm["tier"] or firm["status"] != "active" or rng.random() >= 0.17:
            continue
        kinds = rng.sample(REQUEST_KINDS, k=1 if rng.random() < 0.85 else 2)
        for category, weights, descriptions in kinds:
            if rng.random() * 5 > weights[firm["chain"]] + 1:
                continue
            age = rng.randint(1, 240)
            resolved_after = rng.randint(2, 30)
            if age <= resolved_after + 3:
                status = rng.choice(["received", "assigned", "in_progress"])
            elif rng.random() < 0.08:
                status = rng.choice(["assigned", "in_progress"])  # stuck: overdue
            else:
                status = rng.choices(["resolved", "revisited", "closed"], weights=[1, 2, 7])[0]
            satisfaction = ""
            if status in ("revisited", "closed"):
                satisfaction = rng.choices(["satisfied", "mostly", "dissatisfied"], weights=[70, 22, 8])[0]
            rows.append(
                {
                    "credit_code": firm["credit_code"],
                    "category": category,
                    "description": rng.choice(descriptions),
                    "urgency": "urgent" if rng.random() < 0.1 else "normal",
                    "received_days_ago": age,
                    "status": status,
                    "resolved_after_days": resolved_after if status in ("resolved", "revisited", "closed") else "",
                    "department": rng.choice(DEPARTMENTS) if status != "received" else "",
                    "resolution": rng.choice(RESOLUTIONS) if status in ("resolved", "revisited", "closed") else "",
                    "satisfaction": satisfaction,
                }
            )
    return rows


def write_csv(path: Path, fieldnames: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


FIRM_FIELDS = [
    "credit_code", "name", "chain", "industry_code", "street", "building", "established",
    "registered_capital", "above_scale", "is_high_tech", "is_specialised", "is_listed", "is_chain_leader",
    "is_abnormal", "has_serious_violation", "status", "contact_name", "contact_phone", "tier",
]  # fmt: skip
METRIC_FIELDS = ["credit_code", "quarter", "revenue", "tax", "employees", "rd_spend", "floor_area_m2", "land_mu"]
REQUEST_FIELDS = [
    "credit_code", "category", "description", "urgency", "received_days_ago", "status", "resolved_after_days",
    "department", "resolution", "satisfaction",
]  # fmt: skip


def main(target: Path = HERE) -> None:
    rng = random.Random(SEED)
    buildings = build_buildings(rng)
    firms = build_firms(rng, buildings)
    metrics = {firm["_index"]: build_metrics(rng, firm) for firm in firms}
    assign_tiers(rng, firms, metrics)

    write_csv(target / "streets.csv", ["name", "region_code"], [{"name": n, "region_code": c} for n, c in STREETS])
    write_csv(target / "buildings.csv", ["name", "street", "floor_area_m2", "is_key", "is_star"], buildings)
    write_csv(target / "firms.csv", FIRM_FIELDS, firms)
    write_csv(target / "metrics.csv", METRIC_FIELDS, [row for firm in firms for row in metrics[firm["_index"]]])
    write_csv(target / "tier_history.csv", ["credit_code", "quarter", "tier"], tier_history(firms, metrics))
    write_csv(
        target / "officers.csv",
        ["username", "display_name", "street"],
        [{"username": u, "display_name": n, "street": s} for u, n, s in OFFICERS],
    )
    write_csv(target / "requests.csv", REQUEST_FIELDS, build_requests(firms))
    write_csv(
        target / "targets.csv",
        ["year", "metric", "name", "threshold"],
        [{"year": y, "metric": m, "name": n, "threshold": t} for y, m, n, t in TARGETS],
    )

    tiers: dict[str, int] = {}
    for firm in firms:
        tiers[firm["tier"] or "(none)"] = tiers.get(firm["tier"] or "(none)", 0) + 1
    print(
        f"{len(STREETS)} streets, {len(buildings)} buildings, {len(firms)} firms, "
        f"{sum(len(rows) for rows in metrics.values())} metric rows; tiers {tiers}"
    )


if __name__ == "__main__":
    main()
