"""Follow-ups, requests, settings, the bell and the calendar feed, through the web like a user.

Assertions rest on status codes, data-testid attributes, flash categories and the database,
not on English text: the interface is Chinese by default and new strings are translated later.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from service_app.domain.followups import (
    DEFAULT_CADENCE_DAYS,
    DEFAULT_LIMIT_DAYS,
    FollowupStatus,
    RequestCategory,
    RequestStatus,
    Satisfaction,
    due_date,
)
from service_app.domain.tiers import Tier
from service_app.extensions import db
from service_app.models import (
    CalendarDay,
    Firm,
    FirmRequest,
    Followup,
    Notification,
    RequestCategoryLimit,
    Street,
    TierCadence,
    User,
    Visit,
    user_streets,
)
from service_app.notify import Note, write

from .. import factories

TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # the app's Asia/Shanghai day


@dataclass
class Desk:
    """The world plus officers on both streets, tiers, follow-ups and a request per street."""

    street_a: int
    street_b: int
    firm_a: int  # street A, officer_a, key tier
    firm_a2: int  # street A, officer_a2, observe tier
    firm_b: int  # street B, officer_b, cultivate tier
    officer_a: int
    officer_a2: int
    officer_b: int
    followup_a: int
    followup_a2: int
    followup_b: int
    request_a: int
    request_b: int


def _user_id(username: str) -> int:
    return db.session.scalars(sa.select(User.id).where(User.username == username)).one()


def _open_followup(firm_id: int) -> Followup:
    return db.session.scalars(
        sa.select(Followup).where(Followup.firm_id == firm_id, Followup.status == FollowupStatus.OPEN)
    ).one()


def _give_tier(firm_id: int, tier: Tier, officer_id: int) -> None:
    firm = db.session.get(Firm, firm_id)
    firm.current_tier = tier
    firm.officer_id = officer_id


@pytest.fixture
def desk(app, world) -> Desk:
    """Tiers and officers for the world's firms, their follow-ups scheduled, a request each."""
    from service_app.firm_requests.services import raise_request
    from service_app.followups.services import schedule_followups

    with app.app_context():
        street_a = db.session.get(Street, world.street_a)
        street_b = db.session.get(Street, world.street_b)
        officer_a2 = factories.make_user("officer_a2", "officer", [street_a])
        officer_b = factories.make_user("officer_b", "officer", [street_b])
        officer_a = _user_id("officer_a")
        firm_a2 = factories.make_firm(street_a, name="杭州甲街道第二机械有限公司")
        _give_tier(world.firm_a, Tier.KEY, officer_a)
        _give_tier(firm_a2.id, Tier.OBSERVE, officer_a2.id)
        _give_tier(world.firm_b, Tier.CULTIVATE, officer_b.id)
        db.session.flush()
        schedule_followups(TODAY)
        db.session.commit()
        admin = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
        request_a, request_b = (
            raise_request(
                db.session.get(Firm, firm_id),
                admin,
                category=RequestCategory.FINANCING,
                description="贷款贴息",
                received_on=TODAY,
            ).id
            for firm_id in (world.firm_a, world.firm_b)
        )
        db.session.commit()
        return Desk(
            street_a=world.street_a,
            street_b=world.street_b,
            firm_a=world.firm_a,
            firm_a2=firm_a2.id,
            firm_b=world.firm_b,
            officer_a=officer_a,
            officer_a2=officer_a2.id,
            officer_b=officer_b.id,
            followup_a=_open_followup(world.firm_a).id,
            followup_a2=_open_followup(firm_a2.id).id,
            followup_b=_open_followup(world.firm_b).id,
            request_a=request_a,
            request_b=request_b,
        )


def flashed(client) -> list[str]:
    """Categories of the messages flashed and not yet shown (after a redirect not followed); clears them."""
    with client.session_transaction() as session:
        return [category for category, _message in session.pop("_flashes", [])]


def count_testid(page: str, testid: str) -> int:
    return page.count(f'data-testid="{testid}"')


def tab_count(page: str, view: str) -> int:
    found = re.search(rf'data-testid="tab-{view}"[^>]*>[^<]*<span class="badge[^"]*">(\d+)</span>', page)
    assert found, f"tab {view} not found"
    return int(found.group(1))


# --- permissions ------------------------------------------------------------------------------

ROLES = ("admin", "supervisor", "officer_a", "district_a", None)
ALL_IN = {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 403, None: 302}
FORM_IN = {"admin": 400, "supervisor": 400, "officer_a": 400, "district_a": 403, None: 302}
OTHER_STREET = {"admin": 200, "supervisor": 200, "officer_a": 404, "district_a": 403, None: 302}
OTHER_STREET_FORM = {"admin": 400, "supervisor": 400, "officer_a": 404, "district_a": 403, None: 302}
MANAGERS = {"admin": 200, "supervisor": 200, "officer_a": 403, "district_a": 403, None: 302}
MANAGERS_FORM = {"admin": 400, "supervisor": 400, "officer_a": 403, "district_a": 403, None: 302}

