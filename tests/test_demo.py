"""The demo roster: seed_data/ is valid and reproducible, and load_demo loads it once, in bulk."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
from pathlib import Path

import sqlalchemy as sa
from stdnum.cn import uscc

from service_app.demo.services import DEMO_QUARTER, load_demo
from service_app.domain.followups import RequestStatus
from service_app.domain.industry import validate_industry_code
from service_app.domain.quarters import quarter_key
from service_app.domain.tiers import AssignmentMethod, Role
from service_app.extensions import db
from service_app.models import (
    AuditEvent,
    Building,
    Firm,
    FirmRequest,
    IndicatorTarget,
    QuarterlyMetric,
    Street,
    TierAssignment,
    User,
    Visit,
)

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
SEED_FILES = (
    "streets.csv",
    "buildings.csv",
    "firms.csv",
    "metrics.csv",
    "tier_history.csv",
    "officers.csv",
    "requests.csv",
    "targets.csv",
)
MODELS = (
    Street,
    Building,
    Firm,
    QuarterlyMetric,
    TierAssignment,
    Visit,
    User,
    FirmRequest,
    IndicatorTarget,
    AuditEvent,
)


def read(name: str) -> list[dict[str, str]]:
    with (SEED_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def row_counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in MODELS}


def test_generator_reproduces_the_seed_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("seed_generate", SEED_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in SEED_FILES:
        assert (tmp_path / name).read_bytes() == (SEED_DIR / name).read_bytes(), name


def test_seed_files_are_valid() -> None:
    streets = read("streets.csv")
    buildings = read("buildings.csv")
    firms = read("firms.csv")
    metrics = read("metrics.csv")

    assert len(streets) == 8
    assert all(row["region_code"].startswith("330113") and len(row["region_code"]) == 9 for row in streets)
    street_names = {row["name"] for row in streets}
    assert 35 <= len(buildings) <= 45
    assert all(row["street"] in street_names for row in buildings)
    assert all(8_000 <= float(row["floor_area_m2"]) <= 80_000 for row in buildings)
    building_keys = {(row["street"], row["name"]) for row in buildings}

    assert len(firms) == 2200
    codes = [row["credit_code"] for row in firms]
    assert len(set(codes)) == len(codes)
    assert len({row["name"] for row in firms}) == len(firms)
    for row in firms:
        assert uscc.is_valid(row["credit_code"]), row["credit_code"]
        assert row["credit_code"][2:8] == "330113"
        assert validate_industry_code(row["industry_code"]) == row["industry_code"]
        assert row["street"] in street_names
        assert not row["building"] or (row["street"], row["building"]) in building_keys
        assert row["tier"] in ("key", "cultivate", "observe", "exit", "")
        if row["is_listed"] == "1" or row["is_chain_leader"] == "1":
            assert row["tier"] in ("key", "")
        if row["status"] != "active":
            assert row["tier"] in ("exit", "")
        if row["is_abnormal"] == "1":
            assert row["tier"] not in ("key", "cultivate")

    known = set(codes)
    pairs = {(row["credit_code"], row["quarter"]) for row in metrics}
    assert len(pairs) == len(metrics)
    assert all(row["credit_code"] in known and quarter_key(row["quarter"]) == row["quarter"] for row in metrics)
    assert sorted({row["quarter"] for row in metrics}) == [
        "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3",
    ]  # fmt: skip


def test_load_demo_loads_everything_once(ctx) -> None:
    firms_csv = read("firms.csv")
    expected = {
        "streets": 8,
        "buildings": len(read("buildings.csv")),
        "firms": 2200,
        "metrics": len(read("metrics.csv")),
        "assignments": sum(1 for row in firms_csv if row["tier"]),
        "visits": sum(1 for row in firms_csv if row["tier"]),
        "officers": len(read("officers.csv")),
        "earlier_tiers": len(read("tier_history.csv")),
        "requests": len(read("requests.csv")),
        "targets": len(read("targets.csv")),
    }

    counts = load_demo(SEED_DIR)

    assert counts == expected
    assert row_counts() == {
        "streets": expected["streets"],
        "buildings": expected["buildings"],
        "firms": expected["firms"],
        "quarterly_metrics": expected["metrics"],
        "tier_assignments": expected["assignments"] + expected["earlier_tiers"],
        "visits": expected["visits"],
        "users": expected["officers"],
        "firm_requests": expected["requests"],
        "indicator_targets": expected["targets"],
        "audit_events": 1,
    }
    for code, industry in db.session.execute(sa.select(Firm.credit_code, Firm.industry_code)):
        assert uscc.is_valid(code), code
        assert validate_industry_code(industry) == industry
    # Every assessed firm's current tier is its 2026Q3 import assignment; the others have none.
    tiers = {row["credit_code"]: row["tier"] or None for row in firms_csv}
    query = sa.select(Firm.credit_code, Firm.current_tier, TierAssignment.tier, TierAssignment.method).outerjoin(
        TierAssignment, sa.and_(TierAssignment.firm_id == Firm.id, TierAssignment.quarter == DEMO_QUARTER)
    )
    for code, current, assigned, method in db.session.execute(query):
        assert current == assigned == tiers[code]
        assert method in (None, AssignmentMethod.IMPORT)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "demo.load")).one()
    assert event.after == expected

    before = row_counts()
    assert load_demo(SEED_DIR) == dict.fromkeys(expected, 0)
    assert row_counts() == before


def test_demo_activity_is_consistent(ctx) -> None:
    load_demo(SEED_DIR)
    # Demo officers cannot sign in until an admin activates them; each firm has one of its street's.
    officers = db.session.scalars(sa.select(User)).all()
    assert officers and all(u.role == Role.OFFICER and not u.active for u in officers)
    street_of = {u.id: {s.id for s in u.streets} for u in officers}
    for street_id, officer_id in db.session.execute(sa.select(Firm.street_id, Firm.officer_id)):
        assert street_id in street_of[officer_id]
    # Earlier tiers never outrank the current one: each firm's latest assignment is its current tier.
    latest = sa.select(TierAssignment.firm_id, sa.func.max(TierAssignment.quarter).label("q")).group_by(
        TierAssignment.firm_id
    )
    assert {q for _f, q in db.session.execute(latest)} == {DEMO_QUARTER}
    # Requests went through every step up to their status, in order, each dated on or after receipt.
    lifecycle = list(RequestStatus)
    for request in db.session.scalars(sa.select(FirmRequest)):
        assert [step.status for step in request.steps] == lifecycle[: lifecycle.index(request.status) + 1]
        assert request.deadline > request.received_on
        assert (request.satisfaction is not None) == (request.status in (RequestStatus.REVISITED, RequestStatus.CLOSED))
        assert all(step.created_at.date() >= request.received_on - dt.timedelta(days=1) for step in request.steps)


def test_cli_demo_load(runner) -> None:
    result = runner.invoke(args=["demo", "load"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["firms"] == 2200
