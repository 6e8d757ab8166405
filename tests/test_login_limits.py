"""Failed sign-ins are limited per account and per address, in the database or Redis (never memory),
with a lock-out message and every refusal audited."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import sqlalchemy as sa
from limits import parse

from config import TestConfig
from service_app import create_app
from service_app.deployment import ConfigurationError
from service_app.extensions import db
from service_app.models import AuditEvent, RateLimitCounter, User

from . import factories

WRONG = "not-the-password"


@pytest.fixture
def limits(app, monkeypatch):
    """Small limits for these tests: 3 failures per account, 5 per address."""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "3 per 15 minutes")
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "5 per 15 minutes")


def post_login(client, username, password, address="10.1.1.1"):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def audited(app, action):
    with app.app_context():
        return [e.after for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action))]


def test_an_account_locks_after_its_failures_even_for_the_right_password(client, world, app, limits):
    assert post_login(client, "officer_a", WRONG).status_code == 200
    assert post_login(client, "officer_a", WRONG).status_code == 200
    third = post_login(client, "officer_a", WRONG)
    assert third.status_code == 429
    assert "该账号登录失败次数过多" in third.text and "分钟" in third.text
    assert 0 < int(third.headers["Retry-After"]) <= 15 * 60
    right = post_login(client, "officer_a", factories.PASSWORD)
    assert right.status_code == 429  # locked: the password is not even checked
    assert client.get("/").status_code == 302
    assert audited(app, "auth.login_locked") == [
        {"username": "officer_a", "scope": "account", "until": audited(app, "auth.login_locked")[0]["until"]}
    ]
    assert [a["reason"] for a in audited(app, "auth.login_failed")] == ["wrong_password"] * 3


def test_another_account_and_another_address_are_not_locked(client, world, app, limits):
    for _ in range(3):
        post_login(client, "officer_a", WRONG)
    assert post_login(client, "supervisor", factories.PASSWORD).status_code == 302
    other = app.test_client()
    assert post_login(other, "officer_a", factories.PASSWORD, address="10.2.2.2").status_code == 429  # per account
    assert post_login(other, "district_a", factories.PASSWORD, address="10.2.2.2").status_code == 302


def test_an_address_locks_after_failures_on_many_accounts(client, world, app, limits):
    for n in range(5):
        assert post_login(client, f"nobody{n}", WRONG).status_code == (429 if n == 4 else 200)
    refused = post_login(client, "officer_a", factories.PASSWORD)
    assert refused.status_code == 429
    assert "此地址登录失败次数过多" in refused.text
    assert post_login(app.test_client(), "officer_a", factories.PASSWORD, address="10.9.9.9").status_code == 302
    assert {a["reason"] for a in audited(app, "auth.login_failed")} == {"unknown_user"}
    assert audited(app, "auth.login_locked")[0]["scope"] == "address"


def test_a_successful_sign_in_clears_the_account_failures(client, world, app, limits):
    for _ in range(2):
        post_login(client, "officer_a", WRONG)
    assert post_login(client, "officer_a", factories.PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(2):
        assert post_login(client, "officer_a", WRONG).status_code == 200


def test_the_lock_lifts_when_its_window_ends(client, world, app, limits):
    for _ in range(3):
        post_login(client, "officer_a", WRONG)
    with app.app_context():
        db.session.execute(sa.update(RateLimitCounter).values(expires_at=time.time() - 1))
        db.session.commit()
    assert post_login(client, "officer_a", factories.PASSWORD).status_code == 302


def test_inactive_and_unknown_users_are_audited_with_their_reason(client, world, app, limits):
    with app.app_context():
        db.session.scalars(sa.select(User).where(User.username == "district_a")).one().active = False
        db.session.commit()
    post_login(client, "district_a", factories.PASSWORD)
    post_login(client, "ghost", WRONG)
    assert post_login(client, "officer_a", factories.PASSWORD).status_code == 302
    reasons = {a["username"]: a["reason"] for a in audited(app, "auth.login_failed")}
    assert reasons == {"district_a": "inactive", "ghost": "unknown_user"}
    assert len(audited(app, "auth.login")) == 1


def test_the_counters_are_rows_in_the_database(client, world, app, limits):
    post_login(client, "officer_a", WRONG)
    post_login(client, "officer_a", WRONG)
    with app.app_context():
        counters = {c.key: c.count for c in db.session.scalars(sa.select(RateLimitCounter))}
    assert sorted(counters.values()) == [2, 2]
    assert any("login-account/officer_a" in key for key in counters)
    assert any("login-address/10.1.1.1" in key for key in counters)


def test_an_administrator_unlocks_an_account(client, world, app, runner, limits):
    for _ in range(3):
        post_login(client, "officer_a", WRONG)
    result = runner.invoke(args=["users", "unlock", "officer_a"])
    assert result.exit_code == 0, result.output
    assert post_login(client, "officer_a", factories.PASSWORD, address="10.3.3.3").status_code == 302
    assert audited(app, "auth.unlock") == [{"username": "officer_a"}]


def test_the_forwarded_address_is_counted_behind_the_proxy(database_url, world, app, monkeypatch):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        PROXY_FIX_X_FOR = 1
        LOGIN_LIMIT_PER_ADDRESS = "2 per 15 minutes"

    proxied = create_app(Config).test_client()
    for address in ("203.0.113.7", "203.0.113.7"):
        proxied.post(
            "/login",
            data={"username": "ghost", "password": WRONG},
            headers={"X-Forwarded-For": address},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
        keys = db.session.scalars(sa.select(RateLimitCounter.key)).all()
    assert {e.source_address for e in events} == {"203.0.113.7"}
    assert any("login-address/203.0.113.7" in key for key in keys)
    other = proxied.post(
        "/login",
        data={"username": "officer_a", "password": factories.PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.8"},
    )
    assert other.status_code == 302


def test_memory_storage_is_refused(database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        RATELIMIT_STORAGE_URI = "memory://"

    with pytest.raises(ConfigurationError, match="never per-process memory"):
        create_app(Config)


def test_an_unreachable_redis_gives_a_503_not_a_500(database_url, world):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        RATELIMIT_STORAGE_URI = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = create_app(Config).test_client().post("/login", data={"username": "officer_a", "password": WRONG})
    assert response.status_code == 503
    assert "登录暂时不可用" in response.text
    assert response.headers["Retry-After"]


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL is not set")
def test_redis_storage_is_shared_by_two_workers(database_url, world, app):
    """Two app instances (two workers, or two machines) count against the same Redis keys."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        RATELIMIT_STORAGE_URI = os.environ["TEST_REDIS_URL"]
        RATELIMIT_KEY_PREFIX = prefix
        LOGIN_LIMIT_PER_ACCOUNT = "3 per 15 minutes"

    first, second = create_app(Config), create_app(Config)
    try:
        for client in (first.test_client(), second.test_client(), first.test_client()):
            post_login(client, "officer_a", WRONG)
        assert post_login(second.test_client(), "officer_a", factories.PASSWORD).status_code == 429
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(RateLimitCounter)) == 0
        storage = second.extensions["login_limiter"].storage
        key = parse(Config.LOGIN_LIMIT_PER_ACCOUNT).key_for(prefix, "login-account", "officer_a")
        assert storage.get(key) == 3
    finally:
        import redis

        connection = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
        for key in connection.scan_iter(f"LIMITS:LIMITER/{prefix}/*"):
            connection.delete(key)
        connection.close()


def test_no_limit_is_looked_up_before_other_requests(app, client, world, monkeypatch):
    """Only sign-in is limited: the limiter's own check before every request is not installed."""
    limiter = app.extensions["login_limiter"]
    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    calls = []
    monkeypatch.setattr(type(limiter), "_check_request_limit", lambda *args, **kwargs: calls.append(args))
    client.get("/login")
    client.get("/healthz")
    assert calls == []