# (method, route, {role: status}); POSTs send an empty form, so allowed roles get 400 and nothing is saved.
MATRIX = [
    ("GET", "/followups/", ALL_IN),
    ("GET", "/followups/calendar", ALL_IN),
    ("GET", "/followups/{followup_a}", ALL_IN),
    ("GET", "/followups/{followup_b}", OTHER_STREET),
    ("POST", "/followups/{followup_a}/visit", FORM_IN),
    ("POST", "/followups/{followup_b}/visit", OTHER_STREET_FORM),
    ("POST", "/followups/{followup_a}/reschedule", FORM_IN),
    ("POST", "/followups/{followup_b}/reschedule", OTHER_STREET_FORM),
    ("POST", "/followups/{followup_a}/reassign", MANAGERS_FORM),
    ("GET", "/followups/reassign", MANAGERS),
    ("POST", "/followups/reassign", MANAGERS_FORM),
    (
        "GET",
        "/followups/settings",
        {"admin": 200, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302},
    ),
    (
        "POST",
        "/followups/settings",
        {"admin": 400, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302},
    ),
    ("GET", "/followups/feed", ALL_IN),
    ("GET", "/followups/feed/not-a-token.ics", {role: 404 for role in ROLES}),
    ("GET", "/requests/", ALL_IN),
    ("GET", "/requests/new?firm_id={firm_a}", ALL_IN),
    ("GET", "/requests/new?firm_id={firm_b}", OTHER_STREET),
    ("POST", "/requests/new?firm_id={firm_a}", FORM_IN),
    ("POST", "/requests/new?firm_id={firm_b}", OTHER_STREET_FORM),
    ("GET", "/requests/{request_a}", ALL_IN),
    ("GET", "/requests/{request_b}", OTHER_STREET),
    ("POST", "/requests/{request_a}", FORM_IN),
    ("POST", "/requests/{request_b}", OTHER_STREET_FORM),
    ("GET", "/notifications", {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302}),
    (
        "POST",
        "/notifications/read",
        {"admin": 302, "supervisor": 302, "officer_a": 302, "district_a": 302, None: 302},
    ),
]

CASES = [
    pytest.param(method, route, role, expected[role], id=f"{role}-{method}-{route}")
    for method, route, expected in MATRIX
    for role in ROLES
]


@pytest.mark.parametrize(("method", "route", "role", "status"), CASES)
def test_permission_matrix(client, auth, desk, method, route, role, status):
    if role:
        auth.login(role)
    url = route.format(**vars(desk))
    response = client.open(url, method=method, data={} if method == "POST" else None)
    assert response.status_code == status
    if role is None and status == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize(
    "url",
    [
        "/followups/?day=2026-02-30&street=x&tier=nope&view=bogus&page=999&officer=12abc",
        "/followups/?officer=999999&q=%25_",
        "/followups/calendar?month=2026-13",
        "/followups/calendar?month=0001-01",
        "/followups/calendar?month=9999-12",
        "/followups/calendar?month=garbage&officer=all",
        "/requests/?status=bogus&category=nope&street=x&overdue=1&mine=1&q=%25&page=999",
        "/followups/987654",
        "/requests/987654",
    ],
)
@pytest.mark.parametrize("role", ["admin", "officer_a"])
def test_junk_parameters_never_fail(client, auth, desk, role, url):
    auth.login(role)
    assert client.get(url).status_code in (200, 404)


HUGE = "99999999999999999999"  # past a 64-bit integer (PostgreSQL's int4 ids fail from 2**31)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", f"/followups/{HUGE}"),
        ("GET", f"/requests/{HUGE}"),
        ("GET", f"/requests/new?firm_id={HUGE}"),
        ("GET", f"/followups/?street={HUGE}"),
        ("GET", f"/requests/?street={HUGE}"),
        ("POST", "/notifications/read"),
        ("GET", f"/firms/{HUGE}"),
        ("GET", f"/firms/?street={HUGE}"),
        ("GET", f"/firms/?page={HUGE}"),
        ("GET", "/firms/2147483648"),
    ],
)
def test_ids_past_64_bits_are_not_found(client, auth, desk, method, url):
    auth.login("admin")
    response = client.open(url, method=method, data={"id": HUGE} if method == "POST" else None)
    assert response.status_code in (200, 404)


# --- my follow-ups ----------------------------------------------------------------------------


@pytest.fixture
def tabs(app, desk) -> Desk:
    """officer_a's follow-ups: firm_a overdue by 3 days, one due today, one well ahead."""
    from service_app.followups.services import schedule_followups

    with app.app_context():
        street = db.session.get(Street, desk.street_a)
        today_firm = factories.make_firm(street, name="杭州甲街道今日到期有限公司")
        later_firm = factories.make_firm(street, name="杭州甲街道下月到期有限公司")
        _give_tier(today_firm.id, Tier.KEY, desk.officer_a)
        _give_tier(later_firm.id, Tier.KEY, desk.officer_a)
        db.session.flush()
        schedule_followups(TODAY)
        for firm_id, due in (
            (desk.firm_a, TODAY - dt.timedelta(days=3)),
            (today_firm.id, TODAY),
            (later_firm.id, TODAY + dt.timedelta(days=40)),
            (desk.firm_a2, TODAY - dt.timedelta(days=1)),  # officer_a2's, overdue
        ):
            db.session.execute(
                sa.update(Followup)
                .where(Followup.firm_id == firm_id, Followup.status == FollowupStatus.OPEN)
                .values(due_date=due)
            )
        db.session.commit()
    return desk


