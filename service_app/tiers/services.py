"""The quarterly reassessment: propose, review (override), approve or discard; rule-set versions.

Services feed the plain-Python engine (domain/scoring.py) from the database in a few bulk
queries and store its answers; one transaction per call, committed by the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager

from ..audit import record_event
from ..bulk import collector_paused, insert_values
from ..domain.quarters import Quarter
from ..domain.scoring import (
    TIER_NAMES,
    TIER_ORDER,
    Decision,
    RuleSet,
    decide_tiers,
)
from ..domain.tiers import AssignmentMethod, Chain, Role, Tier
from ..domain.workdays import china_today
from ..extensions import db
from ..followups.services import schedule_followups
from ..models import (
    AuditEvent,
    Firm,
    Notification,
    ProposalItem,
    ProposalStatus,
    QuarterlyMetric,
    RuleSetVersion,
    TierAssignment,
    TierOverride,
    TierProposal,
    User,
)
from ..models.types import utcnow
from .facts import load_facts

FIRMS: sa.Table = Firm.__table__  # type: ignore[assignment]
METRICS: sa.Table = QuarterlyMetric.__table__  # type: ignore[assignment]
ITEMS: sa.Table = ProposalItem.__table__  # type: ignore[assignment]
ASSIGNMENTS: sa.Table = TierAssignment.__table__  # type: ignore[assignment]
AUDIT: sa.Table = AuditEvent.__table__  # type: ignore[assignment]
#: For INSERT … SELECT: SQLAlchemy reports its row count on psycopg only when asked to.
COUNT_ROWS = {"preserve_rowcount": True}
METRIC_FIELDS = ("revenue", "tax", "employees", "rd_spend", "floor_area_m2", "land_mu")


class TierError(Exception):
    """A reassessment step that cannot go ahead; `message` is for the user, `code` for the caller."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- Rule sets -------------------------------------------------------------------------------


def current_rule_set() -> RuleSetVersion:
    """The rule-set version in force; the built-in default becomes version 1 on first use."""
    latest = db.session.scalars(sa.select(RuleSetVersion).order_by(RuleSetVersion.version.desc()).limit(1)).first()
    if latest is None:
        latest = RuleSetVersion(version=1, settings=RuleSet().as_dict(), note="默认规则（domain.md）")
        db.session.add(latest)
        db.session.flush()
    return latest


def save_rule_set(rules: RuleSet, note: str, user: User | None) -> RuleSetVersion:
    """Check and save the rules as a new version; raises RuleSetError (from the engine)."""
    rules.check()
    previous = current_rule_set()
    version = RuleSetVersion(
        version=previous.version + 1, settings=rules.as_dict(), note=note[:500], created_by_id=user.id if user else None
    )
    db.session.add(version)
    db.session.flush()
    record_event(
        "ruleset.save", "rule_set", version.version, before=previous.settings, after=version.settings, user=user
    )
    return version


# --- Facts for the engine --------------------------------------------------------------------


