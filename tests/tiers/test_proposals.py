"""Proposals against the database: propose, override, approve once, stale, discard, the scheduled job."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from service_app.domain.quarters import Quarter
from service_app.domain.tiers import Tier
from service_app.extensions import db
from service_app.models import (
    Firm,
    Notification,
    ProposalItem,
    QuarterlyMetric,
    TierAssignment,
    TierOverride,
    TierProposal,
    User,
)

from .. import factories

Q = Quarter(2026, 4)


@pytest.fixture
def roster(app, world):
    """24 firms in street A with four quarters of figures each, plus the world's two."""
    with app.app_context():
        street = db.session.get(Firm, world.firm_a).street
        for n in range(24):
            firm = factories.make_firm(street, name=f"杭州评定{n:02d}号有限公司", established=dt.date(2010, 1, 1))
            for quarter in Q.trailing(5)[:-1]:
                factories.add_metric(
                    firm, quarter.key, revenue=str(100 + n * 10), tax=str(5 + n), employees=10 + n, floor_area_m2=500
                )
        db.session.commit()
    return world


def test_propose_counts_and_items(ctx, roster):
    from service_app.tiers.services import propose_tiers

    proposal = propose_tiers(Q)
    db.session.commit()
    assert sum(proposal.summary["counts"].values()) == 26
    assert proposal.summary["insufficient_data"] == 2  # the two firms without metrics
    assert proposal.summary["changes"]["new"] == 26
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProposalItem)) == 26
    again = propose_tiers(Q)
    assert again.id == proposal.id  # a quarter has one live proposal


# Each firm's figures as (quarter, revenue, tax, employees, rd_spend, floor_area_m2, land_mu);
# the window for 2026Q4 is 2025Q4..2026Q3, the year before 2024Q4..2025Q3.
EIGHT = [q.key for q in (Q - 1).trailing(8)]
WINDOW_CASES = {
    "all eight, odd decimals": [(k, "0.10", "0.20", 3, "0.30", "800.00", None) for k in EIGHT],
    "gaps and empty cells": [
        ("2024Q4", "12.34", None, 5, None, None, "12.50"),
        ("2025Q4", None, "1.01", None, "2.02", "300.00", None),
        ("2026Q1", "56.78", "3.03", 7, None, None, "9.75"),
        ("2026Q2", None, None, None, None, None, None),
    ],
    "latest row has no area": [
        ("2026Q1", "10.00", "1.00", 4, "1.00", "500.00", None),
        ("2026Q3", "20.00", "2.00", 0, None, None, None),
    ],
    "zero revenue at the end": [(k, "0.00", "0.00", 2, None, "100.00", None) for k in EIGHT[-2:]],
    "outside the window only": [
        ("2024Q3", "99.00", "9.00", 9, "9.00", "9.00", None),
        ("2026Q4", "99.00", "9.00", 9, "9.00", "9.00", None),
    ],
    "no metrics": [],
}


def test_the_database_totals_match_the_engine(ctx, world):
    from service_app.domain.scoring import QuarterFigures, window_keys, window_totals
    from service_app.tiers.facts import load_facts

    street = db.session.get(Firm, world.firm_a).street
    expected = {}
    for name, rows in WINDOW_CASES.items():
        firm = factories.make_firm(street, name=f"杭州窗口{name}有限公司")
        figures = {}
        for key, revenue, tax, employees, rd, area, land in rows:
            numbers = {"rd_spend": rd, "floor_area_m2": area, "land_mu": land}
            metric = QuarterlyMetric(
                firm_id=firm.id,
                quarter=key,
                revenue=revenue and Decimal(revenue),
                tax=tax and Decimal(tax),
                employees=employees,
                **{k: v and Decimal(v) for k, v in numbers.items()},
            )
            db.session.add(metric)
            figures[key] = QuarterFigures(
                *(None if v is None else float(v) for v in (revenue, tax)),
                employees,
                *(None if v is None else float(v) for v in (rd, area, land)),
            )
        expected[firm.id] = (name, window_totals(figures, window_keys(Q - 1)))
    db.session.flush()
    for facts in load_facts(Q, with_previous=False):
        if facts.firm_id in expected:
            name, totals = expected[facts.firm_id]
            assert (facts.totals or window_totals({}, window_keys(Q - 1))) == totals, name


def test_apply_writes_assignments_once(ctx, roster):
    from service_app.tiers.services import TierError, apply_proposal, propose_tiers

    proposal = propose_tiers(Q)
    counts = apply_proposal(proposal, None)
    db.session.commit()
    assert counts["firms"] == 26
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TierAssignment)) == 26
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Firm).where(Firm.current_tier.is_not(None))) == 26
    with pytest.raises(TierError):
        apply_proposal(proposal, None)


