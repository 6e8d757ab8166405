"""Scheduling by tier, visits, the daily sweep's idempotency, notifications, e-mail and the feed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from config import TestConfig
from service_app import create_app
from service_app.domain.followups import ExitCheck, FollowupStatus, RequestCategory, RequestStatus, VisitKind
from service_app.domain.tiers import FirmStatus, Tier
from service_app.extensions import db
from service_app.models import (
    CalendarDay,
    ExitChecklistItem,
    Firm,
    FirmRequest,
    Followup,
    Notification,
    TierCadence,
    User,
)

from .. import factories

TODAY = dt.date(2026, 11, 26)  # a Thursday
ROOT = Path(__file__).resolve().parents[2]


def open_followups(firm_id: int | None = None) -> list[Followup]:
    query = sa.select(Followup).where(Followup.status == FollowupStatus.OPEN)
    if firm_id is not None:
        query = query.where(Followup.firm_id == firm_id)
    return list(db.session.scalars(query))


@pytest.fixture
def tiered(ctx, world):
    """Firm A key service with officer_a; firm B observation without an officer."""
    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    firm_a = db.session.get(Firm, world.firm_a)
    firm_a.current_tier, firm_a.officer_id = Tier.KEY, officer.id
    db.session.get(Firm, world.firm_b).current_tier = Tier.OBSERVE
    factories.make_firm(firm_a.street, name="未评定企业")  # no tier: no follow-up
    db.session.commit()
    return world


def test_sweep_creates_one_open_followup_per_tiered_firm_and_is_idempotent(tiered):
    from service_app.followups.tasks import daily_sweep

    first = daily_sweep(TODAY)
    assert first["created"] == 2
    followup = open_followups(tiered.firm_a)[0]
    assert followup.tier == Tier.KEY
    assert followup.base_date == TODAY  # no visit, no assignment: counted from today
    assert followup.due_date == dt.date(2026, 12, 28)  # +30 = Sat 12-26 → Mon 12-28
    again = daily_sweep(TODAY)
    assert again["created"] == again["rescheduled"] == again["cancelled"] == again["notifications"] == 0
    assert len(open_followups()) == 2


def test_counted_from_the_start_of_the_tier(tiered):
    from service_app.domain.tiers import AssignmentMethod
    from service_app.followups.services import schedule_followups
    from service_app.models import TierAssignment

    db.session.add(TierAssignment(firm_id=tiered.firm_a, quarter="2026Q4", tier=Tier.KEY, method=AssignmentMethod.AUTO))
    db.session.commit()
    schedule_followups(TODAY)
    followup = open_followups(tiered.firm_a)[0]
    assert followup.base_date == dt.date(2026, 10, 1)
    assert followup.due_date == dt.date(2026, 11, 2)  # 10-31 is a Saturday


def test_tier_change_reschedules_by_the_new_cadence(tiered):
    from service_app.followups.services import schedule_followups

    schedule_followups(TODAY)
    firm = db.session.get(Firm, tiered.firm_a)
    firm.current_tier = Tier.OBSERVE
    db.session.commit()
    counts = schedule_followups(TODAY)
    assert counts.rescheduled == 1 and counts.created == 0
    followup = open_followups(firm.id)[0]
    assert followup.tier == Tier.OBSERVE
    assert followup.due_date == dt.date(2027, 2, 24)  # +90 = 2027-02-24, a Wednesday


def test_cadence_edits_apply_to_new_schedules(tiered):
    from service_app.followups.services import schedule_followups

    db.session.get(TierCadence, Tier.KEY).days = 10
    db.session.commit()
    schedule_followups(TODAY)
    assert open_followups(tiered.firm_a)[0].due_date == dt.date(2026, 12, 7)  # Sun 12-06 → Mon


def test_firms_leaving_the_roster_lose_their_followup(tiered):
    from service_app.followups.tasks import daily_sweep

    daily_sweep(TODAY)
    db.session.get(Firm, tiered.firm_a).status = FirmStatus.DEREGISTERED
    db.session.commit()
    assert daily_sweep(TODAY)["cancelled"] == 1
    assert open_followups(tiered.firm_a) == []


def test_visit_completes_and_schedules_the_next_with_the_exit_checklist(tiered):
    from service_app.followups.services import log_visit, schedule_followups

    firm = db.session.get(Firm, tiered.firm_a)
    firm.current_tier = Tier.EXIT
    db.session.commit()
    schedule_followups(TODAY)
    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    followup = open_followups(firm.id)[0]
    _visit, following = log_visit(
        followup,
        officer,
        visited_on=TODAY,
        kind=VisitKind.ONSITE,
        notes="租约年底到期",
        checks=[ExitCheck.LEASE],
        today=TODAY,
    )
    db.session.commit()
    assert db.session.get(Followup, followup.id).status == FollowupStatus.DONE
    assert following is not None and following.base_date == TODAY
    assert following.due_date == dt.date(2026, 12, 28)
    assert [i.item for i in db.session.scalars(sa.select(ExitChecklistItem))] == [ExitCheck.LEASE]
    # The next visit ticks another item; the first stays ticked.
    log_visit(
        following, officer, visited_on=TODAY, kind=VisitKind.PHONE, checks=[ExitCheck.LEASE, ExitCheck.TAX], today=TODAY
    )
    db.session.commit()
    assert {i.item for i in db.session.scalars(sa.select(ExitChecklistItem))} == {ExitCheck.LEASE, ExitCheck.TAX}
    assert len(open_followups(firm.id)) == 1


def test_a_followup_is_completed_once(tiered):
    from service_app.followups.services import FollowupError, log_visit, schedule_followups

    schedule_followups(TODAY)
    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    followup = open_followups(tiered.firm_a)[0]
    log_visit(followup, officer, visited_on=TODAY, kind=VisitKind.PHONE, today=TODAY)
    db.session.commit()
    with pytest.raises(FollowupError):
        log_visit(followup, officer, visited_on=TODAY, kind=VisitKind.PHONE, today=TODAY)
    db.session.rollback()
    with pytest.raises(FollowupError):
        log_visit(
            open_followups(tiered.firm_a)[0],
            officer,
            visited_on=TODAY + dt.timedelta(days=1),
            kind=VisitKind.PHONE,
            today=TODAY,
        )


def test_reschedule_needs_a_reason_and_lands_on_a_working_day(tiered):
    from service_app.followups.services import FollowupError, reschedule, schedule_followups

    db.session.add(CalendarDay(day=dt.date(2026, 12, 1), is_workday=False, name="测试停工"))
    db.session.commit()
    schedule_followups(TODAY)
    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    followup = open_followups(tiered.firm_a)[0]
    with pytest.raises(FollowupError):
        reschedule(followup, dt.date(2026, 12, 3), "  ", officer, today=TODAY)
    with pytest.raises(FollowupError):
        reschedule(followup, TODAY - dt.timedelta(days=1), "企业出差", officer, today=TODAY)
    assert reschedule(followup, dt.date(2026, 11, 29), "企业出差", officer, today=TODAY) == dt.date(2026, 11, 30)
    assert reschedule(followup, dt.date(2026, 12, 1), "企业出差", officer, today=TODAY) == dt.date(2026, 12, 2)


def test_request_lifecycle_and_deadline(tiered):
    from service_app.firm_requests.services import RequestError, advance, raise_request

    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    firm = db.session.get(Firm, tiered.firm_a)
    request = raise_request(
        firm, officer, category=RequestCategory.IP, description="商标被抢注", received_on=dt.date(2026, 9, 28)
    )
    # ten working days from 09-28 across National Day (10-01..08 off, 09-28 and 10-10 make-up days? see calendar)
    assert request.deadline > dt.date(2026, 10, 8)
    with pytest.raises(RequestError):
        advance(request, RequestStatus.CLOSED, officer)
    with pytest.raises(RequestError):
        advance(request, RequestStatus.ASSIGNED, officer)  # no owner
    advance(request, RequestStatus.ASSIGNED, officer, owner_department="区市场监管局")
    advance(request, RequestStatus.IN_PROGRESS, officer)
    with pytest.raises(RequestError):
        advance(request, RequestStatus.RESOLVED, officer)  # no resolution
    advance(request, RequestStatus.RESOLVED, officer, resolution="已协助提起异议")
    with pytest.raises(RequestError):
        advance(request, RequestStatus.REVISITED, officer)  # no satisfaction
    from service_app.domain.followups import Satisfaction

    advance(request, RequestStatus.REVISITED, officer, satisfaction=Satisfaction.SATISFIED)
    advance(request, RequestStatus.CLOSED, officer)
    db.session.commit()
    assert [s.status for s in request.steps] == list(RequestStatus)
    assert all(s.user_id == officer.id and s.created_at for s in request.steps)


def test_sweep_marks_overdue_escalates_and_notifies_once(tiered, app, monkeypatch):
    from service_app.firm_requests.services import advance, raise_request
    from service_app.followups.tasks import daily_sweep

    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    officer.email = "officer@example.cn"
    firm = db.session.get(Firm, tiered.firm_a)
    request = raise_request(
        firm, officer, category=RequestCategory.POLICY, description="补贴未兑现", received_on=dt.date(2026, 10, 9)
    )
    advance(request, RequestStatus.ASSIGNED, officer, owner=officer)
    db.session.commit()
    daily_sweep(dt.date(2026, 10, 9))
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(("to", message["To"], message["Subject"]))

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.example.cn")
    later = dt.date(2027, 1, 5)
    result = daily_sweep(later)
    assert result["marked_overdue"] == 1  # firm A's key visit; firm B's observation one is due 2027-01-07
    assert result["escalated_requests"] == 1
    kinds = {
        (n.user.username if hasattr(n, "user") else n.user_id, n.kind)
        for n in db.session.scalars(sa.select(Notification))
    }
    kinds_by_kind = {kind for _, kind in kinds}
    assert {"followups.overdue", "requests.overdue", "requests.escalated"} <= kinds_by_kind
    assert ("to", "officer@example.cn") in {(s[0], s[1]) for s in sent if s[0] == "to"}
    db.session.expire_all()  # the sweep wrote with set-based UPDATEs
    assert db.session.get(FirmRequest, request.id).escalated_at is not None
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    sent.clear()
    repeat = daily_sweep(later)
    assert repeat["notifications"] == repeat["marked_overdue"] == repeat["escalated_requests"] == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == before
    assert sent == []


def test_feed_holds_only_that_officers_followups(tiered):
    from service_app.followups.feed import feed, issue_token, revoke_token, user_for_token
    from service_app.followups.services import schedule_followups

    schedule_followups(TODAY)
    officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
    token = issue_token(officer)
    db.session.commit()
    assert officer.calendar_token_hash != token
    assert user_for_token(token).id == officer.id
    parsed = Calendar.from_ical(feed(officer, "临平新城", "http://x/"))
    events = parsed.walk("VEVENT")
    assert len(events) == 1
    assert "杭州甲街道服装有限公司" in str(events[0]["SUMMARY"])
    assert events[0].decoded("DTSTART") == dt.date(2026, 12, 28)
    revoke_token(officer)
    db.session.commit()
    assert user_for_token(token) is None


def test_app_factory_starts_no_scheduler(app):
    import apscheduler.schedulers.base as base

    assert not any(isinstance(value, base.BaseScheduler) for value in app.extensions.values())
    assert "scheduler" not in app.extensions


def test_jobs_are_declared_with_stable_ids():
    from service_app.scheduler import JOBS, MISFIRE_GRACE_SECONDS, build_scheduler

    assert {job.id for job in JOBS} == {
        "tiers.quarterly_proposal",
        "followups.daily_sweep",
        "exports.build_packs",
        "roster.recover_interrupted",
    }
    scheduler = build_scheduler(object())  # type: ignore[arg-type]
    sweep = scheduler.get_job("followups.daily_sweep")
    assert sweep.coalesce and sweep.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 3600
    assert str(sweep.trigger.timezone) == "Asia/Shanghai"
    assert "hour='7'" in str(sweep.trigger) and "minute='30'" in str(sweep.trigger)


def test_two_sweeps_at_once_create_nothing_twice(empty_database_url):
    """Two `flask followups sweep` processes on one database: one open follow-up per firm."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    from flask_migrate import upgrade

    other = create_app(Config)
    with other.app_context():
        upgrade()
        street = factories.make_street("临平街道", "330113001")
        for n in range(300):
            factories.make_firm(street, name=f"并发{n:03d}号有限公司", current_tier=list(Tier)[n % 4])
        db.session.commit()
    env = {**os.environ, "DATABASE_URL": empty_database_url, "SECRET_KEY": "x"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "followups", "sweep", "--today", "2026-11-26"]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), [o[1].decode()[-2000:] for o in outputs]
    with other.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Followup))
        firms = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Followup.firm_id))).where(Followup.status == FollowupStatus.OPEN)
        )
        db.session.remove()
        db.engine.dispose()
    assert total == firms == 300


