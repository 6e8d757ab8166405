"""The platform's annual indicator targets, set by an admin (e.g. revenue growth ≥ 10%)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.indicators import IndicatorMetric
from ..extensions import Model
from .types import enum_column, utcnow

if TYPE_CHECKING:
    from .users import User


class IndicatorTarget(Model):
    """One indicator's target for one year; the dashboard colours the actual against it."""

    __tablename__ = "indicator_targets"
    __table_args__ = (sa.UniqueConstraint("year", "metric"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The calendar year the target is for.
    year: Mapped[int]
    #: What is measured (year-to-date growth or intensity, in percent).
    metric: Mapped[IndicatorMetric] = mapped_column(enum_column(IndicatorMetric, "indicatormetric"))
    #: The name shown on the dashboard, e.g. 平台营业收入增长.
    name: Mapped[str] = mapped_column(sa.String(100))
    #: The target in percent: the actual must reach at least this.
    threshold: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2))
    #: Who last set it.
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: When it was last set.
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    updated_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<IndicatorTarget {self.year} {self.metric} ≥ {self.threshold}>"
