"""Pages of a list whose total comes back with the rows: one statement per list page, not two."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import request, url_for
from flask_sqlalchemy.pagination import Pagination
from markupsafe import Markup, escape

from .extensions import db
from .i18n import gettext


def count_of(select: sa.Select[Any]) -> sa.ScalarSelect[int]:
    """count(*) of a SELECT's rows (same FROM and WHERE, no ORDER BY), as a scalar subquery
    that never correlates with the query it is put in."""
    if select._distinct or select._group_by_clauses:
        raise ValueError("count_of counts plain SELECTs, not DISTINCT or GROUP BY ones")
    return (
        select.with_only_columns(sa.func.count(), maintain_column_froms=True)
        .order_by(None)
        .correlate(None)
        .scalar_subquery()
    )


@functools.lru_cache(maxsize=1024)
def _page_of(
    select: sa.Select[Any], counted: bool, rows: Callable[[sa.Select[Any]], sa.Select[Any]] | None
) -> sa.Select[Any]:
    """A page of a statement built once per process, the page's bounds as parameters (page_limit,
    page_offset), read through `rows` when given, and with the total when `counted`."""
    page = select.limit(sa.bindparam("page_limit", type_=sa.Integer))
    page = page.offset(sa.bindparam("page_offset", type_=sa.Integer))
    if rows is not None:
        page = rows(page)
    return page.add_columns(count_of(select).label("total_rows")) if counted else page


class CountedPagination(Pagination):
    """Flask-SQLAlchemy's pagination, but each row carries the total (an uncorrelated scalar
    subquery the database computes once), so no second count query is sent. An empty first
    page has a total of 0; only a page past the end counts on its own. A total the caller
    already knows is taken as it is."""

    _total: int | None = None

    def _query_items(self) -> list[Any]:
        select: sa.Select[Any] = self._query_args["select"]
        parameters: dict[str, Any] | None = self._query_args.get("parameters")
        self._total = self._query_args.get("total")
        counted = self._total is None
        if parameters is not None:  # a statement built once: so is its page's
            statement = _page_of(select, counted, self._query_args.get("rows"))
            parameters = {**parameters, "page_limit": self.per_page, "page_offset": self._query_offset}
        else:
            statement = select.limit(self.per_page).offset(self._query_offset)
            if self._query_args.get("rows") is not None:
                statement = self._query_args["rows"](statement)
            if counted:
                statement = statement.add_columns(count_of(select).label("total_rows"))
        rows = db.session.execute(statement, parameters).all()
        if counted and rows:
            self._total = int(rows[0][-1])
        elif counted and self.page == 1:
            self._total = 0
        if self._query_args.get("scalars"):
            return [row[0] for row in rows]
        return list(rows)

    def _query_count(self) -> int:
        if self._total is None:
            counting = sa.select(count_of(self._query_args["select"]))
            self._total = int(db.session.scalar(counting, self._query_args.get("parameters")) or 0)
        return self._total


def paginate(
    select: sa.Select[Any],
    *,
    page: int,
    per_page: int,
    scalars: bool = False,
    total: int | None = None,
    rows: Callable[[sa.Select[Any]], sa.Select[Any]] | None = None,
    parameters: dict[str, Any] | None = None,
    max_per_page: int | None = 100,
) -> Pagination:
    """A page of `select` with its total in the same statement (or `total`, when the caller
    counted already). `scalars`: the items are the first column's values (one entity's
    objects); otherwise they are rows (each also carrying `total_rows` unless `total` was
    given). `rows`: for a list whose keys sort cheaply off indexes but whose rows are wide,
    `select` names the keys and `rows(page_of_keys)` is the statement reading the page's rows
    (in the same order), so only the page's rows are read whole. `parameters`: `select` (and
    `rows`, a function defined once) is built once per process, and these are the values of its
    parameters; its page's statement is then built once too, and kept (up to 1,024 of them) for
    the same `select` and `rows` objects: a statement built per request has no place here."""
    return CountedPagination(
        page=page,
        per_page=per_page,
        max_per_page=max_per_page,
        error_out=False,
        select=select,
        scalars=scalars,
        total=total,
        rows=rows,
        parameters=parameters,
    )


def page_links(endpoint: str, numbers: Iterable[int]) -> dict[int, str]:
    """The link to each of these page numbers of the list this request shows: its URL with the
    same query arguments (repeated ones too) and `page` replaced. One url_for for all of them,
    where the pager made one per link."""
    base = url_for(endpoint, **(request.view_args or {}))
    kept = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    return {number: f"{base}?{urlencode([*kept, ('page', number)])}" for number in numbers}


def pager_html(page: Pagination, endpoint: str) -> Markup:
    """The list's page links (Bootstrap's pagination): Previous, the numbers around the current
    page with gaps, Next. Built here rather than in a template macro, which cost a tenth of a list
    page's time; empty when everything fits on one page."""
    if page.pages <= 1:
        return Markup("")
    numbers = list(page.iter_pages(left_edge=1, left_current=2, right_current=3, right_edge=1))
    previous, following = page.prev_num or 1, page.next_num or page.pages
    links = page_links(endpoint, [n for n in numbers if n] + [previous, following])

    def item(label: object, number: int, state: str) -> str:
        return (
            f'<li class="page-item{state}"><a class="page-link" href="{escape(links[number])}">{escape(label)}</a></li>'
        )

    label = gettext("Pages")  # not inside the f-string, where message extraction would not see it
    parts = [f'<nav aria-label="{escape(label)}">', '<ul class="pagination pagination-sm">']
    parts.append(item(gettext("Previous"), previous, "" if page.has_prev else " disabled"))
    for number in numbers:
        if number:
            parts.append(item(number, number, " active" if number == page.page else ""))
        else:
            parts.append('<li class="page-item disabled"><span class="page-link">…</span></li>')
    parts.append(item(gettext("Next"), following, "" if page.has_next else " disabled"))
    parts.append("</ul></nav>")
    return Markup("\n".join(parts))  # noqa: S704 - every value above is escaped
