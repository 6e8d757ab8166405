"""An officer's follow-up round in a real browser: my follow-ups, log a visit that raises a
request, see the next due date, then move the request on a step.

New strings are not translated yet, so locators use name attributes and data-testid, and the
outcome is checked in the live database as well as on the page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from service_app.domain.followups import FollowupStatus, RequestStatus, due_date
from service_app.domain.tiers import Tier
from service_app.extensions import db
from service_app.models import Firm, FirmRequest, Followup, User, Visit

from .conftest import Seeded, login

#: A 临平 firm no other browser test changes (the search tests only read it).
FIRM = "杭州临平云织服饰有限公司"


@dataclass
class Round:
    """The seeded follow-up and the day the live app takes as today."""

    firm_id: int
    followup_id: int
    today: dt.date


@pytest.fixture
def followup_round(live_app: Flask, seeded: Seeded) -> Iterator[Round]:
    """Make FIRM a key firm of officer_a with its follow-up scheduled; undo it afterwards."""
    from service_app.domain.workdays import china_today as today
    from service_app.followups.services import schedule_followups

    firm_id = seeded.firms[FIRM]
    with live_app.app_context():
        officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        firm = db.session.get(Firm, firm_id)
        firm.current_tier = Tier.KEY
        firm.officer_id = officer.id
        db.session.flush()
        schedule_followups(today(), [firm_id])
        db.session.commit()
        followup_id = db.session.scalars(
            sa.select(Followup.id).where(Followup.firm_id == firm_id, Followup.status == FollowupStatus.OPEN)
        ).one()
        db.session.remove()
    yield Round(firm_id, followup_id, today())
    with live_app.app_context():
        for model in (FirmRequest, Visit, Followup):  # requests point at visits, visits at follow-ups
            db.session.execute(sa.delete(model).where(model.firm_id == firm_id))
        db.session.execute(sa.update(Firm).where(Firm.id == firm_id).values(current_tier=None, officer_id=None))
        db.session.commit()
        db.session.remove()


def test_officer_logs_a_visit_with_a_request_and_moves_the_request_on(
    page: Page, base_url: str, live_app: Flask, followup_round: Round
) -> None:
    from service_app.followups.services import work_calendar

    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/followups/")
    row = page.get_by_test_id("followup-row").filter(has_text=FIRM)
    expect(row).to_have_count(1)

    row.locator(f"a[href='/followups/{followup_round.followup_id}']").click()
    expect(page).to_have_url(f"{base_url}/followups/{followup_round.followup_id}")
    form = page.get_by_test_id("visit-form")
    expect(form.locator("input[name='visit-visited_on']")).to_have_value(followup_round.today.isoformat())
    form.locator("input[name='visit-participants']").fill("王总经理")
    form.locator("textarea[name='visit-notes']").fill("新产线已投产，用工缺口 30 人")
    form.locator("select[name='visit-request_category']").select_option("talent")
    form.locator("textarea[name='visit-request_description']").fill("招聘熟练缝纫工 30 名")
    with page.expect_navigation():
        page.get_by_test_id("log-visit").click()

    with live_app.app_context():
        following = db.session.scalars(
            sa.select(Followup).where(Followup.firm_id == followup_round.firm_id, Followup.status == "open")
        ).one()
        expected_due = due_date(followup_round.today, 30, work_calendar())
        raised = db.session.scalars(sa.select(FirmRequest).where(FirmRequest.firm_id == followup_round.firm_id)).one()
        assert db.session.get(Followup, followup_round.followup_id).status == FollowupStatus.DONE
        db.session.remove()
    assert following.due_date == expected_due
    expect(page).to_have_url(f"{base_url}/followups/{following.id}")
    expect(page.locator(".alert-success")).to_contain_text(expected_due.isoformat())
    expect(page.get_by_test_id("due-date")).to_have_text(expected_due.isoformat())

    page.locator(f"a[href='/requests/{raised.id}']").click()
    expect(page).to_have_url(f"{base_url}/requests/{raised.id}")
    expect(page.get_by_test_id("request-steps").locator("li")).to_have_count(1)
    received_label = page.get_by_test_id("request-status").inner_text()

    page.locator("input[name='owner_department']").fill("区人社局")
    with page.expect_navigation():
        page.get_by_test_id("request-step").click()

    expect(page.locator(".alert-success")).to_have_count(1)
    expect(page.get_by_test_id("request-steps").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("request-steps")).to_contain_text("区人社局")
    expect(page.get_by_test_id("request-status")).not_to_have_text(received_label)

    with page.expect_navigation():
        page.get_by_test_id("request-step").click()  # 办理 needs nothing more
    expect(page.get_by_test_id("request-steps").locator("li")).to_have_count(3)
    with live_app.app_context():
        moved = db.session.get(FirmRequest, raised.id)
        assert (moved.status, moved.owner_department) == (RequestStatus.IN_PROGRESS, "区人社局")
        db.session.remove()


def test_officer_cannot_open_another_streets_followup(
    page: Page, base_url: str, live_app: Flask, seeded: Seeded
) -> None:
    from service_app.domain.workdays import china_today as today
    from service_app.followups.services import schedule_followups

    donghu = seeded.firms["杭州东湖明远电子商务有限公司"]
    with live_app.app_context():
        db.session.execute(sa.update(Firm).where(Firm.id == donghu).values(current_tier=Tier.OBSERVE))
        schedule_followups(today(), [donghu])
        db.session.commit()
        followup_id = db.session.scalars(sa.select(Followup.id).where(Followup.firm_id == donghu)).one()
        db.session.remove()
    try:
        login(page, base_url, "officer_a")
        response = page.goto(f"{base_url}/followups/{followup_id}")
        assert response is not None and response.status == 404
        page.goto(f"{base_url}/followups/?officer=all&view=all")
        expect(page.get_by_test_id("followup-row").filter(has_text=re.compile("东湖"))).to_have_count(0)
    finally:
        with live_app.app_context():
            db.session.execute(sa.delete(Followup).where(Followup.firm_id == donghu))
            db.session.execute(sa.update(Firm).where(Firm.id == donghu).values(current_tier=None))
            db.session.commit()
            db.session.remove()
