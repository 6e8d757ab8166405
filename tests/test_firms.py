"""The firm roster: search, filters, paging, create and edit, stale edits and role limits."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from service_app.domain.tiers import Chain, FirmStatus, Tier
from service_app.extensions import db
from service_app.models import AuditEvent, Firm

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