def _holds_for_most_rows(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """`condition`, marked for SQLite's planner as true for most rows (likelihood 0.9).

    Without statistics SQLite walks an index to each matching row, which takes twice as long as
    reading the table when most rows match; PostgreSQL's planner knows from its statistics.
    """
    if db.session.connection().dialect.name != "sqlite":
        return condition
    return sa.func.likelihood(condition, sa.literal_column("0.9"), type_=sa.Boolean)


def data_fingerprint(quarter: Quarter) -> str:
    """A digest of the firms and the metrics a proposal for `quarter` reads: changes when they do."""
    window = [q.key for q in (quarter - 1).trailing(8)]
    firms = db.session.execute(
        sa.select(sa.func.count(FIRMS.c.id), sa.func.max(FIRMS.c.updated_at), sa.func.sum(FIRMS.c.version))
    ).one()
    metrics = db.session.execute(
        sa.select(
            sa.func.count(METRICS.c.id),
            sa.func.max(METRICS.c.id),
            *(sa.func.sum(METRICS.c[name]) for name in METRIC_FIELDS),
        ).where(_holds_for_most_rows(METRICS.c.quarter.in_(window)))
    ).one()
    overrides = db.session.execute(
        sa.select(sa.func.count(TierOverride.id), sa.func.max(TierOverride.id)).where(TierOverride.active.is_(True))
    ).one()
    text = "|".join(str(v) for v in (*firms, *metrics, *overrides))
    return hashlib.sha256(text.encode()).hexdigest()


# --- Proposals -------------------------------------------------------------------------------


def change_of(current: Tier | None, final: Tier) -> str:
    """up, down, new or same."""
    if current is None:
        return "new"
    if current == final:
        return "same"
    return "up" if TIER_ORDER.index(final) < TIER_ORDER.index(current) else "down"


def live_proposal(quarter: Quarter) -> TierProposal | None:
    """The draft or applied proposal of a quarter, if any."""
    return db.session.scalars(
        sa.select(TierProposal).where(
            TierProposal.quarter == quarter.key, TierProposal.status != ProposalStatus.DISCARDED
        )
    ).first()


def any_proposal(quarter: Quarter) -> bool:
    """True when a proposal of the quarter was ever made (even if discarded since)."""
    return db.session.scalar(sa.select(TierProposal.id).where(TierProposal.quarter == quarter.key).limit(1)) is not None


def _summary(decisions: list[Decision], changes: list[str]) -> dict[str, Any]:
    tiers = Counter(d.tier.value for d in decisions)
    changed = Counter(changes)
    return {
        "counts": {t.value: tiers.get(t.value, 0) for t in TIER_ORDER},
        "changes": {c: changed.get(c, 0) for c in ("up", "down", "new", "same")},
        "insufficient_data": sum(1 for d in decisions if d.insufficient_data),
    }


def reasons_json(reasons: list[dict[str, Any]]) -> bytes:
    """The reasons as stored, in UTF-8: compact JSON with the Chinese as characters rather than
    \\u escapes (a third less to write); read back, they are the same lists. orjson writes the
    30,000 lines of a proposal six times faster than the standard library."""
    return orjson.dumps(reasons)


ITEM_COLUMNS = (
    "proposal_id",
    "firm_id",
    "current_tier",
    "proposed_tier",
    "override_tier",
    "score",
    "pool",
    "percentile",
    "change",
    "insufficient_data",
    "reasons",
)


def _insert_items(proposal_id: int, lines: Iterable[tuple[Tier | None, Decision, str]]) -> None:
    """INSERT a proposal's lines, each (current tier, decision, change), as the driver takes them."""
    sqlite = db.session.connection().dialect.name == "sqlite"
    # What SQLAlchemy would send for Numeric(…, 4): SQLite a float, PostgreSQL a Decimal, each
    # the number rounded to four places (round() rounds exactly as formatting with .4f does).
    fixed: Callable[[float], Any] = (lambda x: round(x, 4)) if sqlite else (lambda x: Decimal(f"{x:.4f}"))
    values: dict[Tier | None, str | None] = {tier: tier.value for tier in Tier}
    values[None] = None
    insert_values(
        ITEMS,
        ITEM_COLUMNS,
        (
            (
                proposal_id,
                decision.firm_id,
                values[current],
                values[decision.tier],
                None,
                None if decision.score is None else fixed(decision.score),
                decision.pool,
                None if decision.percentile is None else fixed(decision.percentile),
                change,
                int(decision.insufficient_data) if sqlite else decision.insufficient_data,
                reasons_json(decision.reasons),
            )
            for current, decision, change in lines
        ),
        utf8=("reasons",),
    )


def propose_tiers(quarter: Quarter, user: User | None = None) -> TierProposal:
    """Compute every firm's proposed tier for `quarter`; a live proposal of the quarter is returned as it is."""
    existing = live_proposal(quarter)
    if existing is not None:
        return existing
    with collector_paused():
        return _make_proposal(quarter, user)


def _make_proposal(quarter: Quarter, user: User | None) -> TierProposal:
    rule_version = current_rule_set()
    rules = RuleSet.from_dict(rule_version.settings)
    facts = load_facts(quarter, with_previous=rules.hysteresis)
    decisions = decide_tiers(facts, rules, quarter)  # in the order of `facts`
    current = [f.current_tier for f in facts]
    changes = [change_of(tier, d.tier) for tier, d in zip(current, decisions, strict=True)]
    proposal = TierProposal(
        quarter=quarter.key,
        rule_set_id=rule_version.id,
        data_fingerprint=data_fingerprint(quarter),
        summary=_summary(decisions, changes),
        created_by_id=user.id if user else None,
    )
    db.session.add(proposal)
    db.session.flush()
    _insert_items(proposal.id, zip(current, decisions, changes, strict=True))
    record_event(
        "proposal.create", "proposal", proposal.id, after={"quarter": quarter.key, **proposal.summary}, user=user
    )
    return proposal


def recompute_proposal(proposal: TierProposal, user: User | None) -> TierProposal:
    """Discard a draft and compute it again from today's data (overrides set on review are kept,
    since they are TierOverride rows the engine reads)."""
    discard_proposal(proposal, user)
    db.session.flush()
    return propose_tiers(Quarter.parse(proposal.quarter), user)


def discard_proposal(proposal: TierProposal, user: User | None) -> None:
    """Drop a draft proposal."""
    if proposal.status != ProposalStatus.DRAFT:
        raise TierError(str(_l("Only a proposal under review can be discarded.")), "state")
    proposal.status = ProposalStatus.DISCARDED
    record_event("proposal.discard", "proposal", proposal.id, after={"quarter": proposal.quarter}, user=user)


def is_stale(proposal: TierProposal) -> bool:
    """True when firms, metrics or overrides changed after the proposal was computed."""
    return proposal.data_fingerprint != data_fingerprint(Quarter.parse(proposal.quarter))


def override_item(item: ProposalItem, tier: Tier, reason: str, expiry: str | None, user: User) -> TierOverride:
    """A supervisor's tier for one firm on review: recorded as an override (used by later
    proposals until its expiry quarter) and on this proposal's line."""
    proposal = db.session.get(TierProposal, item.proposal_id)
    if proposal is None or proposal.status != ProposalStatus.DRAFT:
        raise TierError(str(_l("Only a proposal under review can be changed.")), "state")
    if not reason.strip():
        raise TierError(str(_l("Give the reason for the override.")))
    if expiry and Quarter.parse(expiry) < Quarter.parse(proposal.quarter):
        raise TierError(str(_l("The expiry quarter cannot be before the proposal's quarter.")))
    for old in db.session.scalars(
        sa.select(TierOverride).where(TierOverride.firm_id == item.firm_id, TierOverride.active.is_(True))
    ):
        old.active = False
    override = TierOverride(
        firm_id=item.firm_id, tier=tier, reason=reason.strip()[:500], expiry_quarter=expiry, created_by_id=user.id
    )
    db.session.add(override)
    before = {"tier": (item.override_tier or item.proposed_tier).value}
    item.override_tier = tier
    item.change = change_of(item.current_tier, tier)
    expires = f"，有效至{expiry}" if expiry else ""
    text = f"人工调整为{TIER_NAMES[tier]}：{reason.strip()}{expires}"
    item.reasons = [{"code": "override", "text": text}, *item.reasons]
    db.session.flush()
    proposal.data_fingerprint = data_fingerprint(Quarter.parse(proposal.quarter))  # its own override is not "staleness"
    record_event(
        "proposal.override",
        "firm",
        item.firm_id,
        before=before,
        after={"tier": tier.value, "reason": reason, "expiry": expiry, "proposal": proposal.id},
        user=user,
    )
    return override


def apply_proposal(proposal: TierProposal, user: User | None, *, allow_stale: bool = False) -> dict[str, int]:
    """Approve: every firm's tier for the quarter, current tiers and audit events, in the caller's
    transaction. A proposal is applied once: a second approval, even at the same moment, is refused."""
    if proposal.status != ProposalStatus.DRAFT:
        raise TierError(str(_l("This proposal has already been applied or discarded.")), "state")
    if not allow_stale and is_stale(proposal):
        raise TierError(
            str(_l("Firms or metrics changed after this proposal was computed. Recompute it before approving.")),
            "stale",
        )
    with collector_paused():
        return _apply(proposal, user)


def _apply(proposal: TierProposal, user: User | None) -> dict[str, int]:
    """The approval's writes, once apply_proposal has checked that it may go ahead."""
    now = utcnow()
    proposals: sa.Table = TierProposal.__table__  # type: ignore[assignment]
    claimed: Any = db.session.execute(
        sa.update(proposals)
        .where(proposals.c.id == proposal.id, proposals.c.status == ProposalStatus.DRAFT.value)
        .values(status=ProposalStatus.APPLIED.value, applied_at=now, applied_by_id=user.id if user else None)
    )
    if claimed.rowcount != 1:
        raise TierError(str(_l("Someone else approved or discarded this proposal just now.")), "state")
    in_proposal = sa.select(ITEMS.c.firm_id).where(ITEMS.c.proposal_id == proposal.id)
    # An assignment for the quarter made otherwise (an import, say) is replaced.
    db.session.execute(
        sa.delete(ASSIGNMENTS).where(ASSIGNMENTS.c.quarter == proposal.quarter, ASSIGNMENTS.c.firm_id.in_(in_proposal))
    )
    user_id = user.id if user else None
    final = sa.func.coalesce(ITEMS.c.override_tier, ITEMS.c.proposed_tier)
    method = sa.case(
        (ITEMS.c.override_tier.is_not(None), AssignmentMethod.MANUAL.value), else_=AssignmentMethod.AUTO.value
    )
    # Copied inside the database: the reasons never travel through Python again.
    assigned: Any = db.session.execute(
        sa.insert(ASSIGNMENTS).from_select(
            ["firm_id", "quarter", "tier", "score", "reasons", "method", "decided_by_id", "proposal_id", "created_at"],
            sa.select(
                ITEMS.c.firm_id,
                sa.literal(proposal.quarter),
                final,
                ITEMS.c.score,
                ITEMS.c.reasons,
                method,
                sa.literal(user_id, sa.Integer),
                sa.literal(proposal.id),
                sa.literal(now, sa.DateTime(timezone=True)),
            ).where(ITEMS.c.proposal_id == proposal.id),
        ),
        execution_options=COUNT_ROWS,
    )
    # A firm's current tier is its latest applied assignment (a later quarter's stays current).
    later = ASSIGNMENTS.alias("later")
    latest_quarter = sa.select(sa.func.max(later.c.quarter)).where(later.c.firm_id == FIRMS.c.id).scalar_subquery()
    current = (
        sa.select(ASSIGNMENTS.c.tier)
        .where(ASSIGNMENTS.c.firm_id == FIRMS.c.id, ASSIGNMENTS.c.quarter == latest_quarter)
        .scalar_subquery()
    )
    db.session.execute(sa.update(FIRMS).where(FIRMS.c.id.in_(in_proposal)).values(current_tier=current, updated_at=now))
    audited = _audit_tier_changes(proposal, user_id, now)
    # Follow-up cadences change with the new tiers (rescheduled, created or cancelled).
    schedule_followups(china_today())
    counts = {"firms": assigned.rowcount, "changed": audited}
    record_event("proposal.apply", "proposal", proposal.id, after={"quarter": proposal.quarter, **counts}, user=user)
    db.session.expire_all()
    return counts


def _audit_tier_changes(proposal: TierProposal, user_id: int | None, now: dt.datetime) -> int:
    """An audit event per firm whose tier the proposal changes, written by one INSERT … SELECT.

    The before and after documents depend only on the tiers, so each is one of a handful of
    JSON literals the database picks by tier; no line travels through Python.
    """

    def by_tier(column: sa.ColumnElement[Any], document: Callable[[str | None], dict[str, Any]]) -> Any:
        tier = sa.type_coerce(column, sa.String)
        return sa.case(
            {t.value: sa.literal(document(t.value), sa.JSON) for t in Tier},
            value=tier,
            else_=sa.literal(document(None), sa.JSON),
        )

    final = sa.func.coalesce(ITEMS.c.override_tier, ITEMS.c.proposed_tier)
    inserted: Any = db.session.execute(
        sa.insert(AUDIT).from_select(
            ["created_at", "user_id", "action", "object_type", "object_id", "before", "after"],
            sa.select(
                sa.literal(now, sa.DateTime(timezone=True)),
                sa.literal(user_id, sa.Integer),
                sa.literal("firm.tier"),
                sa.literal("firm"),
                sa.cast(ITEMS.c.firm_id, sa.String),
                by_tier(ITEMS.c.current_tier, lambda tier: {"current_tier": tier}),
                by_tier(
                    final,
                    lambda tier: {"current_tier": tier, "_quarter": proposal.quarter, "_proposal": proposal.id},
                ),
            )
            .where(
                ITEMS.c.proposal_id == proposal.id,
                sa.or_(ITEMS.c.current_tier.is_(None), final != ITEMS.c.current_tier),
            )
            .order_by(ITEMS.c.id),
        ),
        execution_options=COUNT_ROWS,
    )
    return int(inserted.rowcount)


def notify_supervisors(proposal: TierProposal) -> int:
    """Tell every active supervisor and admin in the app that a proposal waits for review; once a day."""
    today = utcnow().date()
    existing = set(
        db.session.scalars(
            sa.select(Notification.user_id).where(
                Notification.object_type == "proposal",
                Notification.object_id == str(proposal.id),
                Notification.kind == "proposal.ready",
                Notification.day == today,
            )
        )
    )
    made = 0
    for user in db.session.scalars(
        sa.select(User).where(User.role.in_((Role.SUPERVISOR, Role.ADMIN)), User.active.is_(True))
    ):
        if user.id in existing:
            continue
        db.session.add(
            Notification(
                user_id=user.id,
                object_type="proposal",
                object_id=str(proposal.id),
                kind="proposal.ready",
                day=today,
                message=f"{proposal.quarter} 企业分层建议已生成，请审核",
                link=f"/tiers/proposals/{proposal.id}",
            )
        )
        made += 1
    return made


def explain(firm: Firm, quarter: Quarter | None = None) -> dict[str, Any]:
    """Why a firm has its tier: the assignment of the quarter (or its latest), else the latest draft."""
    query = sa.select(TierAssignment).where(TierAssignment.firm_id == firm.id)
    if quarter is not None:
        query = query.where(TierAssignment.quarter == quarter.key)
    assignment = db.session.scalars(query.order_by(TierAssignment.quarter.desc()).limit(1)).first()
    if assignment is not None:
        return {
            "quarter": assignment.quarter,
            "tier": assignment.tier.value,
            "status": "applied",
            "score": None if assignment.score is None else str(assignment.score),
            "reasons": assignment.reasons,
        }
    item_query = (
        sa.select(ProposalItem, TierProposal.quarter)
        .join(TierProposal, TierProposal.id == ProposalItem.proposal_id)
        .where(ProposalItem.firm_id == firm.id, TierProposal.status == ProposalStatus.DRAFT)
    )
    if quarter is not None:
        item_query = item_query.where(TierProposal.quarter == quarter.key)
    row = db.session.execute(item_query.order_by(TierProposal.quarter.desc()).limit(1)).first()
    if row is None:
        raise TierError(str(_l("No tier has been assessed for this firm yet.")), "missing")
    item, item_quarter = row
    return {
        "quarter": item_quarter,
        "tier": item.final_tier.value,
        "status": "proposed",
        "score": None if item.score is None else str(item.score),
        "reasons": item.reasons,
    }


# --- Review and reports ----------------------------------------------------------------------


def transition_matrix(proposal: TierProposal) -> dict[str, dict[str, int]]:
    """Counts of firms by current tier (rows, 'none' for unassessed) × final tier (columns)."""
    final = sa.func.coalesce(ITEMS.c.override_tier, ITEMS.c.proposed_tier, type_=sa.String)
    current = sa.func.coalesce(ITEMS.c.current_tier, "none", type_=sa.String)
    matrix: dict[str, dict[str, int]] = {}
    for row_tier, column_tier, count in db.session.execute(
        sa.select(current, final, sa.func.count()).where(ITEMS.c.proposal_id == proposal.id).group_by(current, final)
    ):
        matrix.setdefault(row_tier, {})[column_tier] = count
    return matrix


def review_query(
    proposal: TierProposal, *, street_id: int | None, chain: str, change: str, current: str, final: str, q: str
) -> sa.Select[Any]:
    """The proposal's lines with their firms, filtered, ordered by change then name."""
    query = (
        sa.select(ProposalItem)
        .join(Firm, Firm.id == ProposalItem.firm_id)
        .options(contains_eager(ProposalItem.firm).selectinload(Firm.street))
        .where(ProposalItem.proposal_id == proposal.id)
    )
    if street_id:
        query = query.where(Firm.street_id == street_id)
    if chain in Chain.__members__.values():
        query = query.where(Firm.chain == Chain(chain))
    if change in ("up", "down", "new", "same"):
        query = query.where(ProposalItem.change == change)
    if current == "none":
        query = query.where(ProposalItem.current_tier.is_(None))
    elif current in Tier.__members__.values():
        query = query.where(ProposalItem.current_tier == Tier(current))
    if final in Tier.__members__.values():
        query = query.where(sa.func.coalesce(ProposalItem.override_tier, ProposalItem.proposed_tier) == final)
    if q:
        query = query.where(
            sa.or_(Firm.name.contains(q, autoescape=True), Firm.credit_code.contains(q.upper(), autoescape=True))
        )
    order = sa.case({"down": 0, "up": 1, "new": 2}, value=ProposalItem.change, else_=3)
    return query.order_by(order, Firm.name)


def quarter_transitions(first: Quarter, second: Quarter, scope: sa.ColumnElement[bool]) -> list[Any]:
    """Firms (in scope) with their tier in two quarters: rows of (firm, tier_first, tier_second)."""
    a = ASSIGNMENTS.alias("a")
    b = ASSIGNMENTS.alias("b")
    return list(
        db.session.execute(
            sa.select(Firm, a.c.tier, b.c.tier)
            .outerjoin(a, sa.and_(a.c.firm_id == Firm.id, a.c.quarter == first.key))
            .outerjoin(b, sa.and_(b.c.firm_id == Firm.id, b.c.quarter == second.key))
            .where(scope, sa.or_(a.c.tier.is_not(None), b.c.tier.is_not(None)))
            .order_by(Firm.name)
        )
    )
