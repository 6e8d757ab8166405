"""Signing in and out, the `next` parameter, and the audit of every attempt."""

import pytest
import sqlalchemy as sa

from service_app.extensions import db
from service_app.models import AuditEvent, User


def test_login_page_renders_in_chinese_by_default(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "登录" in response.text


def test_pages_need_sign_in(client):
    response = client.get("/firms/")
    assert response.status_code == 302
    assert "/login?next=" in response.location


def test_sign_in_and_out(client, auth, world):
    response = auth.login("officer_a")
    assert response.status_code == 302
    assert response.location == "/"
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_and_audited(client, auth, world, app):
    response = auth.login("officer_a", "wrong-password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.text
    assert client.get("/").status_code == 302
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "auth.login_failed" in actions


def test_successful_sign_in_is_audited(auth, world, app):
    auth.login("officer_a")
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
        user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        assert event.user_id == user.id
        assert user.last_login_at is not None


def test_inactive_user_cannot_sign_in(client, auth, world, app):
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        user.active = False
        db.session.commit()
    auth.login("officer_a")
    assert client.get("/").status_code == 302


# The open-redirect vectors of every redirect are in test_security.py.
def test_local_next_path_is_followed(auth, world):
    response = auth.login("officer_a", next_url="/firms/?q=abc")
    assert response.location == "/firms/?q=abc"


def test_logout_needs_post(client, auth, world):
    auth.login("officer_a")
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize("kind", ["current", "bare id", "old digest", "not a number", "unknown user"])
def test_session_ids_carry_a_password_digest(world, app, kind):
    from service_app.auth.services import load_user

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        session_id = {
            "current": user.get_id(),
            "bare id": str(user.id),  # a session from before digests: signed in again
            "old digest": f"{user.id}:0123456789abcdef",
            "not a number": "²:0123456789abcdef",
            "unknown user": f"99999:{user.get_id().partition(':')[2]}",
        }[kind]
        assert (load_user(session_id) is user) is (kind == "current")