def test_stored_lines_are_the_engines_decisions(ctx, roster):
    from service_app.domain.scoring import RuleSet, decide_tiers
    from service_app.tiers.facts import load_facts
    from service_app.tiers.services import change_of, propose_tiers

    firm = db.session.get(Firm, roster.firm_a)
    firm.current_tier = Tier.KEY
    db.session.add(TierOverride(firm_id=roster.firm_b, tier=Tier.CULTIVATE, reason='挂联企业 "重点" \\ 项目'))
    db.session.commit()
    facts = load_facts(Q, with_previous=False)
    expected = {d.firm_id: (f.current_tier, d) for f, d in zip(facts, decide_tiers(facts, RuleSet(), Q), strict=True)}
    proposal = propose_tiers(Q)
    db.session.commit()
    lines = db.session.scalars(sa.select(ProposalItem).where(ProposalItem.proposal_id == proposal.id)).all()
    assert len(lines) == len(expected) == 26
    for line in lines:
        current, decision = expected[line.firm_id]
        assert (line.current_tier, line.proposed_tier, line.pool, line.insufficient_data) == (
            current,
            decision.tier,
            decision.pool,
            decision.insufficient_data,
        )
        assert line.change == change_of(current, decision.tier)
        for stored, computed in ((line.score, decision.score), (line.percentile, decision.percentile)):
            assert stored == (None if computed is None else Decimal(f"{computed:.4f}"))
        assert line.reasons == decision.reasons  # read back, the same lists
    raw = db.session.scalar(
        sa.select(sa.cast(ProposalItem.reasons, sa.Text)).where(ProposalItem.firm_id == roster.firm_b)
    )
    assert "重点" in raw and "\\u" not in raw  # compact, Chinese as characters
    if db.session.connection().dialect.name == "sqlite":  # written from UTF-8 bytes, stored as text
        stored = db.session.connection().exec_driver_sql("SELECT DISTINCT typeof(reasons) FROM proposal_items")
        assert stored.scalars().all() == ["text"]
    assert json.loads(raw)[0]["text"] == '人工调整为辅导培育：挂联企业 "重点" \\ 项目'


def test_approval_audits_each_tier_change_once(ctx, roster):
    from service_app.models import AuditEvent
    from service_app.tiers.services import apply_proposal, override_item, propose_tiers

    supervisor = db.session.scalars(sa.select(User).where(User.username == "supervisor")).one()
    proposal = propose_tiers(Q)
    lines = {
        line.firm_id: line
        for line in db.session.scalars(sa.select(ProposalItem).where(ProposalItem.proposal_id == proposal.id))
    }
    unchanged = next(firm_id for firm_id in lines if firm_id not in (roster.firm_a, roster.firm_b))
    db.session.get(Firm, unchanged).current_tier = lines[unchanged].proposed_tier  # no change for this one
    lines[unchanged].current_tier, lines[unchanged].change = lines[unchanged].proposed_tier, "same"
    db.session.get(Firm, roster.firm_a).current_tier = Tier.EXIT
    lines[roster.firm_a].current_tier = Tier.EXIT
    override_item(lines[roster.firm_a], Tier.KEY, "重大招商项目", None, supervisor)
    db.session.flush()
    counts = apply_proposal(proposal, supervisor, allow_stale=True)
    db.session.commit()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "firm.tier")).all()
    assert counts == {"firms": 26, "changed": 25} and len(events) == 25
    by_firm = {event.object_id: event for event in events}
    assert str(unchanged) not in by_firm
    overridden = by_firm[str(roster.firm_a)]
    assert overridden.before == {"current_tier": "exit"}
    assert overridden.after == {"current_tier": "key", "_quarter": Q.key, "_proposal": proposal.id}
    assert (overridden.user_id, overridden.object_type) == (supervisor.id, "firm")
    new = by_firm[str(roster.firm_b)]
    assert new.before == {"current_tier": None}
    assert new.after["current_tier"] == lines[roster.firm_b].proposed_tier.value


def test_stale_proposal_is_refused_until_recomputed(ctx, roster):
    from service_app.tiers.services import TierError, apply_proposal, is_stale, propose_tiers, recompute_proposal

    proposal = propose_tiers(Q)
    db.session.commit()
    firm = db.session.get(Firm, roster.firm_a)
    factories.add_metric(firm, "2026Q3", revenue="5000")
    db.session.commit()
    assert is_stale(proposal)
    with pytest.raises(TierError) as info:
        apply_proposal(proposal, None)
    assert info.value.code == "stale"
    db.session.rollback()
    fresh = recompute_proposal(proposal, None)
    db.session.commit()
    assert not is_stale(fresh)
    apply_proposal(fresh, None)


