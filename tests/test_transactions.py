"""How a request's transaction ends: one that only read commits (psycopg keeps its prepared
statements across a COMMIT, not across a ROLLBACK); one that wrote, holds unsaved changes, failed
or broke is rolled back as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import scoped_session, sessionmaker

from service_app.database import close_session, end_reading_transaction
from service_app.extensions import db
from service_app.models import Street, User


@pytest.fixture
def ends(app: Flask) -> Iterator[list[str]]:
    """db.session on the engine itself, as in production (real BEGIN, COMMIT and ROLLBACK, not the
    tests' savepoints); yields how each of its transactions ended."""
    joined = db.session
    with app.app_context():
        engine = db.engine
    db.session = scoped_session(sessionmaker(bind=engine), scopefunc=joined.registry.scopefunc)  # type: ignore[attr-defined]
    seen: list[str] = []

    def on_commit(_connection):
        seen.append("commit")

    def on_rollback(_connection):
        seen.append("rollback")

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "rollback", on_rollback)
        with app.app_context():
            db.session.remove()
        db.session = joined


def test_a_get_that_only_read_commits(app, ends):
    with app.test_request_context("/firms/"):
        db.session.execute(sa.select(User.id).limit(1)).all()
        end_reading_transaction(None)
        assert ends == ["commit"]
        assert not db.session().in_transaction()
        close_session()
    assert ends == ["commit"]  # nothing left for the session's close to roll back


def test_pages_that_only_read_end_with_commit(app, ends):
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert ends == ["commit"] * 3


@pytest.mark.parametrize("statement", ["UPDATE", "WITH"])
def test_a_transaction_that_wrote_is_rolled_back(app, ends, statement):
    with app.test_request_context("/firms/"):
        if statement == "UPDATE":
            db.session.execute(sa.update(User).where(User.id == -1).values(display_name="x"))
        else:  # a common table expression may write: not taken for a read
            db.session.execute(sa.text("WITH one AS (SELECT 1 AS n) SELECT n FROM one"))
        end_reading_transaction(None)
        assert ends == []
        assert db.session().in_transaction()
        close_session()
    assert ends == ["rollback"]


def test_unsaved_changes_are_rolled_back_not_flushed(app, ends):
    name = "未保存街道"
    with app.test_request_context("/firms/"):
        db.session.execute(sa.select(User.id).limit(1)).all()
        db.session.add(Street(name=name))
        end_reading_transaction(None)
        close_session()
    assert ends == ["rollback"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Street.name == name)) == 0


def test_what_a_form_read_after_committing_commits(app, ends):
    """A form commits, then reads for its redirect (the commit expired what it loaded)."""
    with app.test_request_context("/firms/1/edit", method="POST"):
        db.session.execute(sa.select(User.id).limit(1)).all()
        db.session.commit()
        db.session.execute(sa.select(User.id).limit(1)).all()
        end_reading_transaction(None)
        close_session()
    assert ends == ["commit", "commit"]


@pytest.mark.parametrize(("value", "ends_with"), [("same", "commit"), ("changed", "rollback")])
def test_an_attribute_set_as_it_was_changes_nothing(app, ends, value, ends_with):
    """An import's preview sets the batch's counts again to show them: as they were, nothing is
    written, so the transaction still only read; changed, it is rolled back and nothing is kept."""
    name = "未改名"
    with app.app_context():
        street = Street(name=f"事务测试街道{value}")
        db.session.add(street)
        db.session.commit()
        street_id = street.id
    ends.clear()
    try:
        with app.test_request_context("/roster/imports/1"):
            street = db.session.get(Street, street_id)
            street.name = street.name if value == "same" else name
            assert street in db.session.dirty
            end_reading_transaction(None)
            close_session()
        assert ends == [ends_with]
        with app.app_context():
            assert db.session.get(Street, street_id).name == f"事务测试街道{value}"
    finally:
        with app.app_context():
            db.session.execute(sa.delete(Street).where(Street.id == street_id))
            db.session.commit()


def test_a_request_that_failed_is_rolled_back(app, ends):
    with app.test_request_context("/firms/"):
        db.session.execute(sa.select(User.id).limit(1)).all()
        end_reading_transaction(RuntimeError("the view failed"))
        assert ends == []
        close_session()
    assert ends == ["rollback"]


def test_a_broken_transaction_is_rolled_back_without_an_error(app, ends, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: a failed statement leaves the transaction unusable until ROLLBACK")
    with app.test_request_context("/firms/"):
        with pytest.raises(sa.exc.DataError):
            db.session.execute(sa.text("SELECT 1 / 0"))
        end_reading_transaction(None)
        assert ends == []
        close_session()
    assert ends == ["rollback"]


def test_a_request_without_a_transaction_is_left_alone(app, ends):
    with app.test_request_context("/firms/"):
        end_reading_transaction(None)
        close_session()
    assert ends == []
