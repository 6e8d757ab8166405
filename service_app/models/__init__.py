"""The data model, one module per aggregate; import models from here."""

from .audit import AuditEvent
from .firms import Firm, QuarterlyMetric
from .imports import ImportBatch, ImportItem, ImportMapping, ImportMode, ImportStatus, ImportUpload, ItemAction
from .places import Building, Street
from .tiers import TierAssignment
from .users import User, user_streets

__all__ = [
    "AuditEvent",
    "Building",
    "Firm",
    "ImportBatch",
    "ImportItem",
    "ImportMapping",
    "ImportMode",
    "ImportStatus",
    "ImportUpload",
    "ItemAction",
    "QuarterlyMetric",
    "Street",
    "TierAssignment",
    "User",
    "user_streets",
]
