"""The everyday pages stay cheap: what each sends to the database, whatever the rows shown, and
that what a page reads once per request (the user with its streets and bell count, the
translations) stays right when it changes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from service_app.domain.followups import VisitKind
from service_app.domain.tiers import Chain, Tier
from service_app.extensions import db
from service_app.models import Building, Firm, Notification, Street, User
from service_app.notify import Note, mark_read, remember_unread_count, unread_count, write

from . import factories

TODAY = dt.date(2026, 11, 26)
ONSITE = VisitKind.ONSITE


@pytest.fixture
def statements(app) -> Iterator[list[str]]:
    """The SELECT, INSERT, UPDATE and DELETE statements sent while the test runs."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def sent_by(client, statements: list[str], url: str) -> int:
    """How many statements one GET of `url` sends (after a first GET, as a warm worker would)."""
    assert client.get(url).status_code == 200
    statements.clear()
    assert client.get(url).status_code == 200
    return len(statements)


def firms_in(app, street_id: int, count: int, **values) -> None:
    with app.app_context():
        street = db.session.get(Street, street_id)
        for n in range(count):
            factories.make_firm(street, name=f"杭州页面{n:03d}号有限公司", current_tier=Tier.KEY, **values)
        db.session.commit()


def bell(page: str) -> int:
    match = re.search(r'data-testid="bell-count">(\d+)<', page)
    return int(match.group(1)) if match else 0


class TestFirmList:
    # The user (with its streets and bell count), the rows with their total, the buildings to
    # filter by, and for those who see every street the street list.
    @pytest.mark.parametrize(("username", "expected"), [("officer_a", 3), ("district_a", 3), ("admin", 4)])
    def test_a_few_statements_however_many_rows(self, client, auth, app, world, statements, username, expected):
        auth.login(username)
        few = sent_by(client, statements, "/firms/")
        firms_in(app, world.street_a, 40)
        assert sent_by(client, statements, "/firms/") == few == expected
        assert sent_by(client, statements, "/firms/?page=2&q=页面") == expected

    def test_page_past_the_end_still_states_the_total(self, client, auth, app, world):
        firms_in(app, world.street_a, 30)
        auth.login("officer_a")
        page = client.get("/firms/?page=9").text
        assert re.search(r'data-testid="firm-total">共找到 31 家企业', page)
        assert "杭州页面" not in page

    def test_nothing_found_is_a_total_of_zero(self, client, auth, world):
        auth.login("officer_a")
        assert re.search(r'data-testid="firm-total">共找到 0 家企业', client.get("/firms/?q=不存在的企业").text)

    def test_rows_show_street_building_tier_and_chain(self, client, auth, app, world):
        with app.app_context():
            street = db.session.get(Street, world.street_a)
            other = db.session.get(Street, world.street_b)
            here = Building(name="临平数字大厦", street_id=street.id)
            there = Building(name="东湖科创园", street_id=other.id)  # filed under another street's building
            db.session.add_all([here, there])
            db.session.flush()
            factories.make_firm(street, name="杭州楼宇甲有限公司", building_id=here.id, chain=Chain.TECH)
            factories.make_firm(street, name="杭州楼宇乙有限公司", building_id=there.id, current_tier=Tier.EXIT)
            db.session.commit()
        auth.login("officer_a")
        page = client.get("/firms/", query_string={"q": "楼宇"}).text
        row_a = page[page.index("杭州楼宇甲有限公司") :].split("</tr>")[0]
        row_b = page[page.index("杭州楼宇乙有限公司") :].split("</tr>")[0]
        assert "临平数字大厦" in row_a and "数字科技" in row_a and "未评定" in row_a and "临平街道" in row_a
        assert "东湖科创园" in row_b and "跟踪清退" in row_b
        assert '<option value="' in page and "东湖科创园</option>" not in page  # the filter lists its streets' only

    def test_rows_in_english(self, client, auth, app, world):
        firms_in(app, world.street_a, 1, chain=Chain.TRADE)
        auth.login("officer_a")
        client.post("/language", data={"lang": "en"})
        page = client.get("/firms/?q=页面").text
        assert "Key service" in page and "Digital trade" in page and "Active" in page

    @pytest.mark.parametrize(
        ("query", "found"),
        [("abc", True), ("ABC", True), ("Abc科技", True), ("科技", True), ("12", True), ("xyz", False), ("_", False)],
    )
    def test_search_ignores_case_in_latin_letters_only_where_they_are(self, client, auth, app, world, query, found):
        with app.app_context():
            factories.make_firm(db.session.get(Street, world.street_a), name="杭州ABC科技12号有限公司")
            db.session.commit()
        auth.login("officer_a")
        assert ("杭州ABC科技12号有限公司" in client.get("/firms/", query_string={"q": query}).text) is found