def test_my_followups_tabs_and_counts(client, auth, tabs):
    auth.login("officer_a")
    page = client.get("/followups/").text
    assert (tab_count(page, "overdue"), tab_count(page, "week"), tab_count(page, "upcoming")) == (1, 1, 1)
    assert tab_count(page, "all") == 3
    assert count_testid(page, "followup-row") == 1  # opens on the overdue tab
    assert "杭州甲街道服装有限公司" in page
    week = client.get("/followups/?view=week").text
    assert count_testid(week, "followup-row") == 1
    assert "杭州甲街道今日到期有限公司" in week
    upcoming = client.get("/followups/?view=upcoming").text
    assert "杭州甲街道下月到期有限公司" in upcoming
    everything = client.get("/followups/?view=all").text
    assert count_testid(everything, "followup-row") == 3
    # Rows are by due date: overdue, today, later.
    order = [
        everything.index(n)
        for n in ("杭州甲街道服装有限公司", "杭州甲街道今日到期有限公司", "杭州甲街道下月到期有限公司")
    ]
    assert order == sorted(order)
    assert "杭州甲街道第二机械有限公司" not in everything  # officer_a2's


def test_officer_may_see_its_streets_followups(client, auth, tabs):
    auth.login("officer_a")
    page = client.get("/followups/?officer=all&view=all").text
    assert count_testid(page, "followup-row") == 4
    assert "杭州甲街道第二机械有限公司" in page
    assert "杭州乙街道贸易有限公司" not in page  # street B's


def test_supervisor_sees_everyone_or_one_officer(client, auth, tabs):
    auth.login("supervisor")
    assert count_testid(client.get("/followups/?view=all").text, "followup-row") == 5
    page = client.get(f"/followups/?view=all&officer={tabs.officer_a2}").text
    assert count_testid(page, "followup-row") == 1
    assert tab_count(page, "overdue") == 1


def test_calendar_shows_the_month(client, auth, tabs):
    auth.login("officer_a")
    page = client.get(f"/followups/calendar?month={TODAY:%Y-%m}")
    assert page.status_code == 200
    assert count_testid(page.text, "calendar") == 1
    assert "杭州甲街道今日到期有限公司" in page.text
    assert "alert alert-warning" not in page.text  # chinese-calendar knows this year


def test_calendar_warns_for_a_year_the_holiday_calendar_does_not_know(client, auth, desk):
    auth.login("officer_a")
    page = client.get("/followups/calendar?month=2031-02")
    assert page.status_code == 200
    assert "2031-02" in page.text
    assert "alert alert-warning" in page.text


def test_calendar_warning_goes_once_an_admin_enters_that_years_holidays(client, auth, app, desk):
    with app.app_context():
        db.session.add(CalendarDay(day=dt.date(2031, 1, 1), is_workday=False, name="元旦"))
        db.session.commit()
    auth.login("officer_a")
    assert "alert alert-warning" not in client.get("/followups/calendar?month=2031-02").text


# --- logging a visit --------------------------------------------------------------------------


def _visit_form(**values: str) -> dict[str, str]:
    form = {
        "visit-visited_on": TODAY.isoformat(),
        "visit-kind": "onsite",
        "visit-participants": "张经理",
        "visit-notes": "产能扩张顺利",
        "visit-request_category": "",
        "visit-request_urgency": "normal",
        "visit-request_description": "",
    }
    form.update({f"visit-{key}": value for key, value in values.items()})
    return form


def test_logging_a_visit_completes_it_and_schedules_the_next(client, auth, app, desk):
    from service_app.followups.services import work_calendar

    auth.login("officer_a")
    response = client.post(
        f"/followups/{desk.followup_a}/visit",
        data=_visit_form(request_category="financing", request_urgency="urgent", request_description="需要贷款"),
    )
    assert response.status_code == 302
    assert flashed(client) == ["success"]
    with app.app_context():
        done = db.session.get(Followup, desk.followup_a)
        assert done.status == FollowupStatus.DONE
        visit = db.session.get(Visit, done.visit_id)
        assert (visit.visited_on, visit.officer_id, visit.participants) == (TODAY, desk.officer_a, "张经理")
        following = _open_followup(desk.firm_a)
        assert following.id != done.id
        assert following.base_date == TODAY
        assert following.officer_id == desk.officer_a
        assert following.due_date == due_date(TODAY, 30, work_calendar())  # key tier: 30 days
        raised = db.session.scalars(sa.select(FirmRequest).where(FirmRequest.visit_id == visit.id)).one()
        assert (raised.category, raised.status, raised.firm_id) == (
            RequestCategory.FINANCING,
            RequestStatus.RECEIVED,
            desk.firm_a,
        )
        assert raised.deadline > TODAY
    assert urlsplit(response.headers["Location"]).path == f"/followups/{following.id}"
    page = client.get(f"/followups/{following.id}").text
    assert f'data-testid="due-date">{following.due_date.isoformat()}<' in page


