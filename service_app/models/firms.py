"""Firms (市场主体) on the roster and their quarterly metrics."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.tiers import Chain, FirmStatus, Tier
from ..extensions import Model
from .places import Building, Street
from .types import Area, MoneyValue, Timestamp, enum_check, enum_column, utcnow

if TYPE_CHECKING:
    from .tiers import TierAssignment
    from .users import User


class Firm(Model):
    """A firm on the platform's roster."""

    __tablename__ = "firms"
    __table_args__ = (
        # Comparisons, not IN lists: the imports insert firms by the tens of thousands (see enum_check).
        enum_check("chain", Chain),
        enum_check("status", FirmStatus),
        enum_check("current_tier", Tier),
        # The firm list of a street office or officer: its streets' firms in name order, read
        # straight off the index a page at a time (it also serves every street_id lookup).
        sa.Index("ix_firms_street_name", "street_id", "name", "id"),
        # The few codes accepted despite a failing check character, which every import reads.
        sa.Index(
            "ix_firms_code_exceptions",
            "credit_code",
            sqlite_where=sa.text("credit_code_exception IS NOT NULL"),
            postgresql_where=sa.text("credit_code_exception IS NOT NULL"),
        ),
    )

    #: Surrogate key; URLs use it so credit codes stay out of logs.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: 统一社会信用代码, normalised (half-width, upper-case, 18 characters).
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    #: Why an admin accepted a code that fails the check character; empty for valid codes.
    credit_code_exception: Mapped[str | None] = mapped_column(sa.Text)
    #: Old 15-digit 注册号 from pre-2015 rosters, kept apart from the credit code.
    registration_number: Mapped[str | None] = mapped_column(sa.String(15))
    #: 企业名称.
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    #: 所属产业链 (not indexed: four values, none rare enough for an index to help).
    chain: Mapped[Chain | None] = mapped_column(enum_column(Chain, check=False))
    #: 国民经济行业代码 (GB/T 4754-2017), e.g. C3511.
    industry_code: Mapped[str | None] = mapped_column(sa.String(5))
    #: 属地: the street office that owns the firm.
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("streets.id"))
    #: 所在楼宇, when the firm rents office space.
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id"), index=True)
    #: 成立日期.
    established: Mapped[dt.date | None]
    #: 注册资本 in 万元.
    registered_capital: Mapped[MoneyValue]
    #: 规上: above designated size (ranked in its own pool).
    above_scale: Mapped[bool] = mapped_column(default=False)
    #: The year the firm became 规上, when known (new 规上 firms are protected from exit that year).
    above_scale_since: Mapped[int | None]
    #: 高新技术企业.
    is_high_tech: Mapped[bool] = mapped_column(default=False)
    #: 专精特新 (specialised, refined, distinctive, innovative).
    is_specialised: Mapped[bool] = mapped_column(default=False)
    #: 上市企业.
    is_listed: Mapped[bool] = mapped_column(default=False)
    #: 链主企业: leads its industry chain.
    is_chain_leader: Mapped[bool] = mapped_column(default=False)
    #: 经营异常名录: on the abnormal-operation list.
    is_abnormal: Mapped[bool] = mapped_column(default=False)
    #: 严重违法 or a serious safety/environment violation.
    has_serious_violation: Mapped[bool] = mapped_column(default=False)
    #: active, relocating or deregistered (not indexed, like chain).
    status: Mapped[FirmStatus] = mapped_column(enum_column(FirmStatus, check=False), default=FirmStatus.ACTIVE)
    #: 联系人.
    contact_name: Mapped[str | None] = mapped_column(sa.String(64))
    #: 联系电话.
    contact_phone: Mapped[str | None] = mapped_column(sa.String(32))
    #: Free notes an officer keeps.
    notes: Mapped[str | None] = mapped_column(sa.Text)
    #: 服务专员 assigned to the firm.
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: Tier of the latest applied assignment; empty until first assessed (not indexed, like chain).
    current_tier: Mapped[Tier | None] = mapped_column(enum_column(Tier, check=False))
    #: Optimistic-locking counter: an edit based on an older version is refused.
    version: Mapped[int] = mapped_column(default=1)
    #: When the firm was added.
    created_at: Mapped[Timestamp]
    #: When the firm was last changed.
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    #: The import batch that created the firm (no foreign key, like ImportItem's); undo deletes by it.
    import_batch_id: Mapped[int | None] = mapped_column(index=True)

    street: Mapped[Street] = relationship()
    building: Mapped[Building | None] = relationship(back_populates="firms")
    officer: Mapped[User | None] = relationship()
    metrics: Mapped[list[QuarterlyMetric]] = relationship(
        back_populates="firm", order_by="QuarterlyMetric.quarter", cascade="all, delete-orphan"
    )
    assignments: Mapped[list[TierAssignment]] = relationship(
        back_populates="firm", order_by="TierAssignment.quarter", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Firm {self.credit_code} {self.name}>"


class QuarterlyMetric(Model):
    """One firm's figures for one quarter; money in 万元, exact decimals."""

    __tablename__ = "quarterly_metrics"
    __table_args__ = (
        sa.UniqueConstraint("firm_id", "quarter"),
        # By quarter, carrying the sums the dashboard adds up: its quarterly totals read this index
        # alone, in quarter order, instead of every row of the table.
        sa.Index("ix_quarterly_metrics_quarter_figures", "quarter", "firm_id", "revenue", "tax", "rd_spend"),
    )

    #: Surrogate key.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The firm reporting.
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id", ondelete="CASCADE"))
    #: Quarter key, `2026Q3`.
    quarter: Mapped[str] = mapped_column(sa.String(6))
    #: 营业收入 in 万元, for the quarter.
    revenue: Mapped[MoneyValue]
    #: 税收 (taxes paid) in 万元, for the quarter.
    tax: Mapped[MoneyValue]
    #: 从业人数 at quarter end.
    employees: Mapped[int | None]
    #: 研发投入 in 万元, for the quarter.
    rd_spend: Mapped[MoneyValue]
    #: 使用面积 in m² (firms in buildings).
    floor_area_m2: Mapped[Decimal | None] = mapped_column(Area)
    #: 用地面积 in 亩 (firms on their own land).
    land_mu: Mapped[Decimal | None] = mapped_column(Area)
    #: The import batch that last wrote the row: undoing an earlier batch refuses once a later one has.
    import_batch_id: Mapped[int | None]

    firm: Mapped[Firm] = relationship(back_populates="metrics")

    def __repr__(self) -> str:
        return f"<QuarterlyMetric {self.firm_id} {self.quarter}>"
