"""The firm roster: search, filters, paging, create and edit, stale edits and role limits."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from service_app.domain.tiers import Chain, FirmStatus, Tier
from service_app.extensions import db
from service_app.models import AuditEvent, Firm, User

from . import factories


def firm_form(street_id: int, **overrides: str) -> dict[str, str]:
    data = {
        "credit_code": "91110108551385082Q",
        "name": "杭州新建服饰有限公司",
        "street_id": str(street_id),
        "status": "active",
        "chain": "fashion",
        "industry_code": "C1810",
        "registered_capital": "500.00",
        "established": "2020-03-05",
        "contact_name": "王小明",
        "contact_phone": "13800001111",
    }
    data.update(overrides)
    return data


def version_of(html: str) -> str:
    match = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    assert match, "the edit form carries the version it was opened at"
    return match.group(1)


def total_shown(html: str) -> int:
    match = re.search(r'data-testid="firm-total">共找到 (\d+) 家企业', html)
    assert match, "the list states its total"
    return int(match.group(1))


@pytest.fixture
def many_firms(app, world):
    """30 more firms in street A, with tiers and chains to filter on."""
    with app.app_context():
        street = db.session.get(Firm, world.firm_a).street
        tiers = [Tier.KEY, Tier.CULTIVATE, Tier.OBSERVE]
        for n in range(30):
            factories.make_firm(
                street,
                name=f"杭州批量{n:02d}号有限公司",
                current_tier=tiers[n % 3],
                chain=Chain.TECH if n % 2 else Chain.TRADE,
                is_high_tech=n < 5,
            )
        db.session.commit()


class TestList:
    def test_total_and_pages(self, client, auth, many_firms):
        auth.login("admin")
        page = client.get("/firms/").text
        assert total_shown(page) == 32  # 30 + one firm per street
        assert "/firms/?page=2" in page

    def test_search_by_part_of_name(self, client, auth, many_firms):
        auth.login("admin")
        page = client.get("/firms/", query_string={"q": "批量07"}).text
        assert "杭州批量07号有限公司" in page
        assert "杭州批量08号有限公司" not in page

    def test_search_by_credit_code_lower_case(self, client, auth, world, app):
        with app.app_context():
            code = db.session.get(Firm, world.firm_b).credit_code
        auth.login("admin")
        page = client.get("/firms/", query_string={"q": code[-8:].lower()}).text
        assert "杭州乙街道贸易有限公司" in page

    def test_search_text_with_like_wildcards_is_literal(self, client, auth, many_firms):
        auth.login("admin")
        page = client.get("/firms/", query_string={"q": "%"}).text
        assert "杭州批量" not in page

    @pytest.mark.parametrize(
        ("args", "expected"),
        [({"tier": "key"}, 10), ({"tier": "none"}, 2), ({"chain": "tech"}, 15), ({"flag": "is_high_tech"}, 5)],
    )
    def test_filters(self, client, auth, many_firms, args, expected):
        auth.login("admin")
        page = client.get("/firms/", query_string=args).text
        assert total_shown(page) == expected

    def test_sort_descending(self, client, auth, many_firms):
        auth.login("admin")
        page = client.get("/firms/", query_string={"q": "批量", "sort": "name", "order": "desc"}).text
        assert page.index("杭州批量29号") < page.index("杭州批量28号")

    def test_junk_parameters_do_not_fail(self, client, auth, many_firms):
        auth.login("admin")
        response = client.get("/firms/", query_string={"page": "999", "street": "abc", "tier": "bogus", "sort": "x"})
        assert response.status_code == 200


#: Filter combinations, each listed through the statement built once per shape and compared with
#: the same filters written as plain clauses (what exports use).
LIST_FILTERS = [
    {},
    {"q": "批量0"},
    {"q": "PILIANG"},
    {"q": "91"},
    {"q": "%_\\"},
    {"tier": "key", "chain": "tech"},
    {"tier": "none"},
    {"status": "active", "flag": ["is_high_tech", "is_high_tech"]},
    {"street": "STREET_A", "sort": "tier", "order": "desc"},
    {"building": "999", "sort": "updated"},
    {"sort": "credit_code", "order": "desc", "q": "批量"},
]


class TestListStatements:
    @pytest.mark.parametrize("username", ["admin", "officer_a", "district_a"])
    @pytest.mark.parametrize("args", LIST_FILTERS)
    def test_the_statement_built_once_lists_what_the_plain_clauses_do(self, ctx, world, many_firms, username, args):
        from werkzeug.datastructures import MultiDict

        from service_app.firms.services import filters_from_args, firm_filter_clauses, firm_list, firm_ordering
        from service_app.pagination import paginate

        user = db.session.scalars(sa.select(User).where(User.username == username)).one()
        args = {key: str(world.street_a) if value == "STREET_A" else value for key, value in args.items()}
        filters = filters_from_args(MultiDict(args))
        statement, parameters = firm_list(user, filters)
        listed = [row.id for row in paginate(statement, parameters=parameters, page=1, per_page=100).items]
        plain = sa.select(Firm.id).where(*firm_filter_clauses(user, filters)).order_by(*firm_ordering(filters))
        assert listed == list(db.session.scalars(plain))
        assert paginate(statement, parameters=parameters, page=1, per_page=100).total == len(listed)

    def test_one_statement_per_shape_of_filters(self, ctx, world):
        from werkzeug.datastructures import MultiDict

        from service_app.firms.services import filters_from_args, firm_list

        user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        first, first_values = firm_list(user, filters_from_args(MultiDict({"q": "甲", "tier": "key"})))
        second, second_values = firm_list(user, filters_from_args(MultiDict({"q": "乙", "tier": "observe"})))
        other, _ = firm_list(user, filters_from_args(MultiDict({"q": "乙"})))
        assert first is second and other is not first
        assert first_values["name_pattern"] == "%甲%" and second_values["tier"] is Tier.OBSERVE
        assert first_values["street_ids"] == [world.street_a]

    def test_a_page_past_the_end_counts_with_the_parameters(self, client, auth, many_firms):
        auth.login("officer_a")
        page = client.get("/firms/", query_string={"q": "批量", "page": "9"}).text
        assert total_shown(page) == 30


class TestCreate:
    def test_create_records_audit(self, client, auth, world, app):
        auth.login("supervisor")
        response = client.post("/firms/new", data=firm_form(world.street_a))
        assert response.status_code == 302
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == "91110108551385082Q")).one()
            assert firm.chain == Chain.FASHION
            assert str(firm.registered_capital) == "500.00"
            event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "firm.create")).one()
            assert event.object_id == str(firm.id)
            assert event.after["name"] == "杭州新建服饰有限公司"

    def test_full_width_code_is_normalised(self, client, auth, world, app):
        auth.login("admin")
        client.post("/firms/new", data=firm_form(world.street_a, credit_code="９１１１０１０８５５１３８５０８２ｑ"))
        with app.app_context():
            assert db.session.scalar(sa.select(Firm.id).where(Firm.credit_code == "91110108551385082Q"))

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("credit_code", "91110108551385082A", "校验"),
            ("credit_code", "9111010855138508", "18"),
            ("name", "", "企业名称"),
            ("industry_code", "C0511", "行业代码"),
            ("registered_capital", "-1", "负"),
            ("contact_phone", "call me", "电话"),
        ],
    )
    def test_field_messages_in_chinese(self, client, auth, world, field, value, message):
        auth.login("admin")
        response = client.post("/firms/new", data=firm_form(world.street_a, **{field: value}))
        assert response.status_code == 200
        assert "invalid-feedback" in response.text
        assert message in response.text

    def test_duplicate_credit_code_refused(self, client, auth, world, app):
        with app.app_context():
            code = db.session.get(Firm, world.firm_a).credit_code
        auth.login("admin")
        response = client.post("/firms/new", data=firm_form(world.street_a, credit_code=code))
        assert response.status_code == 200
        assert "已有其他企业使用此信用代码" in response.text

    def test_admin_may_accept_failing_code_with_reason(self, client, auth, world, app):
        auth.login("admin")
        data = firm_form(world.street_a, credit_code="91110108551385082A", accept_invalid_code="y")
        assert client.post("/firms/new", data=data).status_code == 200  # no reason yet
        data["credit_code_exception"] = "营业执照原件如此，已核实"
        assert client.post("/firms/new", data=data).status_code == 302
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == "91110108551385082A")).one()
            assert firm.credit_code_exception == "营业执照原件如此，已核实"

    def test_supervisor_may_not_accept_failing_code(self, client, auth, world):
        auth.login("supervisor")
        data = firm_form(world.street_a, credit_code="91110108551385082A", accept_invalid_code="y")
        data["credit_code_exception"] = "reason"
        assert client.post("/firms/new", data=data).status_code == 200

    def test_building_must_be_in_the_street(self, client, auth, world, app):
        from service_app.models import Building

        with app.app_context():
            building = Building(name="东湖大厦", street_id=world.street_b)
            db.session.add(building)
            db.session.commit()
            building_id = building.id
        auth.login("admin")
        response = client.post("/firms/new", data=firm_form(world.street_a, building_id=str(building_id)))
        assert response.status_code == 200
        assert "invalid-feedback" in response.text


class TestEdit:
    def test_stale_edit_is_refused_and_shows_the_change(self, client, auth, world, app):
        auth.login("supervisor")
        form_a = client.get(f"/firms/{world.firm_a}/edit").text
        opened_version = version_of(form_a)
        # Someone else saves in between (a second supervisor).
        other = app.test_client()
        other.post("/login", data={"username": "admin", "password": factories.PASSWORD})
        first = firm_form(world.street_a, name="杭州改名一次有限公司", version=opened_version)
        with app.app_context():
            first["credit_code"] = db.session.get(Firm, world.firm_a).credit_code
        assert other.post(f"/firms/{world.firm_a}/edit", data=first).status_code == 302
        # The first user's save, based on the old version, is refused with the change shown.
        mine = dict(first, name="杭州我的改名有限公司")
        response = client.post(f"/firms/{world.firm_a}/edit", data=mine)
        assert response.status_code == 200
        assert 'data-testid="stale-changes"' in response.text
        assert "杭州改名一次有限公司" in response.text
        with app.app_context():
            assert db.session.get(Firm, world.firm_a).name == "杭州改名一次有限公司"
        # Saving again from the refreshed form, now knowingly, succeeds.
        mine["version"] = version_of(response.text)
        assert client.post(f"/firms/{world.firm_a}/edit", data=mine).status_code == 302
        with app.app_context():
            assert db.session.get(Firm, world.firm_a).name == "杭州我的改名有限公司"

    def test_officer_changes_status_contact_and_notes(self, client, auth, world, app):
        auth.login("officer_a")
        page = client.get(f"/firms/{world.firm_a}/edit").text
        assert 'name="credit_code"' not in page
        data = {
            "status": "relocating",
            "contact_name": "李四",
            "contact_phone": "0571-88886666",
            "notes": "计划迁出",
            "version": version_of(page),
        }
        assert client.post(f"/firms/{world.firm_a}/edit", data=data).status_code == 302
        with app.app_context():
            firm = db.session.get(Firm, world.firm_a)
            assert firm.status == FirmStatus.RELOCATING
            assert firm.contact_name == "李四"
            event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "firm.update")).one()
            assert event.before["status"] == "active"
            assert event.after["status"] == "relocating"

    def test_officer_cannot_change_other_fields(self, client, auth, world, app):
        auth.login("officer_a")
        page = client.get(f"/firms/{world.firm_a}/edit").text
        data = {
            "status": "active",
            "name": "黑客改名",
            "credit_code": "91110108551385082Q",
            "current_tier": "key",
            "version": version_of(page),
        }
        client.post(f"/firms/{world.firm_a}/edit", data=data)
        with app.app_context():
            firm = db.session.get(Firm, world.firm_a)
            assert firm.name == "杭州甲街道服装有限公司"
            assert firm.current_tier is None

    def test_update_service_refuses_forbidden_fields(self, ctx, world):
        from service_app.firms.services import FirmPermissionError, update_firm
        from service_app.models import User

        officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        firm = db.session.get(Firm, world.firm_a)
        with pytest.raises(FirmPermissionError):
            update_firm(firm, {"name": "改名"}, firm.version, officer)

    def test_detail_shows_history_metrics_and_audit(self, client, auth, world, app):
        from service_app.domain.tiers import AssignmentMethod
        from service_app.models import TierAssignment

        with app.app_context():
            firm = db.session.get(Firm, world.firm_a)
            factories.add_metric(firm, "2026Q2", revenue="1234.56", tax="78.90")
            db.session.add(
                TierAssignment(
                    firm_id=firm.id,
                    quarter="2026Q3",
                    tier=Tier.KEY,
                    method=AssignmentMethod.MANUAL,
                    reasons=[{"code": "chain_leader", "text": "链主企业，强制重点服务"}],
                )
            )
            firm.current_tier = Tier.KEY
            db.session.commit()
        auth.login("district_a")
        page = client.get(f"/firms/{world.firm_a}").text
        assert "1234.56" in page
        assert "链主企业，强制重点服务" in page
        assert "2026Q3" in page


def in_english(client) -> None:
    """Show pages in English, so messages not yet translated read the same before and after."""
    client.post("/language", data={"lang": "en"})


def edit_form(firm: Firm, **overrides: str) -> dict[str, str]:
    """The full edit form as a browser would post it for a firm, unchanged unless overridden."""
    data = {
        "credit_code": firm.credit_code,
        "credit_code_exception": firm.credit_code_exception or "",
        "name": firm.name,
        "chain": firm.chain.value if firm.chain else "",
        "street_id": str(firm.street_id),
        "building_id": str(firm.building_id or ""),
        "officer_id": str(firm.officer_id or ""),
        "status": firm.status.value,
        "version": str(firm.version),
    }
    data.update(overrides)
    return data


class TestBounds:
    @pytest.mark.parametrize("value", ["1000000000000", "999999999999.999", "1e13", "Infinity"])
    def test_registered_capital_beyond_the_column_is_refused(self, client, auth, world, value):
        auth.login("admin")
        in_english(client)
        response = client.post("/firms/new", data=firm_form(world.street_a, registered_capital=value))
        assert response.status_code == 200
        assert "Registered capital is too large" in response.text

    def test_largest_registered_capital_is_stored(self, client, auth, world, app):
        auth.login("admin")
        response = client.post("/firms/new", data=firm_form(world.street_a, registered_capital="999999999999.99"))
        assert response.status_code == 302
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == "91110108551385082Q")).one()
            assert str(firm.registered_capital) == "999999999999.99"

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [("1899-12-31", False), ("1900-01-01", True), ("today", True), ("tomorrow", False), ("2999-01-01", False)],
    )
    def test_established_lies_between_1900_and_today(self, client, auth, world, value, accepted):
        import datetime as dt

        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # Asia/Shanghai, the platform's zone
        day = {"today": today, "tomorrow": today + dt.timedelta(days=1)}.get(value)
        auth.login("admin")
        in_english(client)
        response = client.post("/firms/new", data=firm_form(world.street_a, established=str(day or value)))
        assert response.status_code == (302 if accepted else 200)
        assert ("Enter a founding date between 1900-01-01 and today." in response.text) is not accepted


@pytest.fixture
def accepted_firm(app, world) -> int:
    """A firm in street A whose failing credit code an admin accepted with a reason."""
    with app.app_context():
        firm = factories.make_firm(
            db.session.get(Firm, world.firm_a).street,
            credit_code="91110108551385082A",
            credit_code_exception="营业执照原件如此，已核实",
        )
        db.session.commit()
        return firm.id


class TestAcceptedCreditCode:
    @pytest.mark.parametrize("username", ["supervisor", "admin"])
    def test_firm_with_accepted_code_can_be_edited_without_accepting_again(
        self, client, auth, app, accepted_firm, username
    ):
        with app.app_context():
            data = edit_form(db.session.get(Firm, accepted_firm), name="杭州改名后有限公司")
        data["credit_code_exception"] = ""  # a supervisor's form has no such field; an admin's may be cleared
        auth.login(username)
        assert client.post(f"/firms/{accepted_firm}/edit", data=data).status_code == 302
        with app.app_context():
            firm = db.session.get(Firm, accepted_firm)
            assert firm.name == "杭州改名后有限公司"
            assert firm.credit_code == "91110108551385082A"
            assert firm.credit_code_exception == "营业执照原件如此，已核实"

    def test_admin_may_reword_the_reason(self, client, auth, app, accepted_firm):
        with app.app_context():
            data = edit_form(db.session.get(Firm, accepted_firm), credit_code_exception="工商局书面确认")
        auth.login("admin")
        assert client.post(f"/firms/{accepted_firm}/edit", data=data).status_code == 302
        with app.app_context():
            assert db.session.get(Firm, accepted_firm).credit_code_exception == "工商局书面确认"

    def test_supervisor_cannot_reword_the_reason(self, client, auth, app, accepted_firm):
        with app.app_context():
            data = edit_form(db.session.get(Firm, accepted_firm), credit_code_exception="随便")
        auth.login("supervisor")
        assert client.post(f"/firms/{accepted_firm}/edit", data=data).status_code == 302
        with app.app_context():
            assert db.session.get(Firm, accepted_firm).credit_code_exception == "营业执照原件如此，已核实"

    def test_another_failing_code_still_needs_accepting(self, client, auth, app, accepted_firm):
        with app.app_context():
            data = edit_form(db.session.get(Firm, accepted_firm), credit_code="91110108551385082B")
        auth.login("supervisor")
        response = client.post(f"/firms/{accepted_firm}/edit", data=data)
        assert response.status_code == 200
        assert "校验" in response.text
        with app.app_context():
            assert db.session.get(Firm, accepted_firm).credit_code == "91110108551385082A"


class TestOfficer:
    def test_officer_covering_the_street_is_assigned(self, client, auth, world, app):
        with app.app_context():
            officer_id = db.session.scalars(sa.select(User.id).where(User.username == "officer_a")).one()
            data = edit_form(db.session.get(Firm, world.firm_a), officer_id=str(officer_id))
        auth.login("supervisor")
        assert client.post(f"/firms/{world.firm_a}/edit", data=data).status_code == 302
        with app.app_context():
            assert db.session.get(Firm, world.firm_a).officer_id == officer_id

    def test_officer_must_cover_the_firms_street(self, client, auth, world, app):
        with app.app_context():
            officer_id = db.session.scalars(sa.select(User.id).where(User.username == "officer_a")).one()
            data = edit_form(db.session.get(Firm, world.firm_b), officer_id=str(officer_id))
        auth.login("supervisor")
        in_english(client)
        response = client.post(f"/firms/{world.firm_b}/edit", data=data)
        assert response.status_code == 200
        assert "This officer does not cover the chosen street." in response.text
        with app.app_context():
            assert db.session.get(Firm, world.firm_b).officer_id is None

    def test_moving_a_firm_out_of_its_officers_streets_is_refused(self, client, auth, world, app):
        with app.app_context():
            firm = db.session.get(Firm, world.firm_a)
            firm.officer_id = db.session.scalars(sa.select(User.id).where(User.username == "officer_a")).one()
            db.session.commit()
            data = edit_form(firm, street_id=str(world.street_b))
        auth.login("supervisor")
        in_english(client)
        response = client.post(f"/firms/{world.firm_a}/edit", data=data)
        assert "This officer does not cover the chosen street." in response.text
        with app.app_context():
            assert db.session.get(Firm, world.firm_a).street_id == world.street_a

    def test_inactive_officer_is_neither_offered_nor_accepted(self, client, auth, world, app):
        with app.app_context():
            street = db.session.get(Firm, world.firm_a).street
            retired = factories.make_user("officer_retired", "officer", [street])
            retired.active = False
            db.session.commit()
            retired_id = retired.id
            data = edit_form(db.session.get(Firm, world.firm_a), officer_id=str(retired_id))
        auth.login("supervisor")
        page = client.get(f"/firms/{world.firm_a}/edit").text
        assert "officer_retired" not in page
        assert "officer_a（临平街道）" in page  # each officer is shown with the streets it covers
        assert client.post(f"/firms/{world.firm_a}/edit", data=data).status_code == 200
        with app.app_context():
            assert db.session.get(Firm, world.firm_a).officer_id is None


def bump_version(firm_id: int) -> None:
    """Change a firm's version behind the ORM's back, as bulk imports and undos do."""
    db.session.execute(sa.update(Firm).where(Firm.id == firm_id).values(version=Firm.version + 1))


class TestChangesSince:
    def test_import_undo_and_tier_after_the_read_version_are_listed(self, ctx, world):
        from service_app.audit import record_event
        from service_app.firms.services import changes_since

        firm = db.session.get(Firm, world.firm_a)
        read = firm.version  # a demo firm: no event recorded its version
        record_event("firm.tier", "firm", firm.id, before={"current_tier": None}, after={"current_tier": "observe"})
        bump_version(firm.id)
        record_event(
            "firm.import",
            "firm",
            firm.id,
            before={"name": firm.name},
            after={"name": "杭州导入后有限公司", "_version": 2},
        )
        bump_version(firm.id)
        record_event(
            "firm.import_undo",
            "firm",
            firm.id,
            after={"_batch": 7, "restored": {"name": firm.name}, "deleted": False},
        )
        record_event("firm.tier", "firm", firm.id, before={"current_tier": "observe"}, after={"current_tier": "key"})
        record_event("proposal.override", "firm", firm.id, after={"tier": "key", "reason": "x"})
        changes = {c["field"]: c for c in changes_since(firm, read)}
        assert set(changes) == {"name", "current_tier"}  # the first tier decision had been seen
        assert changes["name"]["before"] == firm.name
        assert changes["name"]["after"] == firm.name  # imported, then the undo put it back
        assert changes["current_tier"]["before"] == "observe"
        assert changes["current_tier"]["after"] == "key"
        after_import = {c["field"]: c["after"] for c in changes_since(firm, 2)}
        assert after_import == {"name": firm.name, "current_tier": "key"}  # the undo and the tier after it
        assert changes_since(firm, 3) == []  # read after the undo: nothing is news

    def test_any_event_carrying_a_version_is_listed(self, ctx, world):
        from service_app.audit import record_event
        from service_app.firms.services import changes_since

        firm = db.session.get(Firm, world.firm_a)
        record_event(
            "firm.merge", "firm", firm.id, before={"notes": None}, after={"notes": "合并", "_version": firm.version + 1}
        )
        assert [(c["field"], c["after"]) for c in changes_since(firm, firm.version)] == [("notes", "合并")]

    def test_stale_edit_after_an_import_undo_shows_what_the_undo_restored(self, client, auth, world, app):
        from service_app.audit import record_event

        with app.app_context():
            data = edit_form(db.session.get(Firm, world.firm_a), notes="我的备注")
        auth.login("supervisor")
        with app.app_context():
            bump_version(world.firm_a)
            record_event(
                "firm.import_undo", "firm", world.firm_a, after={"_batch": 3, "restored": {"contact_name": "原联系人"}}
            )
            db.session.commit()
        response = client.post(f"/firms/{world.firm_a}/edit", data=data)
        assert response.status_code == 200
        assert 'data-testid="stale-changes"' in response.text
        assert "原联系人" in response.text
