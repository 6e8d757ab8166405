""" "My follow-ups": the list's filters as a plan (which clauses, and the values they compare with),
and its statements, built once per process for each shape of plan (building them, and
SQLAlchemy's cache key of each, was a sixth of the page's time)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from ..domain.followups import FollowupStatus
from ..domain.tiers import Role, Tier
from ..firms.services import contains_pattern
from ..models import Firm, Followup, Street, User
from ..scoping import firm_scope_parameter, firm_scope_values
from ..security import db_id

MANAGERS = (Role.ADMIN, Role.SUPERVISOR)
#: The list's views, in the order of the tally's counts.
VIEWS = ("overdue", "week", "upcoming", "all")
#: What a row of the list shows (rows, not objects: a page lists fifty).
LIST_COLUMNS: tuple[Any, ...] = (
    Followup.id,
    Followup.firm_id,
    Followup.tier,
    Followup.due_date,
    Followup.base_date,
    Firm.name.label("firm_name"),
    Street.name.label("street_name"),
    sa.func.coalesce(sa.func.nullif(User.display_name, ""), User.username).label("officer_label"),
)
ORDERING = (Followup.due_date, Firm.name, Followup.id)


@dataclass(frozen=True)
class ListPlan:
    """The list's WHERE as its shape and its values, and what the page shows of the choice."""

    shape: tuple[str, ...]
    values: dict[str, Any]
    #: "me", "all" or an officer's id, as the officer filter shows it.
    officer_choice: str
    day: dt.date | None


def officer_choice(user: User, args: MultiDict[str, str]) -> tuple[int | None, str]:
    """Whose follow-ups a list shows, and the choice as its filter shows it ("me", "all" or an
    officer's id): an officer its own unless it asks for its streets', supervisors everyone's
    unless they pick an officer. None: everyone's."""
    chosen = args.get("officer", "")
    if chosen == "all":
        return None, "all"
    if chosen.isdigit() and len(chosen) < 10 and user.role in MANAGERS:
        return int(chosen), chosen
    if user.role == Role.OFFICER or chosen == "me":
        return user.id, "me"
    return None, "all"


def list_plan(user: User, args: MultiDict[str, str]) -> ListPlan:
    """The plan of the list `args` ask for: open follow-ups in the user's scope, an officer its
    own unless it asks for its streets', supervisors everyone's unless they pick an officer."""
    shape: list[str] = []
    values: dict[str, Any] = {}
    scope = firm_scope_values(user)
    if scope is None:
        shape.append("no_street")
    elif scope:
        shape.append("streets")
        values.update(scope)
    officer_id, chosen = officer_choice(user, args)
    if officer_id is not None:
        shape.append("officer")
        values["officer_id"] = officer_id
    street = args.get("street", type=db_id)
    if street:
        shape.append("street")
        values["street_id"] = street
    tier = args.get("tier", "")
    if tier in Tier.__members__.values():
        shape.append("tier")
        values["tier"] = Tier(tier)
    text = args.get("q", "").strip()
    if text:
        shape.append("text")
        values.update(name_pattern=contains_pattern(text), credit_code=text.upper())
    day_text = args.get("day", "")
    try:
        day = dt.date.fromisoformat(day_text) if day_text else None
    except ValueError:
        day = None
    if day:
        shape.append("day")
        values["day"] = day
    return ListPlan(tuple(shape), values, chosen, day)


def _clauses(shape: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [Followup.status == FollowupStatus.OPEN]
    parts = {
        "no_street": lambda: sa.false(),
        "streets": firm_scope_parameter,
        "officer": lambda: Followup.officer_id == sa.bindparam("officer_id", type_=sa.Integer),
        "street": lambda: Firm.street_id == sa.bindparam("street_id", type_=sa.Integer),
        "tier": lambda: Followup.tier == sa.bindparam("tier"),
        "text": lambda: sa.or_(
            Firm.name.like(sa.bindparam("name_pattern", type_=sa.String), escape="\\"),
            Firm.credit_code == sa.bindparam("credit_code", type_=sa.String),
        ),
        "day": lambda: Followup.due_date == sa.bindparam("day", type_=sa.Date),
    }
    return clauses + [parts[part]() for part in shape]


#: Each view's window of due dates, the dates being the parameters `today` and `sunday`.
_TODAY, _SUNDAY = sa.bindparam("today", type_=sa.Date), sa.bindparam("sunday", type_=sa.Date)
_WINDOWS: dict[str, sa.ColumnElement[bool]] = {
    "overdue": Followup.due_date < _TODAY,
    "week": Followup.due_date.between(_TODAY, _SUNDAY),
    "upcoming": Followup.due_date > _SUNDAY,
    "all": sa.true(),
}


@functools.lru_cache(maxsize=256)
def tally_statement(shape: tuple[str, ...]) -> sa.Select[Any]:
    """How many follow-ups of the plan each view holds, in VIEWS' order."""
    counts: list[Any] = [sa.func.count().filter(_WINDOWS[view]) for view in VIEWS[:-1]]
    return (
        sa.select(*counts, sa.func.count())
        .select_from(Followup)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(*_clauses(shape))
    )


@functools.lru_cache(maxsize=1024)
def ids_statement(shape: tuple[str, ...], view: str) -> sa.Select[Any]:
    """The view's follow-up ids in the list's order (they sort off the indexes)."""
    return (
        sa.select(Followup.id)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(*_clauses(shape), _WINDOWS[view])
        .order_by(*ORDERING)
    )


def rows_of(page_of_ids: sa.Select[Any]) -> sa.Select[Any]:
    """The list's rows of a page of ids, in the same order: only the page's rows are read whole."""
    return (
        sa.select(*LIST_COLUMNS)
        .join(Firm, Firm.id == Followup.firm_id)
        .join(Street, Street.id == Firm.street_id)
        .outerjoin(User, User.id == Followup.officer_id)
        .where(Followup.id.in_(page_of_ids))
        .order_by(*ORDERING)
    )
