"""A database that does not answer gives a 503 with a message (never a 500), and a restarted
PostgreSQL costs no request once it is back (pool_pre_ping), without restarting the app."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from config import TestConfig
from service_app import create_app
from service_app.extensions import db


def app_on(url: str, **settings):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    for name, value in settings.items():
        setattr(Config, name, value)
    return create_app(Config)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing",  # nothing listens on port 1
        "sqlite:////nonexistent-folder/service.db",  # the file cannot be opened
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/healthz", None),
        ("POST", "/login", {"username": "officer_a", "password": "x"}),
    ],
)
def test_an_unreachable_database_gives_a_503_with_a_message(url, method, path, data):
    client = app_on(url).test_client()
    response = client.open(path, method=method, data=data)
    assert response.status_code == 503
    assert "暂时无法连接数据库" in response.text
    assert response.headers["Retry-After"] == "30"
    as_json = client.open(path, method=method, data=data, headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and as_json.json["status"] == 503


def test_a_signed_in_page_gives_a_503_when_the_database_goes_away(database_url, world, monkeypatch):
    """The page cannot even load the user (nor the bell's count): the error page renders without them."""
    app = app_on(database_url)
    client = app.test_client()
    assert client.post("/login", data={"username": "officer_a", "password": "correct-horse-battery"}).status_code == 302

    def refuse(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with app.app_context():
        monkeypatch.setattr(db.session, "get", refuse)
        monkeypatch.setattr(db.session, "execute", refuse)
        response = client.get("/firms/")
    assert response.status_code == 503
    assert "暂时无法连接数据库" in response.text


@pytest.fixture
def postgres_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    return database_url


def terminate(url: str, application_name: str) -> int:
    """Kill every server process of this app's pool, as a PostgreSQL restart does."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        killed = conn.scalar(
            sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name},
        )
    engine.dispose()
    return int(killed or 0)


def test_the_pool_recovers_after_postgresql_restarts(postgres_url):
    name = f"restart-{uuid.uuid4().hex[:8]}"
    app = app_on(postgres_url, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": name}})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert terminate(postgres_url, name) >= 1
    assert client.get("/healthz").status_code == 200  # pre-ping found the dead connection and replaced it
    with app.app_context():
        db.engine.dispose()


def test_without_pre_ping_the_lost_connection_costs_one_503_not_a_500(postgres_url):
    name = f"restart-{uuid.uuid4().hex[:8]}"
    app = app_on(
        postgres_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False, "connect_args": {"application_name": name}},
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert terminate(postgres_url, name) >= 1
    assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").status_code == 200  # the pool was invalidated; no restart needed
    with app.app_context():
        db.engine.dispose()


def test_postgresql_restarts_under_load(postgres_url):
    """Four clients hammer a threaded server while every connection is killed five times: each
    answer is a 200 or a clean 503, and once the kills stop every answer is a 200 again."""
    name = f"load-{uuid.uuid4().hex[:8]}"
    app = app_on(postgres_url, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": name}})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    statuses: list[int] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            for path in ("/healthz", "/login"):
                try:
                    with urllib.request.urlopen(base + path, timeout=10) as response:  # noqa: S310 - loopback
                        statuses.append(response.status)
                except urllib.error.HTTPError as error:
                    statuses.append(error.code)

    clients = [threading.Thread(target=client) for _ in range(4)]
    try:
        for thread in clients:
            thread.start()
        for _ in range(5):
            time.sleep(0.3)
            terminate(postgres_url, name)
        time.sleep(0.3)
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert len(statuses) > 40
        after = []
        for _ in range(20):
            with urllib.request.urlopen(base + "/healthz", timeout=10) as response:  # noqa: S310 - loopback
                after.append(response.status)
        assert after == [200] * 20
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        with app.app_context():
            db.engine.dispose()
