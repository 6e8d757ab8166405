"""The data model, one module per aggregate; import models from here."""

from .audit import AuditEvent
from .firms import Firm, QuarterlyMetric
from .places import Building, Street
from .tiers import TierAssignment
from .users import User, user_streets

__all__ = [
    "AuditEvent",
    "Building",
    "Firm",
    "QuarterlyMetric",
    "Street",
    "TierAssignment",
    "User",
    "user_streets",
]
