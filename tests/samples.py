"""One of everything a page can show, in two streets, for the route sweeps (tests/route_table.py).

`make_samples(text)` builds, in the caller's transaction: a user of each role (the officer and the
street office cover street A) and a second officer for street B, and in each street a building
with floor area, a tiered firm in it with eight quarters of figures (building A a 亿元楼, B a
candidate), its open follow-up, a logged visit, a request, tier history, an import batch with
preview rows and errors, plus a proposal with an override, an indicator target, a firm-list
export, a street pack, a failed pack, a notification for every user and the officer's calendar
link. `text` is put into every free-text field a page may show (names, notes, descriptions,
reasons, file names, messages, officers' display names, the target's name), so the escaping
sweep can use a hostile string and the access sweep a plain one.

`Samples.own` and `Samples.other` hold the URL values (by route argument name) of street A's
objects and street B's; routes read them through `url_values`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from werkzeug.datastructures import MultiDict

from service_app.domain.followups import RequestCategory, VisitKind
from service_app.domain.indicators import IndicatorMetric
from service_app.domain.quarters import Quarter
from service_app.domain.tiers import AssignmentMethod, Chain, Role, Tier
from service_app.domain.workdays import china_today
from service_app.exports.packs import build_pack, request_pack, request_roster_export
from service_app.extensions import db
from service_app.firm_requests.services import raise_request
from service_app.followups.feed import issue_token
from service_app.followups.services import log_visit, open_followup, schedule_followups
from service_app.models import (
    Building,
    Firm,
    ImportMode,
    IndicatorTarget,
    Notification,
    PackStatus,
    ProposalItem,
    TierAssignment,
    User,
)
from service_app.models.types import utcnow
from service_app.roster.plan import ImportOptions
from service_app.roster.services import upload_roster
from service_app.tiers.services import override_item, propose_tiers

from . import factories

#: The roles of the sweeps, in the order the route table lists statuses.
ROLES = ("anonymous", "officer", "district", "supervisor", "admin")
#: Usernames of the sample users by role (the anonymous visitor has none).
USERNAMES = {
    "officer": "sweep_officer",
    "district": "sweep_district",
    "supervisor": "sweep_supervisor",
    "admin": "sweep_admin",
}
#: A quarter no other sample touches, for the proposal (far from today, so nothing is "current").
PROPOSAL_QUARTER = Quarter(2031, 2)
#: A street's firm's tax per quarter (万元): four quarters make street A's building a 亿元楼
#: (≥ 10,000) and street B's a candidate (≥ 8,000).
QUARTER_TAX = {"甲": Decimal("2600.00"), "乙": Decimal("2100.00")}
#: The dashboard chart the sweeps read (it names the streets); the buildings' routes pick theirs.
CHART = "tiers_by_street"


@dataclass
class Samples:
    """URL values of street A's objects (`own`) and street B's (`other`), and the users by role."""

    own: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


def roster_csv(text: str, firm: Firm, street: str) -> bytes:
    """A small roster renaming `firm`, adding a firm (an error for an officer, who may not add any)
    and a row with a bad credit code; names, one header and the bad code carry `text`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["统一社会信用代码", "企业名称", "所在街道", f"备注{text}"])
    writer.writerow([firm.credit_code, f"{text}更名有限公司", street, text])
    writer.writerow([factories.credit_code(), f"{text}新增有限公司", street, text])
    writer.writerow([text, f"{text}错误行有限公司", street, text])
    return buffer.getvalue().encode("utf-8-sig")


