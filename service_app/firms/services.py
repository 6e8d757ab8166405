"""Business rules for firms: searching within scope, creating and editing with audit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, joinedload, selectinload

from ..audit import diff, record_event, snapshot
from ..domain.credit_codes import could_be_part_of_a_code
from ..domain.tiers import Chain, FirmStatus, Tier
from ..domain.workdays import china_today
from ..extensions import db
from ..models import AuditEvent, Building, Firm, FirmRequest, QuarterlyMetric, TierAssignment, User, Visit
from ..permissions import editable_firm_fields
from ..scoping import firm_scope_parameter, firm_scope_values
from ..security import db_id

#: Firm fields set through forms, imports and the CLI (not keys, tiers or bookkeeping).
FIRM_FIELDS: tuple[str, ...] = (
    "credit_code",
    "credit_code_exception",
    "registration_number",
    "name",
    "chain",
    "industry_code",
    "street_id",
    "building_id",
    "established",
    "registered_capital",
    "above_scale",
    "is_high_tech",
    "is_specialised",
    "is_listed",
    "is_chain_leader",
    "is_abnormal",
    "has_serious_violation",
    "status",
    "contact_name",
    "contact_phone",
    "notes",
    "officer_id",
)
FLAG_FIELDS = (
    "above_scale",
    "is_high_tech",
    "is_specialised",
    "is_listed",
    "is_chain_leader",
    "is_abnormal",
    "has_serious_violation",
)
SORTS = {
    "name": Firm.name,
    "credit_code": Firm.credit_code,
    "street": Firm.street_id,
    "tier": Firm.current_tier,
    "updated": Firm.updated_at,
}
NO_TIER = "none"


class FirmPermissionError(PermissionError):
    """The user tried to change fields its role may not."""


class StaleEditError(Exception):
    """Someone saved the firm after this edit began; `changes` says what they changed."""

    def __init__(self, firm: Firm, changes: list[dict[str, Any]]) -> None:
        super().__init__(f"firm {firm.id} changed since version was read")
        self.firm = firm
        self.changes = changes


@dataclass
class FirmFilters:
    """What the firm list is narrowed and ordered by."""

    q: str = ""
    tier: str = ""
    street_id: int | None = None
    chain: str = ""
    building_id: int | None = None
    status: str = ""
    flags: list[str] = field(default_factory=list)
    sort: str = "name"
    descending: bool = False


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filters_from_args(args: Mapping[str, Any]) -> FirmFilters:
    """The list page's filters from query-string arguments (a MultiDict: `flag` may repeat)."""
    getlist = getattr(args, "getlist", lambda key: [args[key]] if key in args else [])
    return FirmFilters(
        q=str(args.get("q", ""))[:100],
        tier=str(args.get("tier", "")),
        street_id=_int_or_none(args.get("street")),
        chain=str(args.get("chain", "")),
        building_id=_int_or_none(args.get("building")),
        status=str(args.get("status", "")),
        flags=[f for f in getlist("flag") if f in FLAG_FIELDS],
        sort=str(args.get("sort", "name")),
        descending=args.get("order") == "desc",
    )


