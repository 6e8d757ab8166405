"""Column types and defaults shared by the models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy.orm import mapped_column


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


#: Money in 万元 (10,000 CNY), exact to two decimals.
Money = sa.Numeric(14, 2)
#: Areas: m² and 亩, two decimals.
Area = sa.Numeric(12, 2)

Timestamp = Annotated[dt.datetime, mapped_column(sa.DateTime(timezone=True), default=utcnow)]
MoneyValue = Annotated[Decimal | None, mapped_column(Money)]


def enum_column(enum: type[StrEnum], name: str | None = None, *, check: bool = True) -> sa.Enum:
    """Store a StrEnum by its value as VARCHAR with a CHECK, the same on SQLite and PostgreSQL.

    `name` names the CHECK; give one when a table has two columns of the same enum. With
    `check=False` the table declares the CHECK itself, with `enum_check`.
    """
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=check,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=name or enum.__name__.lower(),
    )


def enum_check(column: str, enum: type[StrEnum], name: str | None = None) -> sa.CheckConstraint:
    """The CHECK of an enum column as comparisons joined by OR, for tables written in bulk.

    SQLite evaluates the `column IN (…)` CHECK that sa.Enum writes by building a temporary table
    for every row inserted: ≈2 µs a row per column, most of the firms insert of a 30,000-row
    import. Comparisons cost next to nothing; a NULL passes either way.
    """
    allowed = " OR ".join(f"{column} = '{member.value}'" for member in enum)
    return sa.CheckConstraint(allowed, name=name or enum.__name__.lower())
