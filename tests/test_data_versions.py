"""Data versions: which statements write which versioned tables, tokens replaced by the commits that
write them (and only those), and the figure cache kept under them."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from config import TestConfig
from service_app import create_app
from service_app.bulk import bulk_insert
from service_app.data_versions import VERSIONED_TABLES, FigureCache, current_tokens, tables_written
from service_app.domain.followups import VisitKind
from service_app.extensions import db
from service_app.models import DataVersion, Firm, Visit
from service_app.models.types import utcnow

from . import factories

FIRM_AND_CASCADES = {
    "firms",
    "quarterly_metrics",
    "tier_assignments",
    "followups",
    "visits",
    "firm_requests",
    "request_steps",
}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT * FROM firms", set()),
        ("  select count(*) from quarterly_metrics", set()),
        ("BEGIN IMMEDIATE", set()),
        ("PRAGMA busy_timeout=200", set()),
        ("INSERT INTO firms (name) VALUES (?)", {"firms"}),
        ('INSERT INTO "quarterly_metrics" ("firm_id") VALUES (%s)', {"quarterly_metrics"}),
        ("INSERT OR REPLACE INTO visits (id) VALUES (1)", {"visits"}),
        ("INSERT INTO public.visits (id) VALUES (1)", {"visits"}),
        ('UPDATE "public"."followups" SET status = 1', {"followups"}),
        ("TRUNCATE firms CASCADE", FIRM_AND_CASCADES),
        ("insert into visits (id) values (1) on conflict do nothing", {"visits"}),
        ("UPDATE followups SET status=? WHERE followups.id = ?", {"followups"}),
        ("\n  update Firms set chain = 'tech'", {"firms"}),
        ("DELETE FROM firm_requests WHERE id = 3", {"firm_requests", "request_steps"}),
        ("DELETE FROM firms WHERE firms.id IN (1, 2)", FIRM_AND_CASCADES),
        ("TRUNCATE TABLE tier_assignments", {"tier_assignments"}),
        ("UPDATE audit_events SET action = 'x'", set()),
        ("DELETE FROM users WHERE id = 1", set()),  # its cascades reach no versioned table
        ("INSERT INTO data_versions (table_name, token) VALUES ('firms', 'x')", set()),
        ("WITH recent AS (SELECT id FROM firms) SELECT count(*) FROM recent", set()),
        ("WITH gone AS (SELECT id FROM firms) DELETE FROM visits WHERE firm_id IN (SELECT id FROM gone)", {"visits"}),
        ("MERGE something unusual", set(VERSIONED_TABLES)),  # not understood: every table
    ],
)
def test_tables_written(app, statement, expected):
    with app.app_context():
        assert tables_written(statement) == expected


def tokens() -> dict[str, str]:
    return {name: token for name, token in db.session.execute(sa.select(DataVersion.table_name, DataVersion.token))}


def test_migration_gives_every_versioned_table_a_token(ctx):
    assert set(tokens()) == VERSIONED_TABLES


def test_a_commit_replaces_the_tokens_of_the_tables_it_wrote(ctx, world):
    before = tokens()
    firm = db.session.get(Firm, world.firm_a)
    firm.chain = "tech"
    db.session.commit()
    after = tokens()
    assert after["firms"] != before["firms"]
    assert {name for name in VERSIONED_TABLES if after[name] != before[name]} == {"firms"}

    factories.add_metric(firm, "2026Q3")
    db.session.flush()  # written, not committed: no new token yet, and none taken while it is pending
    assert tokens()["quarterly_metrics"] == after["quarterly_metrics"]
    assert current_tokens() == {}
    db.session.commit()
    assert tokens()["quarterly_metrics"] != after["quarterly_metrics"]
    assert current_tokens() == tokens()


def test_bulk_inserts_and_cascading_deletes_count(ctx, world):
    before = tokens()
    bulk_insert(
        Visit.__table__,
        [
            {
                "firm_id": world.firm_a,
                "visited_on": dt.date(2026, 11, 2),
                "kind": VisitKind.ONSITE,
                "participants": "",
                "notes": "",
                "created_at": utcnow(),
            }
        ],
    )
    db.session.commit()
    middle = tokens()
    assert {name for name in VERSIONED_TABLES if middle[name] != before[name]} == {"visits"}
    db.session.execute(sa.delete(Firm).where(Firm.id == world.firm_b))
    db.session.commit()
    after = tokens()
    assert {name for name in VERSIONED_TABLES if after[name] != middle[name]} == FIRM_AND_CASCADES


def test_reads_and_rollbacks_leave_the_tokens(ctx, world):
    before = tokens()
    db.session.scalar(sa.select(sa.func.count(Firm.id)))
    db.session.commit()
    db.session.get(Firm, world.firm_a).name = "杭州不保存有限公司"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert tokens() == before


def test_writes_on_a_bare_connection_and_in_autocommit_get_tokens(empty_database_url):
    from flask_migrate import upgrade

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        street = sa.text("INSERT INTO streets (name, region_code) VALUES ('临平街道', '330113001')")
        with db.engine.begin() as conn:
            conn.execute(street)
            before = {n: t for n, t in conn.execute(sa.select(DataVersion.table_name, DataVersion.token))}
            conn.execute(
                sa.insert(Firm.__table__).values(
                    credit_code=factories.credit_code(),
                    name="杭州裸连接有限公司",
                    street_id=sa.select(sa.text("id")).select_from(sa.text("streets")).scalar_subquery(),
                    status="active",
                    above_scale=False,
                    is_high_tech=False,
                    is_specialised=False,
                    is_listed=False,
                    is_chain_leader=False,
                    is_abnormal=False,
                    has_serious_violation=False,
                    version=1,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        with db.engine.connect() as conn:
            middle = {n: t for n, t in conn.execute(sa.select(DataVersion.table_name, DataVersion.token))}
        assert middle["firms"] != before["firms"] and middle["visits"] == before["visits"]
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.update(Firm.__table__).values(chain="tech"))
        with db.engine.connect() as conn:
            after = {n: t for n, t in conn.execute(sa.select(DataVersion.table_name, DataVersion.token))}
            chain = conn.scalar(sa.select(Firm.chain))
        # SQLite here always runs in a transaction (configure_sqlite's BEGIN), which closing rolls back.
        changed = db.engine.dialect.name == "postgresql"
        assert (chain is not None, after["firms"] != middle["firms"]) == (changed, changed)
        db.engine.dispose()


def test_figure_cache_keeps_by_tokens_and_evicts_the_oldest():
    cache = FigureCache(size=2)
    made: list[str] = []

    def make(value: str):
        return lambda: made.append(value) or value

    assert cache.fetch("a", ("firms",), {"firms": "t1"}, make("one")) == "one"
    assert cache.fetch("a", ("firms",), {"firms": "t1"}, make("two")) == "one"  # kept
    assert cache.fetch("a", ("firms",), {"firms": "t2"}, make("three")) == "three"  # a new token
    assert cache.fetch("a", ("firms",), {}, make("four")) == "four"  # no token: made, not kept
    assert cache.fetch("a", ("firms",), {}, make("five")) == "five"
    assert cache.fetch("b", ("firms",), {"firms": "t2"}, make("six")) == "six"
    assert cache.fetch("a", ("firms",), {"firms": "t1"}, make("seven")) == "seven"  # evicted
    assert made == ["one", "three", "four", "five", "six", "seven"]