def test_the_next_visit_uses_the_admins_cadence(client, auth, app, desk):
    from service_app.followups.services import work_calendar

    with app.app_context():
        db.session.get(TierCadence, Tier.KEY).days = 14
        db.session.commit()
    auth.login("officer_a")
    client.post(f"/followups/{desk.followup_a}/visit", data=_visit_form())
    with app.app_context():
        assert _open_followup(desk.firm_a).due_date == due_date(TODAY, 14, work_calendar())


def _nothing_written(app, desk) -> None:
    with app.app_context():
        assert db.session.get(Followup, desk.followup_a).status == FollowupStatus.OPEN
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FirmRequest)) == 2  # the desk's own


def test_a_visit_in_the_future_is_refused(client, auth, app, desk):
    auth.login("officer_a")
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    response = client.post(
        f"/followups/{desk.followup_a}/visit",
        data=_visit_form(visited_on=tomorrow, request_category="ip", request_description="商标被仿冒"),
    )
    assert response.status_code == 302
    assert flashed(client) == ["danger"]
    _nothing_written(app, desk)


@pytest.mark.parametrize(
    "values",
    [
        {"visited_on": ""},
        {"visited_on": "2026-02-30"},
        {"kind": "carrier-pigeon"},
        {"request_category": "ip", "request_description": "  "},  # a request needs its description
        {"request_category": "astrology", "request_description": "x"},
        {"checks": "nonsense"},
    ],
)
def test_an_invalid_visit_form_is_refused(client, auth, app, desk, values):
    auth.login("officer_a")
    response = client.post(f"/followups/{desk.followup_a}/visit", data=_visit_form(**values))
    assert response.status_code == 400
    assert "alert-danger" in response.text
    _nothing_written(app, desk)


def test_a_visit_before_the_base_date_is_refused(client, auth, app, desk):
    auth.login("officer_a")
    before = (TODAY - dt.timedelta(days=1)).isoformat()
    assert client.post(f"/followups/{desk.followup_a}/visit", data=_visit_form(visited_on=before)).status_code == 302
    assert flashed(client) == ["danger"]
    _nothing_written(app, desk)


def test_a_completed_followup_cannot_be_logged_twice(client, auth, app, desk):
    auth.login("officer_a")
    client.post(f"/followups/{desk.followup_a}/visit", data=_visit_form())
    assert flashed(client) == ["success"]
    response = client.post(f"/followups/{desk.followup_a}/visit", data=_visit_form())
    assert response.status_code == 302
    assert flashed(client) == ["danger"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 1
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(Followup).where(Followup.firm_id == desk.firm_a))
            == 2
        )


def test_exit_checklist_items_are_ticked_once(client, auth, app, desk):
    from service_app.models import ExitChecklistItem

    with app.app_context():
        db.session.execute(sa.update(Followup).where(Followup.id == desk.followup_a).values(tier=Tier.EXIT))
        db.session.get(Firm, desk.firm_a).current_tier = Tier.EXIT
        db.session.commit()
    auth.login("officer_a")
    data = _visit_form()
    data["visit-checks"] = ["plan", "tax"]  # type: ignore[assignment]
    assert client.post(f"/followups/{desk.followup_a}/visit", data=data).status_code == 302
    with app.app_context():
        ticked = db.session.scalars(sa.select(ExitChecklistItem.item).where(ExitChecklistItem.firm_id == desk.firm_a))
        assert sorted(ticked) == ["plan", "tax"]
        assert count_testid(client.get(f"/followups/{_open_followup(desk.firm_a).id}").text, "exit-checklist") == 1


# --- rescheduling -----------------------------------------------------------------------------


def _day_off_ahead(app) -> tuple[dt.date, dt.date]:
    """The first day off at least a week ahead, and the working day it moves to."""
    from service_app.followups.services import work_calendar

    with app.app_context():
        calendar = work_calendar()
    day = TODAY + dt.timedelta(days=7)
    while calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    return day, calendar.next_working_day(day)


def test_reschedule_needs_a_reason(client, auth, app, desk):
    auth.login("officer_a")
    with app.app_context():
        before = db.session.get(Followup, desk.followup_a).due_date
    response = client.post(
        f"/followups/{desk.followup_a}/reschedule",
        data={"reschedule-due_date": (TODAY + dt.timedelta(days=3)).isoformat(), "reschedule-reason": "  "},
    )
    assert response.status_code == 400
    assert "alert-danger" in response.text
    with app.app_context():
        followup = db.session.get(Followup, desk.followup_a)
        assert (followup.due_date, followup.reschedule_reason) == (before, None)


def test_reschedule_to_a_day_off_lands_on_the_next_working_day(client, auth, app, desk):
    day_off, landed = _day_off_ahead(app)
    assert landed != day_off
    auth.login("officer_a")
    response = client.post(
        f"/followups/{desk.followup_a}/reschedule",
        data={"reschedule-due_date": day_off.isoformat(), "reschedule-reason": "企业负责人出差"},
    )
    assert response.status_code == 302
    assert flashed(client) == ["info"]
    with app.app_context():
        followup = db.session.get(Followup, desk.followup_a)
        assert (followup.due_date, followup.reschedule_reason) == (landed, "企业负责人出差")


