"""The security sweep over every route of `app.url_map`, read against tests/route_table.py:

* every route is declared (a new route without an entry fails here);
* each role gets its declared status on every page, on its own street's objects and another's;
* each role that may not post an action is refused, and nothing is written;
* with CSRF on, every POST without a valid token is refused by the CSRF check, nothing written;
* every response, error pages included, carries the security headers;
* hostile query strings on every page, and hostile form values on every action, give no 500.

Users are signed in through the session (`auth.enter`), not the login form: these sweeps make
hundreds of requests per role, which a sign-in limit must not count.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from service_app.extensions import db
from service_app.models import Building, Firm, Street, User

from .conftest import AuthActions
from .route_table import ACTIONS, PAGES, build_url, rules_by_endpoint
from .samples import ROLES, USERNAMES, Samples, make_samples

#: What the CSRF refusal says (errors.py); a form's own validation message would differ.
CSRF_REFUSAL = "表单已过期"
#: Every query name the views read; each gets the same hostile value at once.
QUERY_NAMES = [
    *("building", "category", "chain", "change", "current", "day", "dir", "final", "firm_id", "flag", "format"),
    *("from", "lang", "mark", "mine", "month", "next", "officer", "order", "overdue", "page", "per_page", "q"),
    *("quarter", "role", "sort", "source", "status", "street", "tier", "to", "view", "year"),
]
HOSTILE_VALUES = {
    "huge": "99999999999999999999999",  # past any database integer
    "nul": "a\x00b",  # PostgreSQL text cannot hold NUL
    "markup": '<script>alert(1)</script>" onmouseover="x',
    "long": "临" * 100,
}


@pytest.fixture
def samples(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Samples:
    """The sample world with plain names, its exports built into a temporary folder."""
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))
    with app.app_context():
        made = make_samples()
        db.session.commit()
    return made


@pytest.fixture
def unbuilt_samples(app: Flask) -> Samples:
    """The sample world without building its exports (for tests that download nothing)."""
    with app.app_context():
        made = make_samples(build_exports=False)
        db.session.commit()
    return made


def enter_as(auth: AuthActions, role: str) -> None:
    """Sign the client in as the sample user of `role`; the anonymous visitor stays out."""
    if role != "anonymous":
        auth.enter(USERNAMES[role])


def table_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what a refused request must leave exactly as it was."""
    rows = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [tuple(row) for row in db.session.execute(sa.select(table).order_by(*order))]
    return rows


def header_problems(response: TestResponse) -> list[str]:
    """What is missing from the headers every response must carry."""
    problems = []
    csp = response.headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        if directive not in csp:
            problems.append(f"CSP lacks {directive}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append("CSP allows inline script or eval")
    expected = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
    for name, value in expected.items():
        if response.headers.get(name) != value:
            problems.append(f"{name} is {response.headers.get(name)!r}")
    return problems


def fetch(client: FlaskClient, url: str) -> tuple[TestResponse, bytes]:
    """GET a URL and read its body; a download is an open file until its response is closed."""
    response = client.get(url)
    body = response.data
    response.close()
    return response, body


# --- every route is declared ---------------------------------------------------------------------


@pytest.mark.parametrize(("method", "table"), [("GET", PAGES), ("POST", ACTIONS)], ids=["pages", "actions"])
def test_every_route_is_declared(app: Flask, method: str, table: dict[str, Any]) -> None:
    routes = set(rules_by_endpoint(app, method))
    assert sorted(routes - set(table)) == [], f"declare these {method} routes in tests/route_table.py"
    assert sorted(set(table) - routes) == [], "tests/route_table.py declares routes the app no longer has"


def test_no_route_takes_put_patch_or_delete(app: Flask) -> None:
    unswept = {r.endpoint for r in app.url_map.iter_rules() if (r.methods or set()) & {"PUT", "PATCH", "DELETE"}}
    assert unswept == set(), "a PUT, PATCH or DELETE route: sweep its method too (ACTIONS and the CSRF test)"


# --- each role on every page ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_declared(
    app: Flask, client: FlaskClient, auth: AuthActions, samples: Samples, role: str
) -> None:
    enter_as(auth, role)
    expected: dict[str, int] = {}
    actual: dict[str, int] = {}
    headers: dict[str, list[str]] = {}
    for endpoint, page in PAGES.items():
        urls = [("", page.url(app, endpoint, samples.own), page.statuses)]
        urls += [(f" {url}", url, page.statuses) for url in page.variant_urls(app, endpoint, samples.own)]
        if page.other is not None:
            urls.append((" (street B)", page.url(app, endpoint, samples.other), page.other))
        for label, url, statuses in urls:
            response, body = fetch(client, url)
            key = endpoint + label
            expected[key] = statuses[ROLES.index(role)]
            actual[key] = response.status_code
            if response.status_code == 302 and role == "anonymous":
                assert response.location.startswith("/login?next="), f"{url} sends the visitor to {response.location}"
            if problems := header_problems(response):
                headers[key] = problems
            assert b"Traceback" not in body
    assert actual == expected
    assert headers == {}


