"""The data model, one module per aggregate; import models from here."""

from .audit import AuditEvent
from .exports import ExportKind, ExportPack, PackStatus
from .firms import Firm, QuarterlyMetric
from .followups import (
    CalendarDay,
    ExitChecklistItem,
    FirmRequest,
    Followup,
    RequestCategoryLimit,
    RequestStep,
    TierCadence,
    Visit,
)
from .imports import ImportBatch, ImportItem, ImportMapping, ImportMode, ImportStatus, ImportUpload, ItemAction
from .jobs import JobRun, JobRunStatus
from .notifications import Notification
from .places import Building, Street
from .ratelimits import RateLimitCounter
from .targets import IndicatorTarget
from .tiers import ProposalItem, ProposalStatus, RuleSetVersion, TierAssignment, TierOverride, TierProposal
from .users import User, user_streets
from .versions import DataVersion

__all__ = [
    "AuditEvent",
    "Building",
    "CalendarDay",
    "DataVersion",
    "ExitChecklistItem",
    "ExportKind",
    "ExportPack",
    "Firm",
    "FirmRequest",
    "Followup",
    "ImportBatch",
    "ImportItem",
    "ImportMapping",
    "ImportMode",
    "ImportStatus",
    "ImportUpload",
    "IndicatorTarget",
    "ItemAction",
    "JobRun",
    "JobRunStatus",
    "Notification",
    "PackStatus",
    "ProposalItem",
    "ProposalStatus",
    "QuarterlyMetric",
    "RateLimitCounter",
    "RequestCategoryLimit",
    "RequestStep",
    "RuleSetVersion",
    "Street",
    "TierAssignment",
    "TierCadence",
    "TierOverride",
    "TierProposal",
    "User",
    "Visit",
    "user_streets",
]