def test_approving_a_proposal_schedules_by_the_new_tiers(tiered):
    from service_app.domain.quarters import Quarter
    from service_app.tiers.services import apply_proposal, propose_tiers

    proposal = propose_tiers(Quarter(2026, 4))
    apply_proposal(proposal, None)
    db.session.commit()
    tiered_firms = db.session.scalars(sa.select(Firm.id).where(Firm.current_tier.is_not(None))).all()
    assert tiered_firms
    assert sorted(f.firm_id for f in open_followups()) == sorted(tiered_firms)
    assert all(f.tier == db.session.get(Firm, f.firm_id).current_tier for f in open_followups())


def test_scheduler_run_lists_the_jobs_then_starts(app, monkeypatch):
    from apscheduler.schedulers.blocking import BlockingScheduler

    started = []
    monkeypatch.setattr(BlockingScheduler, "start", lambda self: started.append(self))
    result = app.test_cli_runner().invoke(args=["scheduler", "run"])
    assert result.exit_code == 0, result.output
    assert "followups.daily_sweep: next run" in result.output
    assert len(started) == 1


def test_sweep_command_prints_json(app, world):
    import json

    result = app.test_cli_runner().invoke(args=["followups", "sweep", "--today", "2026-11-26"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["day"] == "2026-11-26"
    bad = app.test_cli_runner().invoke(args=["followups", "sweep", "--today", "26/11/2026"])
    assert bad.exit_code == 2


def test_firm_edits_carry_the_open_followup_along(tiered):
    from service_app.firms.services import update_firm
    from service_app.followups.services import schedule_followups

    schedule_followups(TODAY)
    admin = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
    other = factories.make_user("officer_a2", "officer", [db.session.get(Firm, tiered.firm_a).street])
    db.session.commit()
    firm = db.session.get(Firm, tiered.firm_a)
    update_firm(firm, {"officer_id": other.id}, firm.version, admin)
    db.session.commit()
    assert open_followups(firm.id)[0].officer_id == other.id
    update_firm(firm, {"status": FirmStatus.DEREGISTERED}, firm.version, admin)
    db.session.commit()
    db.session.expire_all()
    assert open_followups(firm.id) == []