def test_reschedule_to_a_working_day(client, auth, app, desk):
    _day_off, landed = _day_off_ahead(app)
    auth.login("officer_a")
    client.post(
        f"/followups/{desk.followup_a}/reschedule",
        data={"reschedule-due_date": landed.isoformat(), "reschedule-reason": "改期"},
    )
    assert flashed(client) == ["success"]
    with app.app_context():
        assert db.session.get(Followup, desk.followup_a).due_date == landed


def test_reschedule_into_the_past_is_refused(client, auth, app, desk):
    auth.login("officer_a")
    with app.app_context():
        before = db.session.get(Followup, desk.followup_a).due_date
    client.post(
        f"/followups/{desk.followup_a}/reschedule",
        data={"reschedule-due_date": (TODAY - dt.timedelta(days=2)).isoformat(), "reschedule-reason": "补录"},
    )
    assert flashed(client) == ["danger"]
    with app.app_context():
        assert db.session.get(Followup, desk.followup_a).due_date == before


# --- reassigning ------------------------------------------------------------------------------


def test_supervisor_reassigns_a_followup(client, auth, app, desk):
    auth.login("supervisor")
    response = client.post(f"/followups/{desk.followup_a}/reassign", data={"reassign-officer_id": desk.officer_a2})
    assert response.status_code == 302
    assert flashed(client) == ["success"]
    with app.app_context():
        assert db.session.get(Followup, desk.followup_a).officer_id == desk.officer_a2


def test_a_followup_goes_only_to_an_officer_of_its_street(client, auth, app, desk):
    auth.login("supervisor")
    response = client.post(f"/followups/{desk.followup_a}/reassign", data={"reassign-officer_id": desk.officer_b})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Followup, desk.followup_a).officer_id == desk.officer_a


def test_an_officer_s_list_leaves_out_its_follow_ups_in_a_street_it_no_longer_covers(client, auth, app, desk):
    from service_app.followups.services import schedule_followups

    with app.app_context():
        stray = factories.make_firm(db.session.get(Street, desk.street_b), name="杭州乙街道遗留有限公司")
        _give_tier(stray.id, Tier.KEY, desk.officer_a)
        db.session.flush()
        schedule_followups(TODAY)
        db.session.commit()
    auth.login("officer_a")
    for query in ("view=all", "view=all&officer=all", "view=all&q=遗留", f"view=all&street={desk.street_b}"):
        page = client.get(f"/followups/?{query}")
        assert page.status_code == 200
        assert "杭州乙街道遗留有限公司" not in page.text, query
    auth.logout()
    auth.login("supervisor")  # who sees every street: the follow-up is there
    assert "杭州乙街道遗留有限公司" in client.get("/followups/?view=all&q=遗留").text


def test_supervisor_moves_firms_only_into_streets_the_target_covers(client, auth, app, desk):
    from service_app.followups.services import schedule_followups

    with app.app_context():
        # officer_a still holds a street-B firm (say, from before a street change).
        stray = factories.make_firm(db.session.get(Street, desk.street_b), name="杭州乙街道遗留有限公司")
        _give_tier(stray.id, Tier.KEY, desk.officer_a)
        db.session.flush()
        schedule_followups(TODAY)
        db.session.commit()
        stray_id = stray.id
    auth.login("supervisor")
    assert client.get("/followups/reassign").status_code == 200
    response = client.post(
        "/followups/reassign", data={"source_id": desk.officer_a, "target_id": desk.officer_a2, "street_id": ""}
    )
    assert response.status_code == 302
    assert flashed(client) == ["warning"]  # one firm stayed
    with app.app_context():
        assert db.session.get(Firm, desk.firm_a).officer_id == desk.officer_a2
        assert _open_followup(desk.firm_a).officer_id == desk.officer_a2
        assert db.session.get(Firm, stray_id).officer_id == desk.officer_a
        assert _open_followup(stray_id).officer_id == desk.officer_a


def test_moving_firms_to_the_same_officer_is_refused(client, auth, app, desk):
    auth.login("supervisor")
    response = client.post(
        "/followups/reassign", data={"source_id": desk.officer_a, "target_id": desk.officer_a, "street_id": ""}
    )
    assert response.status_code == 400
    assert "alert-danger" in response.text
    with app.app_context():
        assert db.session.get(Firm, desk.firm_a).officer_id == desk.officer_a


# --- requests ---------------------------------------------------------------------------------


def _request(app, request_id: int) -> FirmRequest:
    with app.app_context():
        found = db.session.get(FirmRequest, request_id)
        found.steps  # noqa: B018 - load the steps while the session is open
        return found


def test_raise_a_request(client, auth, app, desk):
    from service_app.followups.services import work_calendar

    auth.login("officer_a")
    response = client.post(
        f"/requests/new?firm_id={desk.firm_a}",
        data={"category": "ip", "urgency": "urgent", "description": "专利申请指导", "received_on": TODAY.isoformat()},
    )
    assert response.status_code == 302
    assert flashed(client) == ["success"]
    request_id = int(urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1])
    made = _request(app, request_id)
    with app.app_context():
        expected = work_calendar().add_working_days(TODAY, 10)  # ip: 10 working days
    assert (made.status, made.category, made.created_by_id, made.deadline) == (
        RequestStatus.RECEIVED,
        RequestCategory.IP,
        desk.officer_a,
        expected,
    )
    assert [step.status for step in made.steps] == [RequestStatus.RECEIVED]