# --- another street's names ----------------------------------------------------------------------


def readable_text(response: TestResponse, body: bytes) -> str:
    """What a response shows a person: a page's or a feed's text, a JSON answer with its escapes
    read, every cell of a workbook (a zip in which names cannot be searched as bytes)."""
    if response.mimetype == "application/json":
        return json.dumps(json.loads(body), ensure_ascii=False)
    if body.startswith(b"PK"):
        workbook = load_workbook(io.BytesIO(body), read_only=True)
        cells = [str(v) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for v in row]
        workbook.close()
        return "\n".join(cells)
    return body.decode("utf-8", errors="replace")


@pytest.mark.parametrize("role", ["officer", "district"])
def test_no_page_shows_a_scoped_user_another_streets_names(
    app: Flask, client: FlaskClient, auth: AuthActions, samples: Samples, role: str
) -> None:
    """Pages, charts' data and downloads of street A say nothing of street B: not its name, its
    building's, its firm's nor its officer's (the workload, the dashboard's officers)."""
    enter_as(auth, role)
    with app.app_context():
        other = samples.other
        markers = [
            db.session.get(Street, other["street_id"]).name,
            db.session.get(Building, other["building_id"]).name,
            db.session.get(Firm, other["firm_id"]).name,
            db.session.get(User, other["officer_id"]).label,
        ]
    leaks: dict[str, list[str]] = {}
    for endpoint, page in PAGES.items():
        if endpoint == "static" or page.expected()[role] != 200:
            continue
        for url in (page.url(app, endpoint, samples.own), *page.variant_urls(app, endpoint, samples.own)):
            response, body = fetch(client, url)
            if shown := [marker for marker in markers if marker in readable_text(response, body)]:
                leaks[url] = shown
    assert leaks == {}


# --- who may post --------------------------------------------------------------------------------

#: Roles some action refuses (today an admin may post everything).
REFUSED_ROLES = [r for r in ROLES if any(r not in a.roles and not a.public for a in ACTIONS.values())]


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_roles_that_may_not_post_are_refused_and_nothing_is_written(
    app: Flask, client: FlaskClient, auth: AuthActions, unbuilt_samples: Samples, role: str
) -> None:
    samples = unbuilt_samples
    enter_as(auth, role)
    with app.app_context():
        before = table_rows()
    wrong: dict[str, int] = {}
    for endpoint, action in ACTIONS.items():
        if role in action.roles or action.public:
            continue
        response = client.post(action.url(app, endpoint, samples.own))
        if role == "anonymous":
            refused = response.status_code == 302 and response.location.startswith("/login?next=")
        else:
            refused = response.status_code in (403, 404)
        if not refused:
            wrong[endpoint] = response.status_code
    assert wrong == {}
    with app.app_context():
        assert table_rows() == before


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The session app with CSRF checks on, as in production."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    yield


@pytest.mark.parametrize("endpoint", sorted(ACTIONS))
def test_every_post_without_a_valid_csrf_token_is_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, world: Any, csrf_on: None, endpoint: str
) -> None:
    auth.enter("admin")  # the most powerful user: only the token is missing or wrong
    # The check runs before any view, so any well-formed URL will do: 1 for every argument.
    url = build_url(app, endpoint, dict.fromkeys(rules_by_endpoint(app, "POST")[endpoint].arguments, 1))
    data = {"lang": "en", "next": "/firms/", "username": "admin", "password": "x", "action": "revoke"}
    with app.app_context():
        before = table_rows()
    for token in ({}, {"csrf_token": "forged-token"}):
        response = client.post(url, data=data | token)
        assert response.status_code == 400
        assert CSRF_REFUSAL in response.get_data(as_text=True)
        assert header_problems(response) == []
    with app.app_context():
        assert table_rows() == before


# --- headers on error pages ----------------------------------------------------------------------


def _crash() -> None:
    raise RuntimeError("sweep")


