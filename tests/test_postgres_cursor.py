"""The PostgreSQL cursor whose description builds its columns only when read: whatever reads the
description sees what psycopg's own cursor would show, however late it reads it."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from service_app.database import DescribingOnDemandCursor
from service_app.deployment import engine_options
from service_app.extensions import db
from service_app.models import Street


@pytest.fixture
def postgres(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    url = sa.make_url(database_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, cursor_factory=DescribingOnDemandCursor
    ) as connection:
        yield connection


def described(description) -> list[tuple[object, ...]]:
    """Each column as the DB-API's 7-tuple (name, type code, sizes, precision, scale, null_ok)."""
    return [tuple(column) for column in description]


QUERY = "SELECT 1 AS one, 'x'::text AS label, now() AS at, 2.5::numeric(6, 2) AS amount"


def test_the_description_is_psycopg_s_own(postgres):
    plain = psycopg.Cursor(postgres)  # psycopg's own, for comparison
    plain.execute(QUERY)
    expected = described(plain.description)

    cursor = postgres.cursor()
    cursor.execute(QUERY)
    description = cursor.description
    assert len(description) == 4
    assert described(description) == expected
    assert [column.name for column in description[1:3]] == ["label", "at"]
    assert description[-1].type_display == "numeric(6,2)"
    assert "label" in repr(description)


def test_read_after_the_cursor_moved_on_it_still_describes_its_own_result(postgres):
    cursor = postgres.cursor()
    cursor.execute(QUERY)
    first = cursor.description  # not read yet
    cursor.execute("SELECT 'later' AS other")
    assert [column.name for column in first] == ["one", "label", "at", "amount"]
    assert first[0].type_code == 23  # int4
    assert [column.name for column in cursor.description] == ["other"]


def test_a_statement_without_rows_has_none_and_an_empty_select_has_no_columns(postgres):
    cursor = postgres.cursor()
    cursor.execute("SET application_name = 'described'")
    assert cursor.description is None
    cursor.execute("SELECT")
    assert cursor.description is not None
    assert list(cursor.description) == []


def test_the_app_s_postgresql_connections_use_it(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        with db.engine.connect() as connection:
            assert isinstance(connection.connection.driver_connection.cursor(), DescribingOnDemandCursor)
            # and SQLAlchemy reads results through it as before, on a first run and on cached ones
            for _ in range(2):
                rows = connection.execute(sa.select(Street.id, Street.name).order_by(Street.id).limit(3)).all()
                assert all(isinstance(row.name, str) for row in rows)


def test_engine_options_give_postgresql_the_cursor_and_keep_what_was_configured():
    options = engine_options("postgresql+psycopg://db/x", {"connect_args": {"application_name": "a"}})
    assert options["connect_args"]["cursor_factory"] is DescribingOnDemandCursor
    assert options["connect_args"]["application_name"] == "a"
    assert "connect_args" not in engine_options("sqlite:///x.db", {})


class FakeResult:
    """A PGresult's part that psycopg's Column reads: one int4 column named `total_rows`."""

    nfields = 1

    def fname(self, _index: int) -> bytes:
        return b"total_rows"

    def ftype(self, _index: int) -> int:
        return 23

    def fmod(self, _index: int) -> int:
        return -1

    def fsize(self, _index: int) -> int:
        return 4


def test_psycopg_s_column_reads_no_more_of_a_cursor_than_the_result_source_holds():
    """Without a database: if a psycopg upgrade made Column read another attribute of its cursor,
    the slotted _ResultSource would fail here."""
    from service_app.database import _ResultSource

    column = psycopg.Column(_ResultSource(FakeResult(), "utf-8", psycopg.adapters), 0)
    assert (column.name, column.type_code, column.internal_size, column.type_display) == ("total_rows", 23, 4, "int4")