def test_a_request_dated_in_the_future_is_refused(client, auth, app, desk):
    auth.login("officer_a")
    response = client.post(
        f"/requests/new?firm_id={desk.firm_a}",
        data={"category": "ip", "urgency": "normal", "description": "x", "received_on": "2099-01-01"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FirmRequest)) == 2


def test_a_request_goes_through_every_step(client, auth, app, desk):
    auth.login("officer_a")
    steps = [
        {"target": "assigned", "owner_department": "区科技局", "owner_id": str(desk.officer_a2)},
        {"target": "in_progress", "note": "已对接银行"},
        {"target": "resolved", "resolution": "获批贷款 200 万元"},
        {"target": "revisited", "satisfaction": "satisfied"},
        {"target": "closed"},
    ]
    for data in steps:
        response = client.post(f"/requests/{desk.request_a}", data=data)
        assert response.status_code == 302, data
        assert flashed(client) == ["success"]
    done = _request(app, desk.request_a)
    assert done.status == RequestStatus.CLOSED
    assert done.closed_at is not None
    assert (done.owner_department, done.owner_id) == ("区科技局", desk.officer_a2)
    assert done.resolution == "获批贷款 200 万元"
    assert done.satisfaction == Satisfaction.SATISFIED
    assert [s.status.value for s in done.steps] == ["received", *(d["target"] for d in steps)]
    assert all(s.user_id == desk.officer_a for s in done.steps[1:])
    page = client.get(f"/requests/{desk.request_a}").text
    assert count_testid(page, "request-step") == 0  # nothing after 关闭
    assert client.post(f"/requests/{desk.request_a}", data={"target": "closed"}).status_code == 400


@pytest.mark.parametrize(
    ("status", "data"),
    [
        (RequestStatus.RECEIVED, {"target": "closed"}),  # an illegal jump
        (RequestStatus.RECEIVED, {"target": "in_progress"}),
        (RequestStatus.RECEIVED, {"target": "received"}),
        (RequestStatus.RECEIVED, {"target": "assigned"}),  # without an owner
        (RequestStatus.RECEIVED, {"target": "no-such-step"}),
        (RequestStatus.IN_PROGRESS, {"target": "resolved", "resolution": "  "}),  # without a resolution
        (RequestStatus.IN_PROGRESS, {"target": "closed", "resolution": "x"}),
        (RequestStatus.RESOLVED, {"target": "revisited"}),  # without satisfaction
        (RequestStatus.RESOLVED, {"target": "revisited", "satisfaction": "ecstatic"}),
        (RequestStatus.REVISITED, {"target": "closed"}),  # no resolution on record
    ],
)
def test_a_refused_step_changes_nothing(client, auth, app, desk, status, data):
    with app.app_context():
        db.session.execute(sa.update(FirmRequest).where(FirmRequest.id == desk.request_a).values(status=status))
        db.session.commit()
    auth.login("officer_a")
    response = client.post(f"/requests/{desk.request_a}", data=data)
    assert response.status_code == 400
    assert "alert-danger" in response.text
    after = _request(app, desk.request_a)
    assert after.status == status
    assert (after.resolution, after.closed_at, len(after.steps)) == (None, None, 1)


def test_overdue_filter(client, auth, app, desk):
    from service_app.firm_requests.services import raise_request

    with app.app_context():
        admin = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
        for firm_id, description in ((desk.firm_a, "逾期甲"), (desk.firm_b, "逾期乙")):
            raise_request(
                db.session.get(Firm, firm_id),
                admin,
                category=RequestCategory.POLICY,
                description=description,
                received_on=TODAY - dt.timedelta(days=60),
            )
        late_but_resolved = raise_request(
            db.session.get(Firm, desk.firm_a),
            admin,
            category=RequestCategory.POLICY,
            description="逾期已办结",
            received_on=TODAY - dt.timedelta(days=60),
        )
        late_but_resolved.status = RequestStatus.RESOLVED
        db.session.commit()
    auth.login("supervisor")
    page = client.get("/requests/?overdue=1").text
    assert count_testid(page, "request-row") == 2
    assert re.search(r'data-testid="overdue-requests">[^<]*<span class="badge[^"]*">2</span>', page)
    assert count_testid(client.get("/requests/").text, "request-row") == 5
    auth.logout()
    auth.login("officer_a")
    page = client.get("/requests/?overdue=1").text
    assert count_testid(page, "request-row") == 1  # only its own street's
    assert "杭州乙街道贸易有限公司" not in page


# --- settings ---------------------------------------------------------------------------------

CADENCE = {
    "action": "cadence",
    "cadence-key": "20",
    "cadence-cultivate": "45",
    "cadence-observe": "80",
    "cadence-exit": "15",
}


def _limits(**overrides: str) -> dict[str, str]:
    data = {"action": "limits", **{f"limits-limit_{c.value}": "12" for c in RequestCategory}}
    data.update({f"limits-limit_{key}": value for key, value in overrides.items()})
    return data