def _street_objects(samples: dict[str, Any], street: Any, officer: User, uploader: User, text: str, tag: str) -> Firm:
    building = Building(name=f"{text}{tag}大厦", street_id=street.id, floor_area_m2=Decimal("20000"), is_key=True)
    db.session.add(building)
    db.session.flush()
    firm = factories.make_firm(
        street,
        name=f"{text}杭州{tag}测试有限公司",
        building_id=building.id,
        contact_name=f"{text}联系人",
        notes=text,
        officer_id=officer.id,
        current_tier=Tier.KEY,
        chain=Chain.TECH,
        industry_code="I6513",  # a digital-economy core industry
    )
    today = china_today()
    this_quarter = Quarter.of(today)
    for quarter in (this_quarter - 1).trailing(8):
        tax = QUARTER_TAX[tag]
        factories.add_metric(
            firm, quarter.key, str(tax * 10), str(tax), employees=80, rd_spend=tax, floor_area_m2=Decimal("2000")
        )
    for quarter, tier in (((this_quarter - 1).key, Tier.OBSERVE), (this_quarter.key, Tier.KEY)):
        db.session.add(
            TierAssignment(
                firm_id=firm.id,
                quarter=quarter,
                tier=tier,
                reasons=[{"code": "score", "text": f"{text}得分"}],
                method=AssignmentMethod.AUTO,
            )
        )
    schedule_followups(today, [firm.id])
    first = open_followup(firm.id)
    assert first is not None
    visit, _next = log_visit(
        first,
        officer,
        visited_on=max(first.base_date, today - dt.timedelta(days=1)),
        kind=VisitKind.ONSITE,
        participants=text,
        notes=text,
        today=today,
    )
    request = raise_request(
        firm, officer, category=RequestCategory.TALENT, description=f"{text}诉求", received_on=today, visit=visit
    )
    followup = open_followup(firm.id)
    assert followup is not None
    batch, _plan = upload_roster(
        roster_csv(text, firm, street.name), f"{text}名录{tag}.csv", uploader, ImportOptions(ImportMode.UPSERT)
    )
    samples.update(
        firm_id=firm.id,
        building_id=building.id,
        street_id=street.id,
        followup_id=followup.id,
        request_id=request.id,
        batch_id=batch.id,
    )
    return firm


def make_samples(text: str = "", *, build_exports: bool = True) -> Samples:
    """Build the sample world; `text` goes into every free text a page shows.

    The exports are built (about half a second) into EXPORT_FOLDER, which the caller points at a
    temporary folder first; without `build_exports` they stay queued and their downloads are 404s.
    """
    samples = Samples()
    street_a = factories.make_street(f"{text}甲街道"[-40:], "330113001")
    street_b = factories.make_street(f"{text}乙街道"[-40:], "330113002")
    users = {
        "officer": factories.make_user(USERNAMES["officer"], Role.OFFICER, [street_a]),
        "officer_b": factories.make_user("sweep_officer_b", Role.OFFICER, [street_b]),
        "district": factories.make_user(USERNAMES["district"], Role.DISTRICT, [street_a]),
        "supervisor": factories.make_user(USERNAMES["supervisor"], Role.SUPERVISOR),
        "admin": factories.make_user(USERNAMES["admin"], Role.ADMIN),
    }
    for user in users.values():
        user.display_name = f"{text}{user.username}"[:64]
    samples.users = users
    firm_a = _street_objects(samples.own, street_a, users["officer"], users["officer"], text, "甲")
    firm_b = _street_objects(samples.other, street_b, users["officer_b"], users["supervisor"], text, "乙")
    samples.own["officer_id"], samples.other["officer_id"] = users["officer"].id, users["officer_b"].id

    proposal = propose_tiers(PROPOSAL_QUARTER, users["supervisor"])
    for firm, values in ((firm_a, samples.own), (firm_b, samples.other)):
        item = db.session.scalars(
            db.select(ProposalItem).where(ProposalItem.proposal_id == proposal.id, ProposalItem.firm_id == firm.id)
        ).one()
        values.update(proposal_id=proposal.id, item_id=item.id)
    first_item = db.session.get(ProposalItem, samples.own["item_id"])
    assert first_item is not None
    override_item(first_item, Tier.CULTIVATE, f"{text}调整理由", None, users["supervisor"])

    export = request_roster_export(users["officer"], MultiDict(), None)
    pack = request_pack(None, users["supervisor"])
    failed = request_pack(None, users["supervisor"])
    failed.status, failed.error = PackStatus.FAILED, f"{text}失败原因"
    for queued in (export, pack) if build_exports else ():
        build_pack(queued, progress=lambda done, total: None)
    for values, street in ((samples.own, street_a), (samples.other, street_b)):
        values.update(export_id=export.id, pack_id=pack.id, pack_street_id=street.id)

    target = IndicatorTarget(
        year=(Quarter.of(china_today()) - 1).year,
        metric=IndicatorMetric.REVENUE_GROWTH,
        name=f"{text}营收增长"[-100:],
        threshold=Decimal("8.00"),
        updated_by_id=users["admin"].id,
    )
    db.session.add(target)
    db.session.flush()

    token = issue_token(users["officer"])
    now = utcnow()
    for user in users.values():
        db.session.add(
            Notification(
                user_id=user.id,
                object_type="firm",
                object_id=str(firm_a.id),
                kind="sweep",
                day=now.date(),
                message=f"{text}通知",
                link=f"/firms/{firm_a.id}",
                created_at=now,
            )
        )
    common = {
        "user_id": users["officer"].id,
        "token": token,
        "filename": "css/app.css",
        "target_id": target.id,
        "name": CHART,
    }
    samples.own.update(common)
    samples.other.update(common)
    db.session.flush()
    return samples
