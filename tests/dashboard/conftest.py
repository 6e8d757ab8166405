"""A generated data set for the dashboard and buildings tests: three streets of firms with tiers in
two quarters, eight quarters of metrics, follow-ups, visits, requests, buildings and targets.

Random but seeded, so a failure repeats; the tests check the pages against direct SQL over it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sqlalchemy as sa

from service_app.domain.followups import FollowupStatus, RequestCategory, RequestStatus, Satisfaction, VisitKind
from service_app.domain.indicators import IndicatorMetric
from service_app.domain.quarters import Quarter
from service_app.domain.tiers import AssignmentMethod, Chain, Role, Tier
from service_app.domain.workdays import CHINA, china_today
from service_app.extensions import db
from service_app.models import (
    Building,
    Firm,
    FirmRequest,
    Followup,
    IndicatorTarget,
    QuarterlyMetric,
    RequestStep,
    Street,
    TierAssignment,
    User,
    Visit,
)

from .. import factories

LATEST = Quarter(2026, 3)
QUARTERS = [q.key for q in LATEST.trailing(8)]
#: Core (C39, I65, F5292) and other industry codes.
INDUSTRIES = ["I6513", "C3914", "F5292", "C1810", "L7224", "K7020", None]
TIERS = [Tier.KEY, Tier.CULTIVATE, Tier.OBSERVE, Tier.EXIT, None]


@dataclass
class DataSet:
    """Ids and the day the data set was made for."""

    today: dt.date
    street_ids: dict[str, int]
    building_ids: dict[str, int]
    officer_ids: dict[str, int]


def _utc(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


def _tiers(rng: random.Random, firm: Firm) -> None:
    """Tiers for 2026Q2 and 2026Q3 (current = the latest), some firms with one or none."""
    previous, current = rng.choice(TIERS), rng.choice(TIERS)
    for quarter, tier in (("2026Q2", previous), ("2026Q3", current)):
        if tier is not None:
            db.session.add(TierAssignment(firm_id=firm.id, quarter=quarter, tier=tier, method=AssignmentMethod.AUTO))
    firm.current_tier = current or previous


def _metrics(rng: random.Random, firm: Firm, scale: float) -> None:
    for key in QUARTERS:
        if rng.random() < 0.1:
            continue  # a quarter not reported
        revenue = round(rng.uniform(10, 500) * scale, 2)
        db.session.add(
            QuarterlyMetric(
                firm_id=firm.id,
                quarter=key,
                revenue=Decimal(f"{revenue:.2f}"),
                tax=Decimal(f"{revenue * rng.uniform(0.02, 0.08):.2f}"),
                rd_spend=Decimal(f"{revenue * rng.uniform(0, 0.06):.2f}"),
                employees=rng.randint(1, 80),
                floor_area_m2=Decimal(f"{rng.uniform(50, 900):.2f}") if firm.building_id else None,
            )
        )


def _followups(rng: random.Random, firm: Firm, today: dt.date) -> None:
    month_start = today.replace(day=1)
    if firm.current_tier is not None:
        due = today + dt.timedelta(days=rng.randint(-40, 40))
        db.session.add(
            Followup(firm_id=firm.id, officer_id=firm.officer_id, tier=firm.current_tier, base_date=due, due_date=due)
        )
    for status in (FollowupStatus.DONE, FollowupStatus.CANCELLED):
        if rng.random() < 0.4:
            due = month_start + dt.timedelta(days=rng.randint(-20, 27))
            db.session.add(
                Followup(
                    firm_id=firm.id,
                    officer_id=firm.officer_id,
                    tier=Tier.OBSERVE,
                    base_date=due,
                    due_date=due,
                    status=status,
                )
            )
    for _ in range(rng.randint(0, 2)):
        day = today - dt.timedelta(days=rng.randint(0, 50))
        db.session.add(Visit(firm_id=firm.id, officer_id=firm.officer_id, visited_on=day, kind=VisitKind.ONSITE))


def _requests(rng: random.Random, firm: Firm, today: dt.date) -> None:
    lifecycle = list(RequestStatus)
    for _ in range(rng.choice([0, 0, 1, 2])):
        status = rng.choice(lifecycle)
        received = today - dt.timedelta(days=rng.randint(0, 90))
        request = FirmRequest(
            firm_id=firm.id,
            category=rng.choice(list(RequestCategory)),
            description="测试诉求",
            status=status,
            received_on=received,
            deadline=received + dt.timedelta(days=rng.randint(5, 30)),
            satisfaction=rng.choice(list(Satisfaction)) if status in lifecycle[4:] else None,
        )
        for step in lifecycle[: lifecycle.index(status) + 1]:
            # Any hour of the day: a step late in the UTC evening is the next day in Beijing.
            when = _utc(received + dt.timedelta(days=rng.randint(0, 20)), rng.randint(0, 23))
            request.steps.append(RequestStep(status=step, created_at=when))
        db.session.add(request)


@pytest.fixture
def dataset(app, world) -> DataSet:
    """The generated data set on top of `world` (admin, supervisor, officer_a and district_a of 临平街道)."""
    rng = random.Random(20261126)
    today = china_today()
    with app.app_context():
        streets = {
            "临平街道": db.session.get(Street, world.street_a),
            "东湖街道": db.session.get(Street, world.street_b),
            "南苑街道": factories.make_street("南苑街道", "330113003"),
        }
        officer_a = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        officer_b = factories.make_user("officer_b", Role.OFFICER, [streets["东湖街道"], streets["南苑街道"]])
        officer_b.display_name = '=HYPERLINK("http://x")'  # a label Excel would evaluate
        buildings = {
            "甲楼": Building(name="甲楼", street_id=streets["临平街道"].id, floor_area_m2=Decimal("20000")),
            "乙楼": Building(name="乙楼", street_id=streets["临平街道"].id, floor_area_m2=Decimal("8000")),
            "丙楼": Building(name="丙楼", street_id=streets["东湖街道"].id, floor_area_m2=Decimal("30000")),
            "丁楼": Building(name="丁楼", street_id=streets["南苑街道"].id, floor_area_m2=None),
        }
        db.session.add_all(buildings.values())
        db.session.flush()
        firms, scales = [], []
        for number in range(150):
            street = list(streets.values())[number % 3]
            in_street = [b for b in buildings.values() if b.street_id == street.id]
            building = rng.choice([*in_street, None])
            officer = {streets["临平街道"].id: officer_a}.get(street.id, officer_b)
            firms.append(
                Firm(
                    credit_code=factories.credit_code(),
                    name=f"杭州数据{number:03d}号有限公司",
                    street_id=street.id,
                    chain=rng.choice([*Chain, None]),
                    industry_code=rng.choice(INDUSTRIES),
                    building_id=building.id if building else None,
                    officer_id=officer.id if rng.random() < 0.85 else None,
                )
            )
            # 甲楼's firms pay enough for a 亿元楼, 乙楼's for a candidate at most.
            scales.append({"甲楼": 60.0, "乙楼": 3.0}.get(building.name if building else "", 1.0))
        db.session.add_all(firms)
        db.session.flush()  # one flush for all: a flush per firm would cost seconds
        for firm, scale in zip(firms, scales, strict=True):
            _tiers(rng, firm)
            _metrics(rng, firm, scale)
            _followups(rng, firm, today)
            _requests(rng, firm, today)
        for metric, threshold in zip(IndicatorMetric, ("10", "8", "12", "3"), strict=True):
            db.session.add(
                IndicatorTarget(
                    year=LATEST.year, metric=metric, name=f"目标 {metric.value}", threshold=Decimal(threshold)
                )
            )
        db.session.commit()
        return DataSet(
            today,
            {name: s.id for name, s in streets.items()},
            {name: b.id for name, b in buildings.items()},
            {"officer_a": officer_a.id, "officer_b": officer_b.id},
        )


def beijing_day(moment: dt.datetime) -> dt.date:
    """A stored timestamp's day in Beijing (SQLite gives naive UTC, PostgreSQL aware)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHINA).date()
