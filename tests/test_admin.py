"""User administration: roles, streets and the rules between them, all audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service_app.extensions import db
from service_app.models import AuditEvent, User

from . import factories


def user_named(username: str) -> User:
    return db.session.scalars(sa.select(User).where(User.username == username)).one()


def test_admin_creates_an_officer(client, auth, world, app):
    auth.login("admin")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "officer_b",
            "display_name": "赵六",
            "role": "officer",
            "streets": [str(world.street_b)],
            "active": "y",
            "password": "long-enough-1",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = user_named("officer_b")
        assert [s.id for s in user.streets] == [world.street_b]
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "user.create").order_by(AuditEvent.id.desc())
        ).first()
        assert event.after["streets"] == ["东湖街道"]
        assert "password" not in event.after


@pytest.mark.parametrize(
    ("role", "streets", "message"),
    [("district", [], "只能归属一个街道"), ("officer", [], "至少")],
)
def test_street_rules(client, auth, world, role, streets, message):
    auth.login("admin")
    data = {"username": "newbie", "role": role, "streets": streets, "active": "y", "password": "long-enough-1"}
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 200
    assert message in response.text


def test_admin_changes_role_and_streets_and_resets_password(client, auth, world, app):
    with app.app_context():
        officer_id = user_named("officer_a").id
    auth.login("admin")
    data = {"role": "district", "streets": [str(world.street_b)], "display_name": "改为街道"}
    data["password"] = "new-password-9"
    assert client.post(f"/admin/users/{officer_id}", data=data).status_code == 302
    with app.app_context():
        user = user_named("officer_a")
        assert user.role.value == "district"
        assert not user.active  # the box was not ticked
        assert user.check_password("new-password-9")


def test_admin_cannot_demote_itself(client, auth, world, app):
    with app.app_context():
        admin_id = user_named("admin").id
    auth.login("admin")
    response = client.post(
        f"/admin/users/{admin_id}", data={"role": "officer", "streets": [str(world.street_a)], "active": "y"}
    )
    assert response.status_code == 200
    with app.app_context():
        assert user_named("admin").role.value == "admin"


def test_user_list_search_and_filter(client, auth, world):
    auth.login("admin")
    page = client.get("/admin/users", query_string={"role": "officer"}).text
    assert "officer_a" in page
    assert "district_a" not in page
    page = client.get("/admin/users", query_string={"q": "distr"}).text
    assert "district_a" in page
    assert "officer_a" not in page


def test_disabled_user_is_signed_out_on_next_request(client, auth, world, app):
    auth.login("officer_a")
    assert client.get("/firms/").status_code == 200
    with app.app_context():
        user_named("officer_a").active = False
        db.session.commit()
    assert client.get("/firms/").status_code == 302


NEW_PASSWORD = "brand-new-password-1"


def reset_password(admin_client, user_id: int, world, password: str = NEW_PASSWORD):
    data = {"role": "officer", "streets": [str(world.street_a)], "display_name": "officer_a", "active": "y"}
    return admin_client.post(f"/admin/users/{user_id}", data=dict(data, password=password))


@pytest.mark.parametrize("remember", [False, True])
def test_password_reset_signs_earlier_sessions_out(client, auth, world, app, remember):
    with app.app_context():
        officer_id = user_named("officer_a").id
    signed_in = {"username": "officer_a", "password": factories.PASSWORD}
    client.post("/login", data=dict(signed_in, remember="y") if remember else signed_in)
    assert client.get("/firms/").status_code == 200
    assert (client.get_cookie("remember_token") is not None) is remember
    if remember:
        client.delete_cookie("session")  # the browser was closed: only the remember cookie is left
        assert client.get("/firms/").status_code == 200
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": factories.PASSWORD})
    assert reset_password(admin, officer_id, world).status_code == 302
    response = client.get("/firms/")
    assert response.status_code == 302
    assert "/login" in response.location
    if remember:
        client.delete_cookie("session")
        assert client.get("/firms/").status_code == 302  # nor does the old remember cookie sign in again
    auth.login("officer_a", NEW_PASSWORD)
    assert client.get("/firms/").status_code == 200


def test_changing_other_fields_keeps_the_user_signed_in(client, auth, world, app):
    with app.app_context():
        officer_id = user_named("officer_a").id
    auth.login("officer_a")
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": factories.PASSWORD})
    assert reset_password(admin, officer_id, world, password="").status_code == 302
    assert client.get("/firms/").status_code == 200
