"""The one place that limits firm queries to the streets a user may see.

Every view, export, import and CLI path that reads firms goes through these helpers, so an
officer sees only the streets it covers and a district viewer only its own street.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from flask import abort
from sqlalchemy.sql.base import ExecutableOption

from .extensions import db
from .models import Firm, Street, User


def street_ids_for(user: User) -> list[int] | None:
    """The street ids a user is limited to, or None for all streets."""
    if user.sees_all_streets:
        return None
    return [street.id for street in user.streets]


def firm_scope(user: User) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting firms to the user's streets."""
    ids = street_ids_for(user)
    if ids is None:
        return sa.true()
    if not ids:
        return sa.false()
    return Firm.street_id.in_(ids)


def firm_scope_parameter() -> sa.ColumnElement[bool]:
    """firm_scope for a statement built once per process: the streets are a parameter, given by
    `firm_scope_values` (building a statement, and SQLAlchemy's cache key of it, can cost more
    than running it). Only for limited users: for the others, build the statement without it."""
    return Firm.street_id.in_(sa.bindparam("street_ids", expanding=True))


def firm_scope_values(user: User) -> dict[str, object] | None:
    """The values of `firm_scope_parameter` for this user: {} when the user sees every street (the
    statement leaves the scope out), None when the user sees none."""
    ids = street_ids_for(user)
    if ids is None:
        return {}
    return {"street_ids": ids} if ids else None


def get_scoped_firm_or_404(user: User, firm_id: int, *options: ExecutableOption) -> Firm:
    """The firm if the user may see it; 404 otherwise (another street's firm does not exist).
    `options`: loader options, e.g. the relations the page shows (module constants, so that the
    statement is built once)."""
    scope = firm_scope_values(user)
    if scope is None:
        abort(404)
    firm = db.session.scalars(_scoped_firm(bool(scope), options), {"firm_id": firm_id, **scope}).first()
    if firm is None:
        abort(404)
    return firm


@functools.lru_cache(maxsize=32)
def _scoped_firm(limited: bool, options: tuple[ExecutableOption, ...]) -> sa.Select[Firm]:
    statement = sa.select(Firm).where(Firm.id == sa.bindparam("firm_id", type_=sa.Integer)).options(*options)
    return statement.where(firm_scope_parameter()) if limited else statement


def get_scoped_firm_by_code(user: User | None, credit_code: str) -> Firm | None:
    """The firm with a credit code, within scope (None user: the system, all streets)."""
    query = sa.select(Firm).where(Firm.credit_code == credit_code)
    if user is not None:
        query = query.where(firm_scope(user))
    return db.session.scalars(query).first()


def visible_streets(user: User) -> list[Street]:
    """Streets the user may see, in id order, for filters and forms (a limited user's own
    streets are loaded with it, see auth.services.load_user)."""
    if not user.sees_all_streets:
        return list(user.streets)
    return list(db.session.scalars(sa.select(Street).order_by(Street.id)))
