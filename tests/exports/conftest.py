"""The roster every export test writes: two streets, tiered firms with figures and follow-up data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from service_app.domain.followups import FollowupStatus, RequestCategory, RequestStatus, VisitKind
from service_app.domain.tiers import AssignmentMethod, Chain, Role, Tier
from service_app.extensions import db
from service_app.models import Building, FirmRequest, Followup, TierAssignment, Visit

from .. import factories


@pytest.fixture
def roster(ctx):
    """Two streets, an officer, tiered firms with figures, a visit, a follow-up and a request."""
    east = factories.make_street("临平街道")
    west = factories.make_street("塘栖镇", "330113100")
    building = Building(name="艺尚中心", street_id=east.id)
    db.session.add(building)
    db.session.flush()
    officer = factories.make_user("wang", Role.OFFICER, [east, west])
    firms = []
    for number, (street, tier) in enumerate(
        [(east, Tier.KEY), (east, Tier.CULTIVATE), (east, Tier.OBSERVE), (west, Tier.EXIT), (west, None)]
    ):
        firm = factories.make_firm(
            street,
            chain=Chain.FASHION if number % 2 else Chain.TECH,
            industry_code="C3511",
            building_id=building.id if street is east else None,
            established=dt.date(2019, 3, 5),
            registered_capital=Decimal("1234.50"),
            above_scale=number == 0,
            is_high_tech=True,
            contact_name="张三",
            contact_phone="0571-88888888",
            officer_id=officer.id,
            current_tier=tier,
            registration_number="330100000012345" if number == 1 else None,
        )
        factories.add_metric(firm, "2026Q3", revenue="1000.25", tax="50.10", employees=12, floor_area_m2=Decimal("300"))
        if tier is not None:
            for quarter, held in (("2026Q3", Tier.OBSERVE), ("2026Q4", tier)):
                db.session.add(
                    TierAssignment(
                        firm_id=firm.id,
                        quarter=quarter,
                        tier=held,
                        reasons=[{"code": "score", "text": "综合得分 1.2"}],
                        method=AssignmentMethod.AUTO,
                    )
                )
        firms.append(firm)
    first = firms[0]
    db.session.add(
        Visit(firm_id=first.id, visited_on=dt.date(2026, 10, 9), kind=VisitKind(next(iter(VisitKind))), notes="")
    )
    db.session.add(
        Followup(
            firm_id=first.id,
            tier=Tier.KEY,
            base_date=dt.date(2026, 10, 9),
            due_date=dt.date(2026, 11, 9),
            status=FollowupStatus.OPEN,
        )
    )
    db.session.add(
        FirmRequest(
            firm_id=first.id,
            category=next(iter(RequestCategory)),
            description="专利",
            status=RequestStatus.RECEIVED,
            received_on=dt.date(2026, 10, 9),
            deadline=dt.date(2026, 10, 30),
        )
    )
    db.session.flush()
    return {"east": east, "west": west, "firms": firms, "officer": officer}
