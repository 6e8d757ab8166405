"""An officer's everyday paths in a real browser: sign in, search, open, edit, switch language.

The interface is Chinese by default, so locators use name attributes, ids and data-testid
where they can, and the Chinese text a person reads where the text itself is what is tested.
Each test that changes data changes its own firm, so the order of the tests does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from .conftest import FIRMS, Seeded, expect_signed_in, login

LINPING = FIRMS["临平街道"]
DONGHU = FIRMS["东湖街道"]


def firm_rows(page: Page):
    """The firm-name cells of the roster table."""
    return page.locator("table.table-firms td.firm-name")


def search(page: Page, text: str) -> None:
    """Type into the roster's search box and submit it with Enter."""
    page.locator("#q").fill(text)
    with page.expect_navigation():
        page.locator("#q").press("Enter")


def test_officer_signs_in_and_lands_on_the_dashboard(page: Page, base_url: str) -> None:
    login(page, base_url, "officer_a")

    expect(page).to_have_url(f"{base_url}/")
    expect(page.get_by_role("heading", name="数据看板")).to_be_visible()
    expect_signed_in(page, "officer_a")
    expect(page.get_by_test_id("headline-firms")).to_have_text(str(len(LINPING)))  # only its own street


def test_wrong_password_shows_the_chinese_error(page: Page, base_url: str) -> None:
    login(page, base_url, "officer_a", password="not-the-password")

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".alert-danger")).to_contain_text("用户名或密码错误")
    expect(page.get_by_test_id("current-user")).to_have_count(0)


def test_search_by_part_of_a_name_shows_only_matching_firms_in_scope(page: Page, base_url: str) -> None:
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/")
    expect(firm_rows(page)).to_have_count(len(LINPING))
    for name in DONGHU:
        expect(page.get_by_text(name)).to_have_count(0)

    search(page, "云织")  # matches one 临平 firm and one 东湖 firm; officer_a covers only 临平

    expect(page).to_have_url(re.compile(r"[?&]q=%E4%BA%91%E7%BB%87"))
    expect(firm_rows(page)).to_have_text(["杭州临平云织服饰有限公司"])
    expect(page.get_by_test_id("firm-total")).to_contain_text("1")
    expect(page.get_by_text("杭州东湖云织纺织有限公司")).to_have_count(0)

    search(page, "数字科技")
    expect(firm_rows(page)).to_have_text(["杭州临平星河数字科技有限公司"])
    expect(page.get_by_text("杭州东湖青禾数字科技有限公司")).to_have_count(0)


def test_open_a_firm_from_the_search_results(page: Page, base_url: str, seeded: Seeded) -> None:
    name = "杭州临平星河数字科技有限公司"
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/")
    search(page, "星河")

    page.get_by_role("link", name=name).click()

    expect(page).to_have_url(f"{base_url}/firms/{seeded.firms[name]}")
    expect(page.get_by_test_id("firm-name")).to_have_text(name)


def test_officer_edits_contact_and_status(page: Page, base_url: str, seeded: Seeded) -> None:
    name = "杭州临平织梦时尚设计有限公司"
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/{seeded.firms[name]}")

    page.get_by_role("link", name="编辑", exact=True).click()
    expect(page).to_have_url(f"{base_url}/firms/{seeded.firms[name]}/edit")
    expect(page.locator("input[name=name]")).to_have_count(0)  # the officer's short form
    page.locator("input[name=contact_name]").fill("王小明")
    page.locator("select[name=status]").select_option("relocating")
    page.get_by_role("button", name="保存", exact=True).click()

    expect(page).to_have_url(f"{base_url}/firms/{seeded.firms[name]}")
    expect(page.locator(".alert-success")).to_contain_text("已保存。")
    expect(page.get_by_test_id("firm-contact")).to_have_text("王小明")
    expect(page.get_by_test_id("firm-status")).to_have_text("迁移中")


def test_a_stale_edit_is_refused_and_shows_the_other_change(
    page: Page, new_context: Callable[..., BrowserContext], base_url: str, seeded: Seeded
) -> None:
    name = "杭州临平云帆贸易有限公司"
    edit_url = f"{base_url}/firms/{seeded.firms[name]}/edit"
    other: Page = new_context().new_page()
    for p in (page, other):
        login(p, base_url, "officer_a")
        p.goto(edit_url)

    page.locator("input[name=contact_name]").fill("张三")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.get_by_test_id("firm-contact")).to_have_text("张三")

    other.locator("input[name=contact_name]").fill("李四")
    other.get_by_role("button", name="保存", exact=True).click()

    expect(other).to_have_url(edit_url)
    stale = other.get_by_test_id("stale-changes")
    expect(stale).to_be_visible()
    expect(stale).to_contain_text("张三")
    expect(other.locator(".alert-danger")).to_contain_text("未保存")
    other.goto(f"{base_url}/firms/{seeded.firms[name]}")
    expect(other.get_by_test_id("firm-contact")).to_have_text("张三")


def test_switch_language_to_english_and_back(
    page: Page, new_context: Callable[..., BrowserContext], base_url: str, reset_locales: None
) -> None:
    login(page, base_url, "officer_a")
    nav = page.locator("nav.navbar")
    expect(nav.get_by_role("link", name="企业", exact=True)).to_be_visible()

    page.get_by_test_id("lang-en").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Firms", exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # The choice is saved on the user: a new browser signing in starts in English.
    elsewhere: Page = new_context().new_page()
    login(elsewhere, base_url, "officer_a")
    expect(elsewhere.locator("nav.navbar").get_by_role("link", name="Firms", exact=True)).to_be_visible()

    page.get_by_test_id("lang-zh_CN").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(nav.get_by_role("link", name="企业", exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_test_id("lang-en")).to_be_visible()


def test_language_switch_keeps_the_current_page(page: Page, base_url: str, reset_locales: None) -> None:
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/?q=云织")

    page.get_by_test_id("lang-en").click()

    expect(page).to_have_url(re.compile(r"/firms/\?q="))
    expect(page.get_by_role("heading", name="Firms")).to_be_visible()
    expect(firm_rows(page)).to_have_text(["杭州临平云织服饰有限公司"])


def test_district_viewer_reads_its_street_but_cannot_edit_or_see_others(
    page: Page, base_url: str, seeded: Seeded
) -> None:
    login(page, base_url, "district_a")
    page.goto(f"{base_url}/firms/")
    expect(firm_rows(page)).to_have_count(len(LINPING))
    for name in DONGHU:
        expect(page.get_by_text(name)).to_have_count(0)

    own = "杭州临平云织服饰有限公司"
    page.get_by_role("link", name=own).click()
    expect(page.get_by_test_id("firm-name")).to_have_text(own)
    expect(page.get_by_role("link", name="编辑", exact=True)).to_have_count(0)

    response = page.goto(f"{base_url}/firms/{seeded.firms['杭州东湖云织纺织有限公司']}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="错误 404")).to_be_visible()
    expect(page.get_by_test_id("firm-name")).to_have_count(0)
    expect(page.get_by_text("杭州东湖云织纺织有限公司")).to_have_count(0)

    response = page.goto(f"{base_url}/firms/{seeded.firms[own]}/edit")
    assert response is not None and response.status == 403
