"""The four service tiers and the other small vocabularies of the domain."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """Service tiers, best first (≈ the A/B/C/D of 亩均效益评价)."""

    KEY = "key"  # 重点服务
    CULTIVATE = "cultivate"  # 辅导培育
    OBSERVE = "observe"  # 观察发展
    EXIT = "exit"  # 跟踪清退


#: The Chinese names rosters and exports use.
TIER_CHINESE = {
    Tier.KEY: "重点服务",
    Tier.CULTIVATE: "辅导培育",
    Tier.OBSERVE: "观察发展",
    Tier.EXIT: "跟踪清退",
}


class Chain(StrEnum):
    """The platform's three leading industry chains (产业链)."""

    FASHION = "fashion"  # 数字时尚
    TRADE = "trade"  # 数字贸易
    TECH = "tech"  # 数字科技
    OTHER = "other"  # 其他


CHAIN_CHINESE = {
    Chain.FASHION: "数字时尚",
    Chain.TRADE: "数字贸易",
    Chain.TECH: "数字科技",
    Chain.OTHER: "其他",
}


class FirmStatus(StrEnum):
    """Operating status of a firm."""

    ACTIVE = "active"  # 正常经营
    RELOCATING = "relocating"  # 迁出中
    DEREGISTERED = "deregistered"  # 已注销


class Role(StrEnum):
    """What a user may do; see domain.md's role table."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"  # 科室负责人
    OFFICER = "officer"  # 服务专员
    DISTRICT = "district"  # 街道/镇 viewer


class AssignmentMethod(StrEnum):
    """How a tier assignment was decided."""

    AUTO = "auto"
    MANUAL = "manual"
    IMPORT = "import"