def _int_or_none(value: object) -> int | None:
    """An id from the query string, or None when absent or beyond what a database integer holds."""
    try:
        return db_id(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _like_operator(text: str) -> str:
    """LIKE for text without letters that have case (Chinese, digits), which matches the same and
    PostgreSQL runs about ten times faster than ILIKE on Chinese names (ILIKE lower-cases every
    name it tests); ILIKE otherwise, so that case is ignored."""
    return "like" if text.lower() == text.upper() else "ilike"


def contains_pattern(text: str) -> str:
    """The LIKE pattern (escaped with a backslash) of what contains `text`."""
    return f"%{_escape_like(text)}%"


def _filter_plan(user: User | None, filters: FirmFilters) -> tuple[tuple[tuple[str, ...], ...], dict[str, Any]]:
    """The firm list's WHERE as its shape (which clauses, each a tuple naming it) and the values
    the clauses compare with: two lists of the same shape share one statement."""
    shape: list[tuple[str, ...]] = []
    values: dict[str, Any] = {}
    if user is not None:
        scope = firm_scope_values(user)
        if scope is None:
            shape.append(("no_street",))
        elif scope:
            shape.append(("streets",))
            values.update(scope)
    text = filters.q.strip()
    if text:
        values["name_pattern"] = contains_pattern(text)
        if could_be_part_of_a_code(text):
            values["code_pattern"] = contains_pattern(text.upper())
            shape.append(("name_or_code", _like_operator(text), _like_operator(text.upper())))
        else:  # a name, then: read from the (street, name) index alone, not each firm's row
            shape.append(("name", _like_operator(text)))
    if filters.tier == NO_TIER:
        shape.append(("no_tier",))
    elif filters.tier in Tier.__members__.values():
        shape.append(("tier",))
        values["tier"] = Tier(filters.tier)
    if filters.street_id:
        shape.append(("street",))
        values["street_id"] = filters.street_id
    if filters.chain in Chain.__members__.values():
        shape.append(("chain",))
        values["chain"] = Chain(filters.chain)
    if filters.building_id:
        shape.append(("building",))
        values["building_id"] = filters.building_id
    if filters.status in FirmStatus.__members__.values():
        shape.append(("status",))
        values["status"] = FirmStatus(filters.status)
    shape.extend(("flag", flag) for flag in sorted(set(filters.flags) & set(FLAG_FIELDS)))
    return tuple(shape), values


def _filter_clause(part: tuple[str, ...], value: Callable[[str], Any]) -> sa.ColumnElement[bool]:
    """One clause of the shape `_filter_plan` gives, comparing with `value(name)`: the value
    itself, or a bound parameter of that name for a statement built once."""
    kind = part[0]
    if kind == "no_street":
        return sa.false()
    if kind == "streets":  # bound, the scope as scoping writes it for statements built once
        ids = value("street_ids")
        return firm_scope_parameter() if isinstance(ids, sa.BindParameter) else Firm.street_id.in_(ids)
    if kind in ("name", "name_or_code"):
        by_name = _like(Firm.name, part[1], value("name_pattern"))
        return by_name if kind == "name" else sa.or_(by_name, _like(Firm.credit_code, part[2], value("code_pattern")))
    if kind == "no_tier":
        return Firm.current_tier.is_(None)
    if kind == "flag":
        return getattr(Firm, part[1]).is_(True)
    column, parameter = _COMPARED[kind]
    return column == value(parameter)


#: The filters that compare a column with a value: the column and the value's name.
_COMPARED: dict[str, tuple[InstrumentedAttribute[Any], str]] = {
    "tier": (Firm.current_tier, "tier"),
    "street": (Firm.street_id, "street_id"),
    "chain": (Firm.chain, "chain"),
    "building": (Firm.building_id, "building_id"),
    "status": (Firm.status, "status"),
}


def _like(column: InstrumentedAttribute[str], operator: str, pattern: Any) -> sa.ColumnElement[bool]:
    if operator == "like":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def firm_filter_clauses(user: User | None, filters: FirmFilters) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of the firm list: the user's scope (None: the system, all streets) and every filter."""
    shape, values = _filter_plan(user, filters)
    return [_filter_clause(part, values.__getitem__) for part in shape]


def firm_ordering(filters: FirmFilters) -> tuple[Any, ...]:
    """The list's ORDER BY: the chosen column, then the id so pages never overlap."""
    column = SORTS.get(filters.sort, Firm.name)
    return (column.desc() if filters.descending else column.asc()), Firm.id


#: What a row of the firm list shows; street and building names come from the filter's lists.
LIST_COLUMNS: tuple[Any, ...] = (
    Firm.id,
    Firm.name,
    Firm.credit_code,
    Firm.current_tier,
    Firm.chain,
    Firm.status,
    Firm.street_id,
    Firm.building_id,
)


def firm_list(user: User, filters: FirmFilters) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The scoped SELECT of the list's rows (LIST_COLUMNS) matching the filters, ordered, with the
    values of its parameters. The statement is built once per shape of filters and process
    (building it, and SQLAlchemy's cache key of it, was a seventh of the list's time)."""
    shape, values = _filter_plan(user, filters)
    sort = filters.sort if filters.sort in SORTS else "name"
    return _list_statement(shape, sort, filters.descending), values


@functools.lru_cache(maxsize=1024)
def _list_statement(shape: tuple[tuple[str, ...], ...], sort: str, descending: bool) -> sa.Select[Any]:
    def parameter(name: str) -> sa.BindParameter[Any]:
        return sa.bindparam(name)

    return (
        sa.select(*LIST_COLUMNS)
        .where(*(_filter_clause(part, parameter) for part in shape))
        .order_by(*firm_ordering(FirmFilters(sort=sort, descending=descending)))
    )


def building_names(*, street_ids: list[int] | None = None, ids: set[int] | None = None) -> dict[int, str]:
    """Building names by id, in name order: of these streets (None: every street), or these ids."""
    if ids is not None:
        rows = db.session.execute(_building_names("ids"), {"values": list(ids)})
    elif street_ids is not None:
        rows = db.session.execute(_building_names("streets"), {"values": street_ids})
    else:
        rows = db.session.execute(_building_names("all"))
    return {row.id: row.name for row in rows}


@functools.cache
def _building_names(among: str) -> sa.Select[int, str]:
    """building_names' statements, built once per process (the firm list reads one per request)."""
    query = sa.select(Building.id, Building.name).order_by(Building.name, Building.id)
    column = {"ids": Building.id, "streets": Building.street_id}.get(among)
    return query if column is None else query.where(column.in_(sa.bindparam("values", expanding=True)))


def create_firm(values: dict[str, Any], user: User | None) -> Firm:
    """Add a firm to the roster and record it; flushes, the caller commits."""
    unknown = set(values) - set(FIRM_FIELDS)
    if unknown:
        raise ValueError(f"unknown firm fields: {sorted(unknown)}")
    firm = Firm(**values)
    db.session.add(firm)
    db.session.flush()
    record_event(
        "firm.create", "firm", firm.id, after={**snapshot(firm, FIRM_FIELDS), "_version": firm.version}, user=user
    )
    return firm


def update_firm(firm: Firm, values: dict[str, Any], expected_version: int, user: User) -> Firm:
    """Change a firm's fields, refusing a stale edit and fields the user's role may not set."""
    allowed = editable_firm_fields(user, frozenset(FIRM_FIELDS))
    forbidden = {name for name, value in values.items() if name not in allowed and getattr(firm, name) != value}
    if forbidden:
        raise FirmPermissionError(f"role {user.role} may not change {sorted(forbidden)}")
    if firm.version != expected_version:
        raise StaleEditError(firm, changes_since(firm, expected_version))
    before = snapshot(firm, FIRM_FIELDS)
    for name, value in values.items():
        if name in allowed:
            setattr(firm, name, value)
    after = snapshot(firm, FIRM_FIELDS)
    old, new = diff(before, after)
    if not new:
        return firm
    db.session.flush()  # bumps firm.version; a concurrent save raises StaleDataError here
    record_event("firm.update", "firm", firm.id, before=old, after={**new, "_version": firm.version}, user=user)
    _follow_firm_change(firm, set(new))
    return firm


def _follow_firm_change(firm: Firm, changed: set[str]) -> None:
    """Keep the firm's open follow-up in step: it goes with the firm to a new officer, and a
    change of status or tier cancels, reschedules or creates it at once, not at the next sweep."""
    from ..followups.services import FOLLOWUPS, OPEN, schedule_followups

    if "officer_id" in changed and firm.officer_id is not None:
        db.session.execute(
            sa.update(FOLLOWUPS)
            .where(FOLLOWUPS.c.firm_id == firm.id, FOLLOWUPS.c.status == OPEN)
            .values(officer_id=firm.officer_id, version=FOLLOWUPS.c.version + 1)
        )
    if changed & {"status", "current_tier"}:
        schedule_followups(china_today(), [firm.id])


#: How many of a firm's newest audit events a stale edit looks through.
CHANGES_WINDOW = 500


def _version_after(event: AuditEvent) -> int | None:
    """The firm version an event's write produced, when the event records it."""
    value = (event.after or {}).get("_version")
    return int(value) if value is not None else None


def _fields_written(event: AuditEvent) -> dict[str, Any]:
    """The firm fields an event set, by name (an import undo records them under `restored`)."""
    after = event.after or {}
    if event.action == "firm.import_undo":
        after = after.get("restored") or {}
    return {name: value for name, value in after.items() if not name.startswith("_")}


def changes_since(firm: Firm, version: int) -> list[dict[str, Any]]:
    """What was changed on a firm after a version: one entry per field, newest value last.

    Edits and imports record the version they produced; an import undo bumps the version and a
    tier decision keeps it without recording either, so versions are counted forward from the
    newest event at or before `version`.
    """
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "firm", AuditEvent.object_id == str(firm.id))
        .options(selectinload(AuditEvent.user))
        .order_by(AuditEvent.id.desc())
        .limit(CHANGES_WINDOW)
    ).all()[::-1]
    start, running = 0, version  # when no event in the window was seen, all of it is news
    for index, event in enumerate(events):
        written = _version_after(event)
        if written is not None and written <= version:
            start, running = index + 1, written  # the newest write the editor had seen
    changes: dict[str, dict[str, Any]] = {}
    for event in events[start:]:
        written = _version_after(event)
        if written is not None:
            running = written
        elif event.action == "firm.import_undo":
            running += 1
        elif event.action != "firm.tier":
            continue
        if running <= version:
            continue
        for name, value in _fields_written(event).items():
            entry = changes.setdefault(name, {"field": name, "before": (event.before or {}).get(name)})
            entry.update(after=value, by=event.user.label if event.user else "system", at=event.created_at)
    return list(changes.values())