def test_override_with_expiry_is_applied_and_used_later(ctx, roster):
    from service_app.tiers.services import apply_proposal, override_item, propose_tiers

    supervisor = db.session.scalars(sa.select(User).where(User.username == "supervisor")).one()
    proposal = propose_tiers(Q)
    item = db.session.scalars(sa.select(ProposalItem).where(ProposalItem.firm_id == roster.firm_a)).one()
    override_item(item, Tier.KEY, "重大招商项目", "2027Q1", supervisor)
    apply_proposal(proposal, supervisor)
    db.session.commit()
    assignment = db.session.scalars(sa.select(TierAssignment).where(TierAssignment.firm_id == roster.firm_a)).one()
    assert (assignment.tier, assignment.method.value) == (Tier.KEY, "manual")
    later = propose_tiers(Q + 1)
    line = db.session.scalars(
        sa.select(ProposalItem).where(ProposalItem.proposal_id == later.id, ProposalItem.firm_id == roster.firm_a)
    ).one()
    assert line.proposed_tier == Tier.KEY and line.reasons[0]["code"] == "override"
    expired = propose_tiers(Q + 2)
    line = db.session.scalars(
        sa.select(ProposalItem).where(ProposalItem.proposal_id == expired.id, ProposalItem.firm_id == roster.firm_a)
    ).one()
    assert line.reasons[0]["code"] != "override"


def test_interrupted_apply_leaves_nothing(ctx, roster, monkeypatch):
    from service_app.tiers import services

    proposal = services.propose_tiers(Q)
    db.session.commit()

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full half-way")

    # The audit events are written after the assignments and the firms' tiers.
    monkeypatch.setattr(services, "_audit_tier_changes", broken)
    with pytest.raises(RuntimeError):
        services.apply_proposal(proposal, None)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TierAssignment)) == 0
    assert db.session.get(TierProposal, proposal.id).status.value == "draft"


def test_scheduled_job_twice_leaves_one_proposal_and_notifies_once(ctx, roster):
    from service_app.domain.workdays import first_working_day
    from service_app.tiers.tasks import quarterly_proposal

    day = first_working_day(Q)
    assert quarterly_proposal(day - dt.timedelta(days=1)) is None  # before the first working day
    first = quarterly_proposal(day)
    second = quarterly_proposal(day)
    assert first == second
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TierProposal)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2  # admin and supervisor
    assert db.session.get(TierProposal, first).status.value == "draft"  # the job never approves


def test_app_factory_starts_no_scheduler(app):
    import apscheduler.schedulers.base as base

    assert not any(isinstance(v, base.BaseScheduler) for v in app.extensions.values())


class TestWeb:
    def test_officers_cannot_review_or_approve(self, client, auth, app, roster):
        from service_app.tiers.services import propose_tiers

        with app.app_context():
            proposal_id = propose_tiers(Q).id
            db.session.commit()
        auth.login("officer_a")
        assert client.get(f"/tiers/proposals/{proposal_id}").status_code == 403
        assert client.post(f"/tiers/proposals/{proposal_id}/apply").status_code == 403
        with app.app_context():
            assert db.session.get(TierProposal, proposal_id).status.value == "draft"

    def test_supervisor_reviews_overrides_and_approves(self, client, auth, app, roster):
        auth.login("supervisor")
        response = client.post("/tiers/proposals", data={"quarter": "2026年第四季度"})
        assert response.status_code == 302
        page = client.get(response.location).text
        assert 'data-testid="matrix"' in page
        proposal_id = int(response.location.split("/")[-1])
        with app.app_context():
            item_id = db.session.scalars(sa.select(ProposalItem.id).where(ProposalItem.firm_id == roster.firm_a)).one()
        client.post(
            f"/tiers/proposals/{proposal_id}/items/{item_id}/override", data={"tier": "key", "reason": "重大项目"}
        )
        assert client.post(f"/tiers/proposals/{proposal_id}/apply").status_code == 302
        with app.app_context():
            assert db.session.get(Firm, roster.firm_a).current_tier == Tier.KEY

    def test_transitions_report_and_download(self, client, auth, app, roster):
        from service_app.tiers.services import apply_proposal, propose_tiers

        with app.app_context():
            apply_proposal(propose_tiers(Q), None)
            db.session.commit()
        auth.login("district_a")
        page = client.get("/tiers/transitions", query_string={"from": "2026Q3", "to": "2026Q4"})
        assert page.status_code == 200
        assert "杭州乙街道" not in page.text  # another street's firm is not listed
        download = client.get("/tiers/transitions", query_string={"from": "2026Q3", "to": "2026Q4", "format": "xlsx"})
        assert download.status_code == 200
        assert "filename*=UTF-8''" in download.headers["Content-Disposition"]


def test_cli_propose_apply_explain(runner, app, roster):
    result = runner.invoke(args=["tiers", "propose", "--quarter", "2026Q4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["counts"]) == {"key", "cultivate", "observe", "exit"}
    assert set(data["changes"]) == {"up", "down", "new", "same"}
    assert data["insufficient_data"] == 2
    applied = runner.invoke(args=["tiers", "apply", str(data["proposal_id"])])
    assert applied.exit_code == 0, applied.output
    again = runner.invoke(args=["tiers", "apply", str(data["proposal_id"])])
    assert again.exit_code == 1
    with app.app_context():
        code = db.session.get(Firm, roster.firm_a).credit_code
    explained = runner.invoke(args=["tiers", "explain", code, "--quarter", "2026Q4"])
    assert explained.exit_code == 0, explained.output
    assert "2026Q4" in explained.output
    assert runner.invoke(args=["tiers", "propose", "--quarter", "2026Q9"]).exit_code != 0
