"""An officer's paperwork in a real browser: raise a firm's request and walk it to closed; upload a
roster, check its preview, confirm it, then undo it.

Each test works on a firm of its own (the `own_firm` fixture deletes it afterwards).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from openpyxl import Workbook
from playwright.sync_api import Page, expect

from service_app.domain.followups import RequestStatus, Satisfaction
from service_app.extensions import db
from service_app.models import FirmRequest, ImportBatch, QuarterlyMetric, User

from .conftest import OwnFirm, login


def step(page: Page) -> None:
    """Submit the request's next step and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_test_id("request-step").click()
    expect(page.locator(".alert-success")).to_have_text("办理环节已记录。")


def test_officer_raises_a_request_and_walks_it_to_closed(
    page: Page, base_url: str, live_app: Flask, own_firm: Callable[[str], OwnFirm]
) -> None:
    firm = own_firm("杭州临平诉求测试有限公司")
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/{firm.id}")

    page.get_by_role("link", name="提出诉求").click()
    expect(page).to_have_url(f"{base_url}/requests/new?firm_id={firm.id}")
    page.locator("select[name=category]").select_option("ip")
    page.locator("textarea[name=description]").fill("商标被仿冒，请求协助维权")
    with page.expect_navigation():
        page.get_by_role("button", name="登记诉求").click()
    expect(page.locator(".alert-success")).to_contain_text("诉求已登记")
    expect(page.get_by_test_id("request-status")).to_have_text("受理")
    steps = page.get_by_test_id("request-steps").locator("li")
    expect(steps).to_have_count(1)

    page.locator("input[name=owner_department]").fill("区市场监管局")
    step(page)  # 交办
    step(page)  # 办理
    page.locator("textarea[name=resolution]").fill("已协调市场监管局立案查处")
    step(page)  # 办结
    page.locator("select[name=satisfaction]").select_option("satisfied")
    step(page)  # 回访
    expect(page.locator("textarea[name=resolution]")).to_have_count(0)  # the resolution is on record
    step(page)  # 关闭

    expect(page.get_by_test_id("request-status")).to_have_text("关闭")
    expect(steps).to_have_count(6)
    expect(page.get_by_test_id("request-steps")).to_contain_text("区市场监管局")
    expect(page.get_by_text("该诉求已关闭。")).to_be_visible()
    expect(page.get_by_test_id("request-step")).to_have_count(0)
    with live_app.app_context():
        done = db.session.scalars(sa.select(FirmRequest).where(FirmRequest.firm_id == firm.id)).one()
        assert (done.status, done.satisfaction, done.owner_department) == (
            RequestStatus.CLOSED,
            Satisfaction.SATISFIED,
            "区市场监管局",
        )
        db.session.remove()

    page.get_by_role("link", name=firm.name).click()
    expect(page.get_by_text(f"#{done.id} 知识产权保护 · 关闭")).to_be_visible()


def roster_workbook(firm: OwnFirm) -> bytes:
    """A street office's roster: a title row, the header, the firm with a new contact and a quarter's figures."""
    book = Workbook()
    sheet = book.active
    sheet.append(["临平街道2026年第三季度企业名录"])
    sheet.append(["统一社会信用代码", "企业名称", "所在街道", "联系人", "季度", "营业收入（万元）", "税收（万元）"])
    sheet.append([firm.credit_code, firm.name, "临平街道", "赵六", "2026Q3", "1,234.50", 61.7])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def forget_imports(live_app: Flask) -> Iterator[None]:
    """Drop officer_a's import batches afterwards (the firm goes with own_firm)."""
    yield
    with live_app.app_context():
        officer = db.session.scalars(sa.select(User.id).where(User.username == "officer_a")).one()
        db.session.execute(sa.delete(ImportBatch).where(ImportBatch.user_id == officer))
        db.session.commit()
        db.session.remove()


def test_officer_uploads_a_roster_confirms_its_preview_and_undoes_it(
    page: Page, base_url: str, live_app: Flask, own_firm: Callable[[str], OwnFirm], forget_imports: None
) -> None:
    firm = own_firm("杭州临平导入测试有限公司")
    login(page, base_url, "officer_a")
    page.get_by_role("navigation").get_by_role("link", name="导入").click()

    page.locator("input[name=file]").set_input_files(
        files=[
            {
                "name": "临平街道名录.xlsx",
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "buffer": roster_workbook(firm),
            }
        ]
    )
    with page.expect_navigation():
        page.get_by_test_id("upload").click()

    expect(page.get_by_test_id("batch-title")).to_have_text("临平街道名录.xlsx")
    expect(page.get_by_test_id("batch-status")).to_have_text("待确认")
    expect(page.get_by_test_id("count-updated")).to_have_text("1")
    expect(page.get_by_test_id("count-errors")).to_have_text("0")
    preview = page.get_by_test_id("preview").locator("tbody tr")
    expect(preview).to_have_count(1)
    expect(preview).to_contain_text(firm.name)
    expect(preview).to_contain_text("赵六")
    with live_app.app_context():  # a preview writes nothing
        assert db.session.scalar(sa.select(sa.func.count()).where(QuarterlyMetric.firm_id == firm.id)) == 0
        db.session.remove()

    with page.expect_navigation():
        page.get_by_test_id("confirm").click()
    expect(page.locator(".alert-success")).to_contain_text("1")
    expect(page.get_by_test_id("batch-status")).to_have_text("已导入")
    batch_url = page.url
    page.goto(f"{base_url}/firms/{firm.id}")
    expect(page.get_by_test_id("firm-contact")).to_have_text("赵六")
    expect(page.get_by_text("1234.50").first).to_be_visible()

    page.goto(batch_url)
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_test_id("undo").click()
    expect(page.locator(".alert-success")).to_contain_text("1")
    expect(page.get_by_test_id("batch-status")).to_have_text("已撤销")
    expect(page.get_by_test_id("undo")).to_have_count(0)
    page.goto(f"{base_url}/firms/{firm.id}")
    expect(page.get_by_test_id("firm-contact")).to_have_text("—")
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(QuarterlyMetric.firm_id == firm.id)) == 0
        db.session.remove()
