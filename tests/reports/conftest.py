"""A generated data set for the workload and quarter-report figures: three streets, officers with
overlapping streets, 150 firms with random tiers, chains, figures, follow-ups, visits and requests
(seeded, so every run is the same), plus the hand-made boundary cases the random ones may miss."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sqlalchemy as sa

from service_app.domain.followups import (
    FollowupStatus,
    RequestCategory,
    RequestStatus,
    Satisfaction,
    VisitKind,
)
from service_app.domain.quarters import Quarter
from service_app.domain.tiers import AssignmentMethod, Chain, FirmStatus, Role, Tier
from service_app.extensions import db
from service_app.models import Firm, FirmRequest, Followup, QuarterlyMetric, RequestStep, TierAssignment, Visit

from .. import factories

QUARTER = Quarter(2026, 3)
TODAY = dt.date(2026, 11, 26)
LIFECYCLE = list(RequestStatus)


def utc(day: dt.date, hour: int = 3, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


@dataclass
class Generated:
    """Ids of what the generator made."""

    streets: dict[str, int]  # A, B, C → street id
    officers: dict[str, int]  # o1 (A), o2 (A, B), o3 (C), o4 (B, inactive) → user id
    firms: list[int]


@pytest.fixture
def generated(app) -> Generated:
    """The data set, committed (to the test's savepoint) in its own app context, like `world`."""
    with app.app_context():
        return _generate()


def _generate() -> Generated:
    rng = random.Random(20260926)
    streets = {
        "A": factories.make_street("临平街道", "330113001"),
        "B": factories.make_street("东湖街道", "330113002"),
        "C": factories.make_street("塘栖镇", "330113100"),
    }
    factories.make_user("admin", Role.ADMIN)
    factories.make_user("supervisor", Role.SUPERVISOR)
    factories.make_user("district_a", Role.DISTRICT, [streets["A"]])
    officers = {
        "o1": factories.make_user("o1", Role.OFFICER, [streets["A"]]),
        "o2": factories.make_user("o2", Role.OFFICER, [streets["A"], streets["B"]]),
        "o3": factories.make_user("o3", Role.OFFICER, [streets["C"]]),
        "o4": factories.make_user("o4", Role.OFFICER, [streets["B"]]),
    }
    officers["o4"].active = False
    db.session.flush()
    officer_ids: list[int | None] = [officer.id for officer in officers.values()] + [None]
    firm_rows = [
        {
            "credit_code": factories.credit_code(),
            "name": f"杭州生成{number:03d}号有限公司",
            "street_id": rng.choice(list(streets.values())).id,
            "chain": rng.choice([*Chain, None]),
            "status": rng.choices(list(FirmStatus), weights=[8, 1, 1])[0],
            "current_tier": rng.choice([*Tier, None]),
            "officer_id": rng.choice(officer_ids),
            # Some firms joined the roster after the quarter (their figures may still be for it).
            "created_at": utc(dt.date(2026, 10, 20)) if rng.random() < 0.15 else utc(dt.date(2025, 1, 2)),
        }
        for number in range(150)
    ]
    db.session.execute(Firm.__table__.insert(), firm_rows)  # one executemany (no RETURNING: row by row on SQLite)
    by_code = dict(db.session.execute(sa.select(Firm.credit_code, Firm.id)).all())
    firm_ids = [by_code[row["credit_code"]] for row in firm_rows]
    rows: dict[type, list[dict]] = {TierAssignment: [], QuarterlyMetric: [], Followup: [], Visit: []}
    requests: list[tuple[dict, list[dict]]] = []
    for firm_id in firm_ids:
        rows[TierAssignment] += _assignments(rng, firm_id)
        rows[QuarterlyMetric] += _metrics(rng, firm_id)
        rows[Followup] += _followups(rng, firm_id, officer_ids)
        rows[Visit] += _visits(rng, firm_id, officer_ids)
        requests += _requests(rng, firm_id, officer_ids)
    requests += _boundary_requests(firm_ids[0], officers["o1"].id)
    for model, values in rows.items():
        db.session.execute(model.__table__.insert(), values)
    for number, (request, _) in enumerate(requests):
        request["description"] += f" #{number}"
    db.session.execute(FirmRequest.__table__.insert(), [request for request, _ in requests])
    by_description = dict(db.session.execute(sa.select(FirmRequest.description, FirmRequest.id)).all())
    steps = [
        {**step, "request_id": by_description[request["description"]]}
        for request, request_steps in requests
        for step in request_steps
    ]
    db.session.execute(RequestStep.__table__.insert(), steps)
    db.session.commit()
    return Generated(
        streets={key: street.id for key, street in streets.items()},
        officers={key: officer.id for key, officer in officers.items()},
        firms=firm_ids,
    )


def _assignments(rng: random.Random, firm_id: int) -> list[dict]:
    return [
        {
            "firm_id": firm_id,
            "quarter": quarter.key,
            "tier": rng.choice(list(Tier)),
            "reasons": [],
            "method": AssignmentMethod.AUTO,
        }
        for quarter in (QUARTER - 1, QUARTER)
        if rng.random() < 0.8
    ]


def _money(rng: random.Random) -> Decimal | None:
    return None if rng.random() < 0.1 else Decimal(rng.randint(0, 1_000_000)) / 100


def _metrics(rng: random.Random, firm_id: int) -> list[dict]:
    return [
        {"firm_id": firm_id, "quarter": quarter.key, "revenue": _money(rng), "tax": _money(rng)}
        for quarter in (QUARTER - 4, QUARTER - 1, QUARTER)
        if rng.random() < 0.75
    ]


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def _followups(rng: random.Random, firm_id: int, officers: list[int | None]) -> list[dict]:
    statuses = [rng.choice([FollowupStatus.DONE, FollowupStatus.CANCELLED]) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.6:
        statuses.append(FollowupStatus.OPEN)  # at most one open per firm (a unique index)
    rows = []
    for status in statuses:
        due = _day(rng, dt.date(2026, 5, 15), dt.date(2026, 12, 31))
        rows.append(
            {
                "firm_id": firm_id,
                "officer_id": rng.choice(officers),
                "tier": rng.choice(list(Tier)),
                "base_date": due - dt.timedelta(days=30),
                "due_date": due,
                "status": status,
            }
        )
    return rows


def _visits(rng: random.Random, firm_id: int, officers: list[int | None]) -> list[dict]:
    return [
        {
            "firm_id": firm_id,
            "officer_id": rng.choice(officers),
            "visited_on": _day(rng, dt.date(2026, 5, 1), TODAY),
            "kind": VisitKind.ONSITE,
        }
        for _ in range(rng.randint(0, 3))
    ]


def _requests(rng: random.Random, firm_id: int, officers: list[int | None]) -> list[tuple[dict, list[dict]]]:
    made = []
    for _ in range(rng.randint(0, 3)):
        received = _day(rng, dt.date(2026, 5, 1), dt.date(2026, 11, 20))
        reached = rng.randint(0, len(LIFECYCLE) - 1)
        request = {
            "firm_id": firm_id,
            "category": rng.choice(list(RequestCategory)),
            "description": "生成的诉求",
            "received_on": received,
            "deadline": received + dt.timedelta(days=rng.randint(5, 30)),
            "status": LIFECYCLE[reached],
            "owner_id": rng.choice(officers) if reached >= 1 else None,
            "satisfaction": None,
            "closed_at": None,
        }
        steps = []
        moment = utc(received, rng.randint(0, 23))
        for step in LIFECYCLE[: reached + 1]:
            steps.append({"status": step, "note": "", "created_at": moment})
            if step is RequestStatus.REVISITED:
                request["satisfaction"] = rng.choice(list(Satisfaction))
            if step is RequestStatus.CLOSED:
                request["closed_at"] = moment
            moment += dt.timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 23))
        made.append((request, steps))
    return made


