"""The data model, one module per aggregate; import models from here."""

from .audit import AuditEvent
from .firms import Firm, QuarterlyMetric
from .imports import ImportBatch, ImportItem, ImportMapping, ImportMode, ImportStatus, ImportUpload, ItemAction
from .notifications import Notification
from .places import Building, Street
from .tiers import ProposalItem, ProposalStatus, RuleSetVersion, TierAssignment, TierOverride, TierProposal
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
    "Notification",
    "ProposalItem",
    "ProposalStatus",
    "QuarterlyMetric",
    "RuleSetVersion",
    "Street",
    "TierAssignment",
    "TierOverride",
    "TierProposal",
    "User",
    "user_streets",
]