def test_admin_saves_cadences(client, auth, app, desk):
    auth.login("admin")
    assert client.get("/followups/settings").status_code == 200
    response = client.post("/followups/settings", data=CADENCE)
    assert response.status_code == 302
    assert flashed(client) == ["success"]
    with app.app_context():
        saved = {row.tier.value: row.days for row in db.session.scalars(sa.select(TierCadence))}
    assert saved == {"key": 20, "cultivate": 45, "observe": 80, "exit": 15}


def test_admin_saves_request_limits(client, auth, app, desk):
    auth.login("admin")
    assert client.post("/followups/settings", data=_limits(ip="3")).status_code == 302
    with app.app_context():
        saved = {row.category: row.limit_days for row in db.session.scalars(sa.select(RequestCategoryLimit))}
    assert saved[RequestCategory.IP] == 3
    assert saved[RequestCategory.OTHER] == 12
    assert len(saved) == len(RequestCategory)


def test_admin_adds_and_removes_a_holiday(client, auth, app, desk):
    auth.login("admin")
    day = {"action": "day", "day-day": "2031-01-01", "day-name": "元旦"}
    assert client.post("/followups/settings", data=day).status_code == 302
    workday = {"action": "day", "day-day": "2031-01-04", "day-name": "调休", "day-is_workday": "y"}
    assert client.post("/followups/settings", data=workday).status_code == 302
    with app.app_context():
        rows = {row.day: (row.is_workday, row.name) for row in db.session.scalars(sa.select(CalendarDay))}
    assert rows == {dt.date(2031, 1, 1): (False, "元旦"), dt.date(2031, 1, 4): (True, "调休")}
    assert client.post("/followups/settings", data={"action": "delete_day", "day": "2031-01-01"}).status_code == 302
    with app.app_context():
        assert db.session.get(CalendarDay, dt.date(2031, 1, 1)) is None


@pytest.mark.parametrize(
    "data",
    [
        {**CADENCE, "cadence-key": "abc"},
        {**CADENCE, "cadence-key": "0"},
        {**CADENCE, "cadence-observe": ""},
        {**CADENCE, "cadence-exit": "9999999999999999999999"},
        _limits(ip="-1"),
        _limits(talent="x"),
        _limits(space="251"),
        {"action": "day", "day-day": "2031-02-30", "day-name": "x"},
        {"action": "day", "day-day": "", "day-name": "x"},
        {"action": "day", "day-day": "2031-01-01", "day-name": "长" * 65},
        {"action": "nonsense"},
    ],
)
def test_invalid_settings_are_refused_with_a_message(client, auth, app, desk, data):
    auth.login("admin")
    response = client.post("/followups/settings", data=data)
    assert response.status_code == 400
    assert "alert-danger" in response.text
    with app.app_context():
        assert {row.tier: row.days for row in db.session.scalars(sa.select(TierCadence))} == DEFAULT_CADENCE_DAYS
        limits = {row.category: row.limit_days for row in db.session.scalars(sa.select(RequestCategoryLimit))}
        assert limits == DEFAULT_LIMIT_DAYS
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == 0


@pytest.mark.parametrize("day", ["", "2031-02-30", "junk"])
def test_removing_an_invalid_holiday_is_a_bad_request(client, auth, desk, day):
    auth.login("admin")
    assert client.post("/followups/settings", data={"action": "delete_day", "day": day}).status_code == 400


# --- notifications ----------------------------------------------------------------------------


@pytest.fixture
def notes(app, desk) -> dict[str, int]:
    """Two unread notifications for officer_a and one for officer_b, by name."""
    with app.app_context():
        write(
            [
                Note(desk.officer_a, "followup", str(desk.followup_a), "followup.overdue", "走访逾期", "/followups/"),
                Note(desk.officer_a, "request", str(desk.request_a), "request.overdue", "诉求逾期"),
                Note(desk.officer_b, "followup", str(desk.followup_b), "followup.overdue", "走访逾期乙"),
            ],
            TODAY,
        )
        db.session.commit()
        ids = {n.object_type + str(n.user_id): n.id for n in db.session.scalars(sa.select(Notification))}
    return {
        "a_followup": ids[f"followup{desk.officer_a}"],
        "a_request": ids[f"request{desk.officer_a}"],
        "b_followup": ids[f"followup{desk.officer_b}"],
    }


def _unread(app, notification_id: int) -> bool:
    with app.app_context():
        return db.session.get(Notification, notification_id).read_at is None


def test_notifications_page_and_bell(client, auth, notes):
    auth.login("officer_a")
    page = client.get("/notifications").text
    assert count_testid(page, "notification") == 2
    assert re.search(r'data-testid="bell-count">2<', page)
    assert "走访逾期乙" not in page


def test_mark_one_notification_read_goes_to_its_link(client, auth, app, notes):
    auth.login("officer_a")
    response = client.post("/notifications/read", data={"id": notes["a_followup"]})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/followups/"
    assert not _unread(app, notes["a_followup"])
    assert _unread(app, notes["a_request"])
    assert re.search(r'data-testid="bell-count">1<', client.get("/notifications").text)


