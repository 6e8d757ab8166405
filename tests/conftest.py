"""Fixtures: one migrated database per run, a rollback per test, a client, a runner and auth.

Set TEST_DATABASE_URL to a PostgreSQL URL to run the same suite against PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from config import TestConfig, normalise_database_url
from service_app import create_app
from service_app.extensions import db
from service_app.models import User

from . import factories


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = normalise_database_url(os.environ.get("TEST_DATABASE_URL"))
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def reset_database(url: str) -> None:
    """Drop everything in the test database, so migrations start from empty."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()  # a SQLite test database is a new file in a temporary folder


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database, emptied and migrated to head once per run."""
    url = _database_url(tmp_path_factory)
    reset_database(url)
    return url


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A brand-new empty database of the same kind as the test database."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    """The application on the test database, built by `db upgrade` like production."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    application = create_app(Config)
    with application.app_context():
        upgrade()
        db.engine.dispose()
    yield application
    with application.app_context():
        db.engine.dispose()  # close pooled connections before the interpreter does


@pytest.fixture(autouse=True)
def _rollback(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs inside one outer transaction that is rolled back afterwards.

    Requests commit to savepoints on the same connection, so views behave as in production
    while nothing outlives the test.
    """
    if "app" not in request.fixturenames:
        yield
        return
    application: Flask = request.getfixturevalue("app")
    with application.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False),
        scopefunc=original.registry.scopefunc,  # type: ignore[attr-defined]
    )
    try:
        yield
    finally:
        with application.app_context():
            db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client; each test gets fresh cookies."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    """The CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for tests that call services directly (not with the client)."""
    with app.app_context():
        yield app


class AuthActions:
    """Sign in and out through the real login form, or straight into the session."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str, password: str = factories.PASSWORD, next_url: str = ""):
        return self._client.post("/login", data={"username": username, "password": password, "next": next_url})

    def enter(self, username: str) -> None:
        """Be signed in as `username` without the login form, as Flask-Login's session would hold it:
        for sweeps that make many requests per role, which a sign-in limit must not count."""
        with self._client.application.app_context():
            session_id = db.session.scalars(sa.select(User).where(User.username == username)).one().get_id()
        with self._client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """Sign-in helper bound to the test's client."""
    return AuthActions(client)


@dataclass
class World:
    """Two streets, a user of each role and one firm per street, by id."""

    street_a: int
    street_b: int
    firm_a: int
    firm_b: int


@pytest.fixture
def world(app: Flask) -> World:
    """The standard cast: admin, supervisor, officer_a, district_a, each firm per street."""
    with app.app_context():
        street_a = factories.make_street("临平街道", "330113001")
        street_b = factories.make_street("东湖街道", "330113002")
        factories.make_user("admin", "admin")
        factories.make_user("supervisor", "supervisor")
        factories.make_user("officer_a", "officer", [street_a])
        factories.make_user("district_a", "district", [street_a])
        firm_a = factories.make_firm(street_a, name="杭州甲街道服装有限公司")
        firm_b = factories.make_firm(street_b, name="杭州乙街道贸易有限公司")
        db.session.commit()
        return World(street_a.id, street_b.id, firm_a.id, firm_b.id)