def latest_assignment(firm: Firm) -> TierAssignment | None:
    """The firm's most recent tier assignment."""
    return db.session.scalars(
        sa.select(TierAssignment)
        .where(TierAssignment.firm_id == firm.id)
        .order_by(TierAssignment.quarter.desc())
        .limit(1)
    ).first()


def latest_metric(firm: Firm) -> QuarterlyMetric | None:
    """The firm's most recent quarter of figures."""
    return db.session.scalars(
        sa.select(QuarterlyMetric)
        .where(QuarterlyMetric.firm_id == firm.id)
        .order_by(QuarterlyMetric.quarter.desc())
        .limit(1)
    ).first()


def firm_audit_trail(firm: Firm, limit: int = 50) -> list[AuditEvent]:
    """The firm's audit events, newest first, with who made them."""
    return list(db.session.scalars(_audit_trail_statement(limit), {"object_id": str(firm.id)}))


#: How many of a firm's visits and requests its page lists.
FIRM_PAGE_RECENT = 10


@dataclass(frozen=True)
class FirmPageRows:
    """What a firm's page shows besides the firm: tier history and figures (newest quarter first),
    the latest visits and requests."""

    history: list[TierAssignment]
    metrics: list[QuarterlyMetric]
    visits: list[Visit]
    requests: list[FirmRequest]


