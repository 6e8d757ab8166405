"""The permission matrix: each role × each firm route × own and other street, in one table."""

from __future__ import annotations

import pytest

from service_app.extensions import db
from service_app.models import Firm

ROLES = ("admin", "supervisor", "officer_a", "district_a", None)

# (method, route, street, {role: status}); street "own" is 临平街道 (officer_a's and district_a's).
MATRIX = [
    ("GET", "/firms/", None, {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302}),
    ("GET", "/firms/{id}", "own", {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302}),
    ("GET", "/firms/{id}", "other", {"admin": 200, "supervisor": 200, "officer_a": 404, "district_a": 404, None: 302}),
    (
        "GET",
        "/firms/{id}/edit",
        "own",
        {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 403, None: 302},
    ),
    (
        "GET",
        "/firms/{id}/edit",
        "other",
        {"admin": 200, "supervisor": 200, "officer_a": 404, "district_a": 404, None: 302},
    ),
    (
        "POST",
        "/firms/{id}/edit",
        "own",
        {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 403, None: 302},
    ),
    (
        "POST",
        "/firms/{id}/edit",
        "other",
        {"admin": 200, "supervisor": 200, "officer_a": 404, "district_a": 404, None: 302},
    ),
    ("GET", "/firms/new", None, {"admin": 200, "supervisor": 200, "officer_a": 403, "district_a": 403, None: 302}),
    ("POST", "/firms/new", None, {"admin": 200, "supervisor": 200, "officer_a": 403, "district_a": 403, None: 302}),
    ("GET", "/admin/users", None, {"admin": 200, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302}),
    (
        "GET",
        "/admin/users/new",
        None,
        {"admin": 200, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302},
    ),
    (
        "POST",
        "/admin/users/new",
        None,
        {"admin": 200, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302},
    ),
    ("GET", "/", None, {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302}),
]

CASES = [
    pytest.param(method, route, street, role, expected[role], id=f"{role}-{method}-{route}-{street}")
    for method, route, street, expected in MATRIX
    for role in ROLES
]


@pytest.mark.parametrize(("method", "route", "street", "role", "status"), CASES)
def test_permission_matrix(client, auth, world, method, route, street, role, status):
    if role:
        auth.login(role)
    firm_id = world.firm_a if street == "own" else world.firm_b
    url = route.format(id=firm_id)
    # POSTs send an empty form: allowed roles get the form back with messages (200), nothing saved.
    response = client.open(url, method=method, data={} if method == "POST" else None)
    assert response.status_code == status


@pytest.mark.parametrize("role", ["officer_a", "district_a"])
def test_list_shows_only_own_street(client, auth, world, role):
    auth.login(role)
    page = client.get("/firms/").text
    assert "杭州甲街道服装有限公司" in page
    assert "杭州乙街道贸易有限公司" not in page
    # Filtering by another street's id finds nothing rather than leaking it.
    assert "杭州乙街道贸易有限公司" not in client.get(f"/firms/?street={world.street_b}").text
    # Nor does searching for its name or its credit code.
    with client.application.app_context():
        code = db.session.get(Firm, world.firm_b).credit_code
    for text in ("乙街道", code, code[-6:].lower()):
        assert "杭州乙街道贸易有限公司" not in client.get("/firms/", query_string={"q": text}).text


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_list_shows_all_streets_to_admins_and_supervisors(client, auth, world, role):
    auth.login(role)
    page = client.get("/firms/").text
    assert "杭州甲街道服装有限公司" in page
    assert "杭州乙街道贸易有限公司" in page


def test_overview_counts_only_own_street(client, auth, world):
    auth.login("district_a")
    page = client.get("/").text
    assert "东湖街道" not in page
    assert "临平街道" in page
