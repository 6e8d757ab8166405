"""Small factories for tests: valid credit codes, streets, users and firms."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from stdnum.cn import uscc

from service_app.admin.services import create_user
from service_app.domain.tiers import FirmStatus, Role
from service_app.extensions import db
from service_app.models import Firm, QuarterlyMetric, Street, User

PASSWORD = "correct-horse-battery"
_serial = itertools.count(1)


def credit_code(serial: int | None = None, region: str = "330113") -> str:
    """A valid 18-character credit code with a unique organisation part."""
    number = next(_serial) if serial is None else serial
    body = f"91{region}{number:09d}"
    return body + uscc.calc_check_digit(body)


def make_street(name: str, region_code: str = "330113001") -> Street:
    """A street, or the existing one of that name."""
    street = db.session.query(Street).filter_by(name=name).one_or_none()
    if street is None:
        street = Street(name=name, region_code=region_code)
        db.session.add(street)
        db.session.flush()
    return street


def make_user(username: str, role: Role | str, streets: list[Street] | None = None, password: str = PASSWORD) -> User:
    """A user through the same service the admin pages use."""
    return create_user(username, password, Role(role), streets or [], display_name=username)


def make_firm(street: Street, **values: Any) -> Firm:
    """A firm with sensible defaults; any column may be overridden."""
    defaults: dict[str, Any] = {
        "credit_code": credit_code(),
        "name": f"杭州测试{next(_serial)}号科技有限公司",
        "street_id": street.id,
        "status": FirmStatus.ACTIVE,
    }
    defaults.update(values)
    firm = Firm(**defaults)
    db.session.add(firm)
    db.session.flush()
    return firm


def add_metric(firm: Firm, quarter: str, revenue: str = "100.00", tax: str = "5.00", **values: Any) -> QuarterlyMetric:
    """One quarter of figures for a firm."""
    metric = QuarterlyMetric(firm_id=firm.id, quarter=quarter, revenue=Decimal(revenue), tax=Decimal(tax), **values)
    db.session.add(metric)
    db.session.flush()
    return metric
