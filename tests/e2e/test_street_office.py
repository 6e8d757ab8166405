"""A street office (district viewer) in a real browser: its own street only, search, open a firm,
download what the list shows, and the interface in English and back."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import FIRMS, firm_names_in, login

LINPING = FIRMS["临平街道"]
DONGHU = FIRMS["东湖街道"]


def test_street_office_reads_searches_opens_and_downloads_its_street(page: Page, base_url: str) -> None:
    login(page, base_url, "district_a")
    expect(page.get_by_role("heading", name="数据看板")).to_be_visible()  # the home page is the dashboard
    expect(page.get_by_test_id("headline-firms")).to_have_text(str(len(LINPING)))
    expect(page.get_by_text("东湖街道")).to_have_count(0)
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="导出", exact=True)).to_be_visible()
    for hidden in ("导入", "走访", "诉求", "用户"):  # read and export only
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)

    nav.get_by_role("link", name="企业", exact=True).click()
    rows = page.locator("table.table-firms td.firm-name")
    expect(rows).to_have_count(len(LINPING))
    page.locator("#q").fill("云织")  # one 临平 firm and one 东湖 firm carry it
    with page.expect_navigation():
        page.locator("#q").press("Enter")
    expect(rows).to_have_text(["杭州临平云织服饰有限公司"])
    for name in DONGHU:
        expect(page.get_by_text(name)).to_have_count(0)

    page.get_by_role("link", name="杭州临平云织服饰有限公司").click()
    expect(page.get_by_test_id("firm-name")).to_have_text("杭州临平云织服饰有限公司")
    expect(page.get_by_role("link", name="编辑", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="提出诉求")).to_have_count(0)

    page.go_back()
    expect(page).to_have_url(re.compile(r"/firms/\?q="))
    with page.expect_download() as info:
        page.get_by_test_id("export-xlsx").click()
    download = info.value
    assert download.suggested_filename.startswith("临平街道_")
    assert firm_names_in(Path(download.path()).read_bytes()) == {"杭州临平云织服饰有限公司"}  # the list as shown


def test_street_office_switches_to_english_and_back(page: Page, base_url: str, reset_locales: None) -> None:
    login(page, base_url, "district_a")
    page.goto(f"{base_url}/firms/")

    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{base_url}/firms/")  # the same page, now in English
    expect(page.get_by_role("heading", name="Firms")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_contain_text("Street office viewer")
    expect(page.locator("table.table-firms td.firm-name")).to_have_count(len(LINPING))

    page.get_by_test_id("lang-zh_CN").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="企业")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_contain_text("街道")
