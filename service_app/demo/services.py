"""Load the demo roster from seed_data/ into the database, in bulk and idempotently.

Each table is keyed the way rosters identify things: streets by name, buildings by (street, name), firms by
credit code, metrics and tier assignments by (firm, quarter). Rows already present are skipped, never
changed, so a second load adds nothing. The caller commits.
"""

from __future__ import annotations

import csv
import datetime as dt
import zlib
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from ..audit import record_event
from ..domain.credit_codes import validate_credit_code
from ..domain.followups import VisitKind
from ..domain.industry import validate_industry_code
from ..domain.quarters import quarter_key
from ..domain.tiers import AssignmentMethod, Chain, FirmStatus, Tier
from ..extensions import db
from ..followups.services import cadences
from ..models import Building, Firm, QuarterlyMetric, Street, TierAssignment, Visit
from ..models.types import utcnow

#: The quarter the demo's initial tiers apply to.
DEMO_QUARTER = "2026Q3"
#: Reasons recorded on every demo tier assignment.
DEMO_REASONS = [{"code": "demo", "text": "演示数据的初始分层"}]

T = TypeVar("T")


class DemoDataError(ValueError):
    """A seed file that cannot be loaded; the message names the file and line."""


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a UTF-8 CSV (a BOM is fine)."""
    if not path.is_file():
        raise DemoDataError(f"{path}: missing")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def _parse(path: Path, line: int, field: str, convert: Callable[[str], T], value: str) -> T:
    try:
        return convert(value)
    except (ValueError, InvalidOperation) as exc:
        raise DemoDataError(f"{path.name}:{line}: {field} {value!r}: {exc}") from exc


def _decimal(value: str) -> Decimal | None:
    return Decimal(value).quantize(Decimal("0.01")) if value else None


def _flag(value: str) -> bool:
    if value not in ("0", "1", ""):
        raise ValueError("expected 1 or 0")
    return value == "1"


def _integer(value: str) -> int | None:
    return int(value) if value else None


def _pairs(query: sa.Select[Any, Any]) -> dict[Any, Any]:
    """A two-column query as a dict, first column to second."""
    return {key: value for key, value in db.session.execute(query)}


def _insert(model: type[Any], rows: list[dict[str, Any]]) -> int:
    """Bulk-insert plain dicts (one executemany per model); returns how many."""
    if rows:
        db.session.execute(sa.insert(model), rows)
    return len(rows)


def load_demo(seed_dir: Path) -> dict[str, int]:
    """Insert what seed_dir's CSVs hold and the database lacks; returns how many rows of each kind were added.

    Flushes but does not commit. Records one `demo.load` audit event when anything was added.
    """
    seed_dir = Path(seed_dir)
    session = db.session
    now = utcnow()
    counts = {"streets": 0, "buildings": 0, "firms": 0, "metrics": 0, "assignments": 0, "visits": 0}
    # Officers, earlier tiers, requests and targets (demo/activity.py, which imports this module).
    from .activity import load_officers, load_requests, load_targets, load_tier_history, officer_for

    # Streets, by name.
    street_ids: dict[str, int] = _pairs(sa.select(Street.name, Street.id))
    path = seed_dir / "streets.csv"
    new_streets: dict[str, dict[str, Any]] = {}
    for _line, row in _rows(path):
        if row["name"] not in street_ids and row["name"] not in new_streets:
            new_streets[row["name"]] = {"name": row["name"], "region_code": row.get("region_code", "")}
    counts["streets"] = _insert(Street, list(new_streets.values()))
    if new_streets:
        street_ids = _pairs(sa.select(Street.name, Street.id))

    def street_id(path: Path, line: int, name: str) -> int:
        if name not in street_ids:
            raise DemoDataError(f"{path.name}:{line}: unknown street {name!r}")
        return street_ids[name]

    officers, counts["officers"] = load_officers(seed_dir, street_ids)

    # Buildings, by (street, name).
    building_query = sa.select(Building.street_id, Building.name, Building.id)
    building_ids = {(s, n): i for s, n, i in session.execute(building_query)}
    path = seed_dir / "buildings.csv"
    new_buildings: dict[tuple[int, str], dict[str, Any]] = {}
    for line, row in _rows(path):
        key = (street_id(path, line, row["street"]), row["name"])
        if key in building_ids or key in new_buildings:
            continue
        new_buildings[key] = {
            "street_id": key[0],
            "name": row["name"],
            "floor_area_m2": _parse(path, line, "floor_area_m2", _decimal, row.get("floor_area_m2", "")),
            "is_key": _parse(path, line, "is_key", _flag, row.get("is_key", "")),
            "is_star": _parse(path, line, "is_star", _flag, row.get("is_star", "")),
        }
    counts["buildings"] = _insert(Building, list(new_buildings.values()))
    if new_buildings:
        building_ids = {(s, n): i for s, n, i in session.execute(building_query)}

    codes: dict[str, str] = {}  # raw → validated; metrics repeat each code eight times

    def credit_code(path: Path, line: int, raw: str) -> str:
        if raw not in codes:
            codes[raw] = _parse(path, line, "credit_code", validate_credit_code, raw)
        return codes[raw]

    # Firms, by credit code; the initial tier rides along for new firms.
    firm_ids: dict[str, int] = _pairs(sa.select(Firm.credit_code, Firm.id))
    path = seed_dir / "firms.csv"
    new_firms: dict[str, dict[str, Any]] = {}
    tiers: dict[str, Tier] = {}
    for line, row in _rows(path):
        code = credit_code(path, line, row["credit_code"])
        tier = _parse(path, line, "tier", lambda v: Tier(v) if v else None, row.get("tier", ""))
        if tier is not None:
            tiers[code] = tier
        if code in firm_ids or code in new_firms:
            continue
        sid = street_id(path, line, row["street"])
        building_id = None
        if row.get("building"):
            building_id = building_ids.get((sid, row["building"]))
            if building_id is None:
                raise DemoDataError(f"{path.name}:{line}: no building {row['building']!r} in {row['street']}")
        industry = row.get("industry_code", "")
        new_firms[code] = {
            "credit_code": code,
            "name": row["name"],
            "chain": _parse(path, line, "chain", lambda v: Chain(v) if v else None, row.get("chain", "")),
            "industry_code": _parse(path, line, "industry_code", validate_industry_code, industry)
            if industry
            else None,
            "street_id": sid,
            "building_id": building_id,
            "established": _parse(
                path, line, "established", lambda v: dt.date.fromisoformat(v) if v else None, row.get("established", "")
            ),
            "registered_capital": _parse(path, line, "registered_capital", _decimal, row.get("registered_capital", "")),
            "above_scale": _parse(path, line, "above_scale", _flag, row.get("above_scale", "")),
            "is_high_tech": _parse(path, line, "is_high_tech", _flag, row.get("is_high_tech", "")),
            "is_specialised": _parse(path, line, "is_specialised", _flag, row.get("is_specialised", "")),
            "is_listed": _parse(path, line, "is_listed", _flag, row.get("is_listed", "")),
            "is_chain_leader": _parse(path, line, "is_chain_leader", _flag, row.get("is_chain_leader", "")),
            "is_abnormal": _parse(path, line, "is_abnormal", _flag, row.get("is_abnormal", "")),
            "has_serious_violation": _parse(
                path, line, "has_serious_violation", _flag, row.get("has_serious_violation", "")
            ),
            "status": _parse(path, line, "status", lambda v: FirmStatus(v or "active"), row.get("status", "")),
            "contact_name": row.get("contact_name") or None,
            "contact_phone": row.get("contact_phone") or None,
            "officer_id": officer_for(officers, row["street"], code),
            "current_tier": tier,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    counts["firms"] = _insert(Firm, list(new_firms.values()))
    if new_firms:
        firm_ids = _pairs(sa.select(Firm.credit_code, Firm.id))

    # Quarterly metrics, by (firm, quarter).
    metric_query = sa.select(QuarterlyMetric.firm_id, QuarterlyMetric.quarter)
    existing_metrics = {(firm_id, quarter) for firm_id, quarter in session.execute(metric_query)}
    path = seed_dir / "metrics.csv"
    new_metrics: dict[tuple[int, str], dict[str, Any]] = {}
    for line, row in _rows(path):
        code = credit_code(path, line, row["credit_code"])
        if code not in firm_ids:
            raise DemoDataError(f"{path.name}:{line}: no firm {code}")
        key = (firm_ids[code], _parse(path, line, "quarter", quarter_key, row["quarter"]))
        if key in existing_metrics or key in new_metrics:
            continue
        new_metrics[key] = {
            "firm_id": key[0],
            "quarter": key[1],
            "revenue": _parse(path, line, "revenue", _decimal, row.get("revenue", "")),
            "tax": _parse(path, line, "tax", _decimal, row.get("tax", "")),
            "employees": _parse(path, line, "employees", _integer, row.get("employees", "")),
            "rd_spend": _parse(path, line, "rd_spend", _decimal, row.get("rd_spend", "")),
            "floor_area_m2": _parse(path, line, "floor_area_m2", _decimal, row.get("floor_area_m2", "")),
            "land_mu": _parse(path, line, "land_mu", _decimal, row.get("land_mu", "")),
        }
    counts["metrics"] = _insert(QuarterlyMetric, list(new_metrics.values()))

    # Initial tier assignments for DEMO_QUARTER, by (firm, quarter).
    latest_quarter: dict[int, str] = {}
    existing_assignments: set[tuple[int, str]] = set()
    for firm_id, quarter in session.execute(sa.select(TierAssignment.firm_id, TierAssignment.quarter)):
        existing_assignments.add((firm_id, quarter))
        latest_quarter[firm_id] = max(quarter, latest_quarter.get(firm_id, ""))
    new_assignments = [
        {
            "firm_id": firm_ids[code],
            "quarter": DEMO_QUARTER,
            "tier": tier,
            "score": None,
            "reasons": [dict(reason) for reason in DEMO_REASONS],
            "method": AssignmentMethod.IMPORT,
            "decided_by_id": None,
            "created_at": now,
        }
        for code, tier in tiers.items()
        if (firm_ids[code], DEMO_QUARTER) not in existing_assignments
    ]
    counts["assignments"] = _insert(TierAssignment, new_assignments)
    counts["earlier_tiers"] = load_tier_history(seed_dir, firm_ids, now)

    # Firms that were already on the roster take the new tier as current unless a later quarter decided it.
    # (New firms got it in their insert.) Loaded as objects so the version counter and updated_at move.
    stale = [
        firm_ids[code]
        for code in tiers
        if code not in new_firms
        and (firm_ids[code], DEMO_QUARTER) not in existing_assignments
        and latest_quarter.get(firm_ids[code], "") < DEMO_QUARTER
    ]
    for firm in session.scalars(sa.select(Firm).where(Firm.id.in_(stale))) if stale else ():
        firm.current_tier = tiers[firm.credit_code]

    # One earlier visit for each newly loaded assessed firm, spread over its tier's cadence, so the
    # demo's follow-ups fall due over the coming weeks instead of all being overdue at once.
    today = dt.date.today()
    cadence = cadences()
    counts["visits"] = _insert(
        Visit,
        [
            {
                "firm_id": firm_ids[code],
                "officer_id": new_firms[code]["officer_id"],
                "visited_on": today - dt.timedelta(days=zlib.crc32(code.encode()) % cadence[tier] + 1),
                "kind": VisitKind.ONSITE,
                "participants": "",
                "notes": "演示数据：上次走访",
                "created_at": now,
            }
            for code, tier in tiers.items()
            if code in new_firms
        ],
    )

    officer_of = _pairs(sa.select(Firm.id, Firm.officer_id).where(Firm.officer_id.is_not(None)))
    counts["requests"] = load_requests(seed_dir, firm_ids, officer_of, today)
    counts["targets"] = load_targets(seed_dir)

    if any(counts.values()):
        record_event("demo.load", "database", None, after=counts)
    session.flush()
    return counts