def _database_down() -> None:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("csrf", 400),
        ("forbidden", 403),
        ("missing", 404),
        ("method", 405),
        ("too-large", 413),
        ("crash", 500),
        ("db", 503),
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_error_pages_carry_the_headers_and_no_traceback(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    world: Any,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    status: int,
    accept: str,
) -> None:
    auth.enter("district_a")
    headers = {"Accept": accept}
    if case == "csrf":
        monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
        response = client.post("/language", data={"lang": "en"}, headers=headers)
    elif case == "forbidden":
        response = client.get("/admin/users", headers=headers)
    elif case == "missing":
        response = client.get("/no/such/page", headers=headers)
    elif case == "method":
        response = client.get("/logout", headers=headers)
    elif case == "too-large":
        monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
        response = client.post("/language", data={"lang": "x" * 1001}, headers=headers)
    else:
        monkeypatch.setitem(app.view_functions, "main.healthz", _crash if case == "crash" else _database_down)
        response = client.get("/healthz", headers=headers)
    assert response.status_code == status
    assert header_problems(response) == []
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "RuntimeError" not in body and "connection refused" not in body


# --- hostile query strings -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "officer", "admin"])
def test_hostile_query_strings_never_break_a_page(
    app: Flask, client: FlaskClient, auth: AuthActions, unbuilt_samples: Samples, role: str
) -> None:
    samples = unbuilt_samples
    enter_as(auth, role)
    broken: dict[str, int] = {}
    unescaped: list[str] = []
    for endpoint, page in PAGES.items():
        if page.expected()[role] != 200:
            continue  # refused or redirected before any query is read
        url = page.url(app, endpoint, samples.own)
        for kind, value in HOSTILE_VALUES.items():
            taken = set(page.args(samples.own)) if page.args else set()
            query = urlencode({name: value for name in QUERY_NAMES if name not in taken})
            response, body = fetch(client, f"{url}{'&' if '?' in url else '?'}{query}")
            if response.status_code >= 500:
                broken[f"{endpoint} ({kind})"] = response.status_code
            if page.html and b"<script>alert(1)</script>" in body:
                unescaped.append(f"{endpoint} ({kind})")
    assert not broken, f"5xx on hostile queries: {broken}"
    assert not unescaped, f"markup came back unescaped: {unescaped}"


# --- hostile form values -------------------------------------------------------------------------

#: Field prefixes of pages with several forms (followups: visit, reschedule, reassign; settings).
FORM_PREFIXES = ("", "visit-", "reschedule-", "reassign-", "cadence-", "limits-", "day-")
#: Fields views read from request.form directly, beside the forms' own.
RAW_FIELDS = ("id", "lang", "next", "target", "col_0", "col_99999999999999999999")
#: Actions whose form says which of several things to do: each is tried.
FORM_ACTIONS = {
    "followups.settings": ("cadence", "limits", "day", "delete_day"),
    "followups.feed_settings": ("issue", "revoke"),
}
HOSTILE_FORM_VALUES = {
    "huge": "99999999999999999999999",
    "nul": "a\x00b",
    "not-a-number": "NaN",
    "last-day": "9999-12-31",
    "long": "x" * 520,  # past every length limit but the notes' (5,000)
}


def form_field_names() -> set[str]:
    """The field names of every form class defined so far (dynamic ones once they have been built)."""
    from flask_wtf import FlaskForm
    from wtforms.fields.core import UnboundField

    names: set[str] = set()
    stack = list(FlaskForm.__subclasses__())
    while stack:
        form = stack.pop()
        stack.extend(form.__subclasses__())
        for klass in form.__mro__:
            names.update(name for name, value in vars(klass).items() if isinstance(value, UnboundField))
    return names


@pytest.mark.parametrize("kind", sorted(HOSTILE_FORM_VALUES))
def test_hostile_form_values_never_break_an_action(
    app: Flask, client: FlaskClient, auth: AuthActions, unbuilt_samples: Samples, kind: str
) -> None:
    samples = unbuilt_samples
    fields = {prefix + name for prefix in FORM_PREFIXES for name in form_field_names()} | set(RAW_FIELDS)
    broken: dict[str, int] = {}
    for endpoint, action in ACTIONS.items():
        if endpoint in ("auth.login", "auth.logout"):
            continue  # signing in or out with nonsense is the login form's own test
        for choice in FORM_ACTIONS.get(endpoint, ("",)):
            auth.enter(USERNAMES["admin"])
            data = dict.fromkeys(fields, HOSTILE_FORM_VALUES[kind]) | {"action": choice}
            response = client.post(action.url(app, endpoint, samples.own), data=data)
            if response.status_code >= 500:
                broken[f"{endpoint} {choice}".strip()] = response.status_code
    assert not broken, f"5xx on hostile form values: {broken}"
