"""Streets (街道/镇, the offices firms belong to) and buildings (楼宇)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import Area

if TYPE_CHECKING:
    from .firms import Firm


class Street(Model):
    """A street or town office (属地); every firm belongs to exactly one."""

    __tablename__ = "streets"

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Chinese name as rosters spell it, e.g. 临平街道, 塘栖镇.
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)
    #: GB/T 2260 region code of the district plus the street's own digits, e.g. 330113001.
    region_code: Mapped[str] = mapped_column(sa.String(12), default="")

    buildings: Mapped[list[Building]] = relationship(back_populates="street", order_by="Building.name")

    def __repr__(self) -> str:
        return f"<Street {self.name}>"


class Building(Model):
    """An office building (楼宇) whose firms are counted together for 楼宇经济."""

    __tablename__ = "buildings"
    __table_args__ = (sa.UniqueConstraint("street_id", "name"),)

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Building name, unique within its street.
    name: Mapped[str] = mapped_column(sa.String(100))
    #: The street the building stands in.
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("streets.id"), index=True)
    #: Lettable floor area in m².
    floor_area_m2: Mapped[Decimal | None] = mapped_column(Area)
    #: 重点楼宇: a building the platform tracks closely.
    is_key: Mapped[bool] = mapped_column(default=False)
    #: 星级楼宇: carries a star rating from the district.
    is_star: Mapped[bool] = mapped_column(default=False)

    street: Mapped[Street] = relationship(back_populates="buildings")
    firms: Mapped[list[Firm]] = relationship(back_populates="building")

    def __repr__(self) -> str:
        return f"<Building {self.name}>"