class TestOtherPages:
    def test_firm_detail_does_not_grow_with_visits_or_events(self, client, auth, app, world, statements):
        auth.login("admin")
        before = sent_by(client, statements, f"/firms/{world.firm_a}")
        with app.app_context():
            officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
            firm = db.session.get(Firm, world.firm_a)
            firm.officer_id = officer.id
            from service_app.models import Visit

            for day in range(1, 6):
                day_visited = dt.date(2026, 10, day)
                db.session.add(Visit(firm_id=firm.id, officer_id=officer.id, visited_on=day_visited, kind=ONSITE))
            db.session.commit()
        client.post(f"/firms/{world.firm_a}/edit", data={"name": "杭州甲街道服装有限公司（改）"})
        assert sent_by(client, statements, f"/firms/{world.firm_a}") <= before

    def test_followups_list_does_not_query_per_row(self, client, auth, app, world, statements):
        from service_app.followups.services import schedule_followups

        firms_in(app, world.street_a, 3)
        auth.login("officer_a")
        with app.app_context():
            officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
            db.session.execute(sa.update(Firm).values(officer_id=officer.id, current_tier=Tier.KEY))
            schedule_followups(TODAY)
            db.session.commit()
        few = sent_by(client, statements, "/followups/?view=all")
        firms_in(app, world.street_a, 12)
        with app.app_context():
            db.session.execute(sa.update(Firm).values(officer_id=officer.id))
            schedule_followups(TODAY)
            db.session.commit()
        page = client.get("/followups/?view=all").text
        assert page.count('data-testid="followup-row"') == 16
        assert sent_by(client, statements, "/followups/?view=all") == few


class TestBell:
    def test_count_read_with_the_user_and_updated_after_reading(self, client, auth, app, world):
        with app.app_context():
            user_id = db.session.scalars(sa.select(User.id).where(User.username == "officer_a")).one()
            write([Note(user_id, "user", str(user_id), f"test.{n}", f"提醒{n}") for n in range(3)], TODAY)
            db.session.commit()
            first = db.session.scalars(sa.select(Notification.id).order_by(Notification.id)).first()
        auth.login("officer_a")
        assert bell(client.get("/firms/").text) == 3
        client.post("/notifications/read", data={"id": first})
        assert bell(client.get("/firms/").text) == 2
        client.post("/notifications/read")
        assert bell(client.get("/firms/").text) == 0

    def test_a_remembered_count_is_forgotten_when_notifications_change(self, app, world):
        with app.test_request_context("/"):
            user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
            remember_unread_count(user.id, 7)
            assert unread_count(user) == 7  # as the user loader read it with the user
            write([Note(user.id, "user", str(user.id), "test.new", "新提醒")], TODAY)
            assert unread_count(user) == 1
            remember_unread_count(user.id, 1)
            mark_read(user)
            assert unread_count(user) == 0

    def test_another_users_count_is_never_taken(self, app, world):
        with app.test_request_context("/"):
            officer, district = (
                db.session.scalars(sa.select(User).where(User.username == name)).one()
                for name in ("officer_a", "district_a")
            )
            remember_unread_count(officer.id, 5)
            assert unread_count(district) == 0


class TestUserLoader:
    @pytest.mark.parametrize("session_id", ["2147483648:0123456789abcdef", "99999999999999999999:x", "-1:x", ""])
    def test_ids_beyond_the_database_are_nobody(self, app, session_id):
        from service_app.auth.services import load_user

        with app.test_request_context("/"):
            assert load_user(session_id) is None

    def test_streets_come_with_the_user(self, app, world, statements):
        from service_app.auth.services import load_user

        with app.test_request_context("/"):
            user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
            session_id = user.get_id()
            db.session.expunge_all()
            statements.clear()
            loaded = load_user(session_id)
            assert [street.name for street in loaded.streets] == ["临平街道"]
            assert len(statements) == 1
