"""Migrations build the whole schema from empty, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from config import TestConfig
from service_app import create_app
from service_app.extensions import db
from service_app.firms.services import FLAG_FIELDS


def test_upgrade_from_empty_matches_the_models(empty_database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
            assert differences == [], "models and migrations disagree; run flask db migrate"
            assert context.get_current_revision() is not None
        downgrade(revision="base")
        with db.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        db.engine.dispose()


def test_rebuilding_firms_keeps_the_rows_that_reference_them(empty_database_url):
    """0011 rebuilds the firms table on SQLite; the DROP must not cascade to metrics, and the
    rebuilt table still refuses a chain it does not know."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade(revision="0006")
        firm = {"id": 1, "credit_code": "91330113MA2XXXXXX1", "name": "甲", "street_id": 1, "status": "active"}
        firm |= {"version": 1, "created_at": dt.datetime(2026, 1, 1), "updated_at": dt.datetime(2026, 1, 1)}
        firm |= dict.fromkeys(FLAG_FIELDS, False)
        # Written before data_versions exists (0012): through the driver, past the app's write hook.
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("INSERT INTO streets (id, name, region_code) VALUES (1, '临平街道', '330113001')")
            marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
            columns, markers = ", ".join(firm), ", ".join(marker for _ in firm)
            insert = f"INSERT INTO firms ({columns}) VALUES ({markers})"  # noqa: S608 - the test's own names
            cursor.execute(insert, list(firm.values()))
            cursor.execute("INSERT INTO quarterly_metrics (firm_id, quarter) VALUES (1, '2026Q1')")
            raw.commit()
        finally:
            raw.close()
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM quarterly_metrics")).scalar() == 1
            with pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.text("UPDATE firms SET chain = 'textiles' WHERE id = 1"))
            conn.rollback()
            with pytest.raises(sa.exc.IntegrityError):  # foreign keys are enforced again afterwards
                conn.execute(sa.text("INSERT INTO quarterly_metrics (firm_id, quarter) VALUES (99, '2026Q1')"))
            conn.rollback()
        db.engine.dispose()
