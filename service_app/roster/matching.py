"""Matching a roster against what is stored: streets, buildings and officers by name, stored firms
and metric rows by credit code and quarter, and comparing values as stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..domain.text import clean_text
from ..domain.tiers import Role
from ..extensions import db
from ..firms.services import FIRM_FIELDS
from ..models import Building, Firm, QuarterlyMetric, Street, User, user_streets
from .cells import CellError
from .columns import METRIC_COLUMNS

#: Credit codes or firm ids per IN (…) query.
CHUNK = 500
#: The stored firm columns an import reads and may set.
FIRM_STORED_COLUMNS = tuple(f for f in FIRM_FIELDS if f != "credit_code_exception")


class Lookups:
    """Streets, buildings and active officers by name, loaded once per plan."""

    def __init__(self) -> None:
        # Plain rows, not ORM objects: a plan runs three times per import (upload, preview, confirm).
        self.streets: dict[str, int] = dict(db.session.execute(sa.select(Street.name, Street.id)).all())  # type: ignore[arg-type]
        self.street_names = {v: k for k, v in self.streets.items()}
        buildings = db.session.execute(sa.select(Building.street_id, Building.name, Building.id))
        self.buildings = {(street_id, name): building_id for street_id, name, building_id in buildings}
        self.building_street = {bid: sid for (sid, _), bid in self.buildings.items()}
        self.officers: dict[str, int | None] = {}  # None: two officers share the name
        officers = db.session.execute(
            sa.select(User.id, User.username, User.display_name).where(User.role == Role.OFFICER, User.active.is_(True))
        ).all()
        for user_id, username, _ in officers:
            self.officers[username] = user_id
        for user_id, username, display_name in officers:
            if display_name and display_name != username:
                taken = display_name in self.officers and self.officers[display_name] != user_id
                self.officers[display_name] = None if taken else user_id
        self.officer_streets: dict[int, set[int]] = {}
        for user_id, street_id in db.session.execute(sa.select(user_streets.c.user_id, user_streets.c.street_id)):
            self.officer_streets.setdefault(user_id, set()).add(street_id)

    def street_id(self, value: object) -> int:
        if isinstance(value, str) and value in self.streets:  # the usual case, exact
            return self.streets[value]
        name = clean_text(value).replace(" ", "")
        if name in self.streets:
            return self.streets[name]
        candidates = [sid for sname, sid in self.streets.items() if sname.startswith(name) or name.startswith(sname)]
        if len(candidates) == 1 and len(name) >= 2:
            return candidates[0]
        raise CellError(f"街道“{name}”不在街道列表中，请使用系统中的街道名称（如 临平街道、塘栖镇）")

    def building_id(self, value: object, street_id: int) -> int:
        name = clean_text(value)
        if (street_id, name) in self.buildings:
            return self.buildings[(street_id, name)]
        raise CellError(
            f"楼宇“{name}”不在{self.street_names.get(street_id, '该街道')}的楼宇列表中，请先由管理员添加该楼宇"
        )

    def officer_id(self, value: object, street_id: int) -> int:
        name = clean_text(value)
        if name not in self.officers:
            raise CellError(f"服务专员“{name}”不是系统中在用的服务专员账号")
        user_id = self.officers[name]
        if user_id is None:
            raise CellError(f"有多名服务专员叫“{name}”，请填写其登录名")
        if street_id not in self.officer_streets.get(user_id, set()):
            raise CellError(f"服务专员“{name}”不负责{self.street_names.get(street_id, '该街道')}")
        return user_id


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing_firms(codes: list[str]) -> dict[str, dict[str, Any]]:
    """Stored firms by credit code, as plain dicts (no ORM objects: apply writes with Core)."""
    table = Firm.__table__
    columns = [table.c.id, table.c.version, table.c.credit_code_exception] + [table.c[n] for n in FIRM_STORED_COLUMNS]
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(codes):
        for row in db.session.execute(sa.select(*columns).where(table.c.credit_code.in_(chunk))).mappings():
            found[row["credit_code"]] = dict(row)
    return found


def existing_metrics(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    table = QuarterlyMetric.__table__
    columns = [table.c.firm_id, table.c.quarter, table.c.import_batch_id] + [table.c[name] for name in METRIC_COLUMNS]
    found: dict[tuple[int, str], dict[str, Any]] = {}
    by_quarter: dict[str, list[int]] = {}
    for firm_id, quarter in pairs:
        by_quarter.setdefault(quarter, []).append(firm_id)
    for quarter, firm_ids in by_quarter.items():
        for chunk in chunks(firm_ids):
            query = sa.select(*columns).where(table.c.quarter == quarter, table.c.firm_id.in_(chunk))
            for row in db.session.execute(query).mappings():
                # The writing batch too: undoing a later batch hands the row back to it.
                before = {name: row[name] for name in METRIC_COLUMNS}
                before["import_batch_id"] = row["import_batch_id"]
                found[(row["firm_id"], row["quarter"])] = before
    return found


def same_value(stored: object, new: object) -> bool:
    """Equal as stored: decimals by value, enums by value, dates by day."""
    if stored is None or new is None:
        return stored is None and new is None
    if isinstance(new, Decimal | float) or isinstance(stored, Decimal | float):
        try:
            return Decimal(str(stored)) == Decimal(str(new))
        except ArithmeticError:
            return False
    if hasattr(stored, "value") or hasattr(new, "value"):
        return getattr(stored, "value", stored) == getattr(new, "value", new)
    if isinstance(stored, dt.datetime):
        stored = stored.date()
    return bool(stored == new)