def test_mark_all_read(client, auth, app, notes):
    auth.login("officer_a")
    assert client.post("/notifications/read").status_code == 302
    assert not _unread(app, notes["a_followup"])
    assert not _unread(app, notes["a_request"])
    assert _unread(app, notes["b_followup"])  # officer_b's untouched
    assert count_testid(client.get("/notifications").text, "bell-count") == 0


@pytest.mark.parametrize("which", ["other", "missing"])
def test_another_users_notification_is_not_found(client, auth, app, notes, which):
    notification_id = {"other": notes["b_followup"], "missing": 987654}[which]
    auth.login("officer_a")
    assert client.post("/notifications/read", data={"id": notification_id}).status_code == 404
    assert _unread(app, notes["b_followup"])
    assert _unread(app, notes["a_followup"])


# --- calendar feed ----------------------------------------------------------------------------


def _issue_feed(client) -> str:
    response = client.post("/followups/feed", data={"action": "issue"})
    assert response.status_code == 200
    found = re.search(r'data-testid="feed-url">([^<]+)<', response.text)
    assert found, "no feed URL shown"
    return urlsplit(found.group(1)).path


def test_calendar_feed_holds_only_the_officers_followups(client, auth, app, desk):
    auth.login("officer_a")
    path = _issue_feed(client)
    assert re.fullmatch(r"/followups/feed/[\w-]+\.ics", path)
    auth.logout()  # the feed needs no sign-in: the secret is the key
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = calendar.walk("VEVENT")
    assert [str(event["uid"]) for event in events] == [f"followup-{desk.followup_a}@service-app"]
    with app.app_context():
        due = db.session.get(Followup, desk.followup_a).due_date
    assert events[0].decoded("dtstart") == due
    assert "杭州甲街道服装有限公司" in str(events[0]["summary"])


def test_revoked_and_replaced_feed_links_stop_working(client, auth, desk):
    auth.login("officer_a")
    first = _issue_feed(client)
    second = _issue_feed(client)  # a new link revokes the old one
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert count_testid(client.get("/followups/feed").text, "feed-active") == 1
    response = client.post("/followups/feed", data={"action": "revoke"})
    assert response.status_code == 302
    assert flashed(client) == ["success"]
    assert client.get(second).status_code == 404
    assert count_testid(client.get("/followups/feed").text, "feed-off") == 1


@pytest.mark.parametrize("token", ["wrong", "x" * 200, "%00", "..%2F..%2Fetc"])
def test_a_wrong_feed_token_is_not_found(client, auth, desk, token):
    auth.login("officer_a")
    _issue_feed(client)
    assert client.get(f"/followups/feed/{token}.ics").status_code == 404


def test_an_inactive_users_feed_stops_working(client, auth, app, desk):
    auth.login("officer_a")
    path = _issue_feed(client)
    with app.app_context():
        db.session.get(User, desk.officer_a).active = False
        db.session.commit()
    assert client.get(path).status_code == 404


# --- what the officer reads ---------------------------------------------------------------------


def test_refusals_say_in_chinese_what_to_do(client, auth, app, desk):
    """The messages a person sees (the interface is Chinese by default), after the redirect."""
    auth.login("officer_a")
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    page = client.post(
        f"/followups/{desk.followup_a}/visit", data=_visit_form(visited_on=tomorrow), follow_redirects=True
    ).text
    assert "走访日期不能晚于今天。" in page
    page = client.post(
        f"/followups/{desk.followup_a}/reschedule",
        data={"reschedule-due_date": (TODAY + dt.timedelta(days=3)).isoformat(), "reschedule-reason": " "},
    ).text
    assert "请填写改期原因。" in page
    page = client.post(f"/requests/{desk.request_a}", data={"target": "closed"}).text
    assert "当前不能执行该环节：诉求须按 受理 → 交办 → 办理 → 办结 → 回访 → 关闭 逐步办理。" in page
    day_off, landed = _day_off_ahead(app)
    page = client.post(
        f"/followups/{desk.followup_a}/reschedule",
        data={"reschedule-due_date": day_off.isoformat(), "reschedule-reason": "企业负责人出差"},
        follow_redirects=True,
    ).text
    assert f"{day_off.isoformat()} 不是工作日，走访已顺延至 {landed.isoformat()}。" in page


def test_an_officer_without_streets_sees_no_firm_and_no_follow_up(client, auth, app, desk):
    """An officer left with no street (its only street deleted: user_streets cascades): every firm and
    follow-up is out of scope (404), the lists are empty (the pages build their statements once, with
    the streets as a parameter)."""
    with app.app_context():
        officer = factories.make_user("officer_none", "officer", [db.session.get(Street, desk.street_a)])
        db.session.flush()
        db.session.execute(sa.delete(user_streets).where(user_streets.c.user_id == officer.id))
        db.session.commit()
    auth.login("officer_none")
    for url in (
        f"/firms/{desk.firm_a}",
        f"/firms/{desk.firm_b}",
        f"/followups/{desk.followup_a}",
        f"/followups/{desk.followup_b}",
    ):
        assert client.get(url).status_code == 404, url
    listed = client.get("/firms/").text + client.get("/followups/?view=all").text
    assert "杭州甲街道服装有限公司" not in listed and "杭州乙街道贸易有限公司" not in listed