def firm_page_rows(firm_id: int) -> FirmPageRows:
    """A firm page's rows, each read by a statement built once per process (building them, and
    SQLAlchemy's cache key of each, was a tenth of the page's time)."""
    history, metrics, visits, requests = _firm_page_statements()
    values = {"firm_id": firm_id}
    return FirmPageRows(
        history=list(db.session.scalars(history, values)),
        metrics=list(db.session.scalars(metrics, values)),
        visits=list(db.session.scalars(visits, values).unique()),
        requests=list(db.session.scalars(requests, values)),
    )


@functools.cache
def _firm_page_statements() -> tuple[sa.Select[Any], ...]:
    firm_id = sa.bindparam("firm_id", type_=sa.Integer)
    return (
        sa.select(TierAssignment).where(TierAssignment.firm_id == firm_id).order_by(TierAssignment.quarter.desc()),
        sa.select(QuarterlyMetric).where(QuarterlyMetric.firm_id == firm_id).order_by(QuarterlyMetric.quarter.desc()),
        sa.select(Visit)
        .where(Visit.firm_id == firm_id)
        .options(joinedload(Visit.officer))
        .order_by(Visit.visited_on.desc(), Visit.id.desc())
        .limit(FIRM_PAGE_RECENT),
        sa.select(FirmRequest)
        .where(FirmRequest.firm_id == firm_id)
        .order_by(FirmRequest.id.desc())
        .limit(FIRM_PAGE_RECENT),
    )


@functools.cache
def _audit_trail_statement(limit: int) -> sa.Select[Any]:
    return (
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "firm", AuditEvent.object_id == sa.bindparam("object_id", type_=sa.String))
        .options(joinedload(AuditEvent.user))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )


def firm_as_dict(firm: Firm) -> dict[str, Any]:
    """One firm for the CLI and APIs: fields, current tier and the latest quarter's metrics."""
    data = snapshot(firm, FIRM_FIELDS)
    data.pop("street_id")
    data.pop("building_id")
    data.pop("officer_id")
    data.update(
        id=firm.id,
        street=firm.street.name,
        building=firm.building.name if firm.building else None,
        officer=firm.officer.username if firm.officer else None,
        current_tier=firm.current_tier.value if firm.current_tier else None,
        version=firm.version,
    )
    assignment = latest_assignment(firm)
    data["tier_reasons"] = assignment.reasons if assignment else []
    metric = latest_metric(firm)
    data["latest_metrics"] = (
        snapshot(metric, ("quarter", "revenue", "tax", "employees", "rd_spend", "floor_area_m2", "land_mu"))
        if metric
        else None
    )
    return data