def _boundary_requests(firm_id: int, officer_id: int) -> list[tuple[dict, list[dict]]]:
    """Resolutions either side of the quarter's edges in Beijing time (UTC+8)."""
    made = []
    for received, resolved_at, deadline in (
        # 2026-07-01 00:30 in Beijing: resolved in Q3 (though still June in UTC), 1 day after receipt.
        (dt.date(2026, 6, 30), dt.datetime(2026, 6, 30, 16, 30, tzinfo=dt.UTC), dt.date(2026, 7, 10)),
        # 2026-10-01 01:00 in Beijing: resolved in Q4, not Q3 (still September in UTC), one day late.
        (dt.date(2026, 9, 20), dt.datetime(2026, 9, 30, 17, 0, tzinfo=dt.UTC), dt.date(2026, 9, 30)),
        # 2026-09-30 23:59 in Beijing: on its deadline day, so not late; resolved in Q3.
        (dt.date(2026, 9, 20), dt.datetime(2026, 9, 30, 15, 59, tzinfo=dt.UTC), dt.date(2026, 9, 30)),
    ):
        request = {
            "firm_id": firm_id,
            "category": RequestCategory.IP,
            "description": "边界",
            "received_on": received,
            "deadline": deadline,
            "status": RequestStatus.RESOLVED,
            "owner_id": officer_id,
            "satisfaction": None,
            "closed_at": None,
        }
        steps = [
            {"status": RequestStatus.RECEIVED, "note": "", "created_at": utc(received)},
            {"status": RequestStatus.RESOLVED, "note": "", "created_at": resolved_at},
        ]
        made.append((request, steps))
    return made
