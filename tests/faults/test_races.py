"""Two people doing the same thing at the same moment, through the web app on a real database
(SQLite file or PostgreSQL), each on a connection of its own:

- two officers saving one firm: one save lands, the other is refused with the changes shown;
- two supervisors approving one proposal: one approval lands (once), the other is told;
- two imports of a file with new headers confirmed at once: both keep the column mapping.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from config import TestConfig
from service_app import create_app
from service_app.domain.quarters import Quarter
from service_app.extensions import db
from service_app.models import Firm, ProposalStatus, TierAssignment, TierProposal

from .. import factories

QUARTER = Quarter(2026, 3)


@pytest.fixture
def shared(empty_database_url: str) -> Iterator[Flask]:
    """An app on a database of its own (committed data, as in production), two clients' worth."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        street = factories.make_street("临平街道", "330113001")
        factories.make_user("officer_a", "officer", [street])
        factories.make_user("officer_b", "officer", [street])
        factories.make_user("boss_a", "supervisor")
        factories.make_user("boss_b", "supervisor")
        for n in range(12):
            firm = factories.make_firm(street, name=f"杭州并发{n:02d}号有限公司", established=dt.date(2010, 1, 1))
            for quarter in QUARTER.trailing(4):
                factories.add_metric(firm, quarter.key, revenue=str(100 + 10 * n), tax=str(5 + n), floor_area_m2=500)
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": factories.PASSWORD})
    assert response.status_code == 302
    return client


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # reported below, not lost in a thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(isinstance(r, BaseException) for r in results), results
    return results


def test_two_officers_saving_one_firm(shared: Flask) -> None:
    with shared.app_context():
        firm_id = db.session.scalar(sa.select(Firm.id).order_by(Firm.id))
        version = db.session.get(Firm, firm_id).version
        db.session.remove()
    clients = {name: signed_in(shared, name) for name in ("officer_a", "officer_b")}

    def save(name: str) -> Callable[[], object]:
        def call():
            return clients[name].post(
                f"/firms/{firm_id}/edit",
                data={"version": str(version), "status": "active", "contact_name": name, "notes": f"{name} 的记录"},
            )

        return call

    responses = at_once(save("officer_a"), save("officer_b"))
    statuses = sorted(r.status_code for r in responses)  # type: ignore[attr-defined]
    assert statuses == [200, 302], statuses  # one saved and redirected; the other shown the form again
    refused = next(r for r in responses if r.status_code == 200)  # type: ignore[attr-defined]
    assert "未保存" in refused.get_data(as_text=True)  # type: ignore[attr-defined]
    with shared.app_context():
        firm = db.session.get(Firm, firm_id)
        assert firm.version == version + 1 and firm.contact_name in ("officer_a", "officer_b")
        db.session.remove()


def test_two_supervisors_approving_one_proposal(shared: Flask) -> None:
    from service_app.tiers.services import propose_tiers

    with shared.app_context():
        proposal_id = propose_tiers(QUARTER).id
        db.session.commit()
        db.session.remove()
    clients = [signed_in(shared, name) for name in ("boss_a", "boss_b")]
    responses = at_once(*(lambda c=c: c.post(f"/tiers/proposals/{proposal_id}/apply") for c in clients))
    assert all(r.status_code == 302 for r in responses)  # type: ignore[attr-defined]
    messages = [c.get(f"/tiers/proposals/{proposal_id}").get_data(as_text=True) for c in clients]
    told = [m for m in messages if "此分层建议已批准或已放弃" in m or "他人刚刚批准或放弃了此分层建议" in m]
    approved = [m for m in messages if "已批准：" in m]
    assert len(told) == 1 and len(approved) == 1, [m[m.find("alert") : m.find("alert") + 200] for m in messages]
    with shared.app_context():
        proposal = db.session.get(TierProposal, proposal_id)
        assert proposal.status == ProposalStatus.APPLIED
        assignments = db.session.scalar(
            sa.select(sa.func.count()).select_from(TierAssignment).where(TierAssignment.quarter == QUARTER.key)
        )
        assert assignments == 12  # written once
        db.session.remove()


def test_two_imports_of_new_headers_remember_their_mapping_at_once(shared: Flask) -> None:
    """The first confirmation of a header row remembers its mapping. Two at once used to read "none
    kept", both insert, and the second fail on the unique signature (a 500 for the second officer).
    Here the second writes while the first has inserted and not committed: it waits, then replaces."""
    from service_app.database import begin_writing
    from service_app.models import AuditEvent, ImportMapping, ImportMode, User
    from service_app.roster.plan import ImportOptions
    from service_app.roster.services import _plan, _remember_mapping

    data = "统一社会信用代码,企业名称,所在街道,联系人\n,杭州并发00号有限公司,临平街道,新联系人\n".encode()
    options = ImportOptions(ImportMode.UPSERT, False, False, None)
    first_wrote, second_started = threading.Event(), threading.Event()

    def confirm(username: str, first: bool) -> None:
        with shared.app_context():
            if not first:
                first_wrote.wait(30)
                second_started.set()
            begin_writing()  # as a confirming request does (SQLite: BEGIN IMMEDIATE waits here)
            user = db.session.scalars(sa.select(User).where(User.username == username)).one()
            _remember_mapping(_plan(data, user, options), user)  # PostgreSQL: the second waits here
            if first:
                first_wrote.set()
                second_started.wait(30)
                threading.Event().wait(0.3)  # the second is now at its insert
            db.session.commit()
            db.session.remove()

    errors: list[BaseException] = []

    def run(username: str, first: bool) -> None:
        try:
            confirm(username, first)
        except BaseException as exc:  # reported below, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=args) for args in (("boss_a", True), ("boss_b", False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with shared.app_context():
        kept = db.session.scalars(sa.select(ImportMapping)).all()
        assert len(kept) == 1 and kept[0].mapping  # one row for the header, the mapping in it
        bosses = db.session.scalars(sa.select(User.id).where(User.username.in_(["boss_a", "boss_b"]))).all()
        assert kept[0].user_id in bosses
        events = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "import.mapping")
        )
        # PostgreSQL: the second read "none kept" before the first committed, and replaced it. SQLite:
        # the second began after the first committed, found the same mapping kept, and wrote nothing.
        assert events == (2 if db.engine.dialect.name == "postgresql" else 1)
        db.session.remove()
