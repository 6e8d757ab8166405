"""The dashboard and a building's page in a real browser: the charts draw from their data
endpoints under the app's Content-Security-Policy (no inline script, no CDN), the table view
toggles, a chart downloads as .xlsx, the buildings ranking opens, a chart's tooltip shows a
building's name as text, and nothing is refused or thrown on the way."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import python_calamine
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import ConsoleMessage, Page, expect

from service_app.domain.tiers import AssignmentMethod, Tier
from service_app.extensions import db
from service_app.models import Building, Firm, QuarterlyMetric, TierAssignment, User

from .. import factories
from .conftest import FIRMS, Seeded, login

TIERS = [Tier.KEY, Tier.CULTIVATE, Tier.OBSERVE, Tier.EXIT]
SUPERVISOR = "dashboard_boss"
#: A building name that would become an element if a chart's tooltip took it for markup.
HOSTILE_BUILDING = "<img src=x data-xss=1>东湖大厦"


@pytest.fixture
def charted(live_app: Flask, seeded: Seeded) -> Iterator[int]:
    """Tiers in two quarters, metrics and a building for the seeded firms; undone afterwards."""
    with live_app.app_context():
        building = Building(name="临平测试大厦", street_id=seeded.street_a, floor_area_m2=Decimal("12000"))
        db.session.add(building)
        db.session.flush()
        for number, firm_id in enumerate(seeded.firms.values()):
            tier = TIERS[number % 4]
            values = {"current_tier": tier}
            if db.session.get(Firm, firm_id).street_id == seeded.street_a:
                values["building_id"] = building.id
            db.session.execute(sa.update(Firm).where(Firm.id == firm_id).values(**values))
            for quarter, held in (("2026Q2", TIERS[(number + 1) % 4]), ("2026Q3", tier)):
                db.session.add(
                    TierAssignment(firm_id=firm_id, quarter=quarter, tier=held, method=AssignmentMethod.AUTO)
                )
            for index, quarter in enumerate(("2025Q4", "2026Q1", "2026Q2", "2026Q3")):
                revenue = Decimal(1000 + 100 * number + 10 * index)
                db.session.add(QuarterlyMetric(firm_id=firm_id, quarter=quarter, revenue=revenue, tax=revenue / 20))
        db.session.commit()
        building_id = building.id
        db.session.remove()
    yield building_id
    with live_app.app_context():
        ids = list(seeded.firms.values())
        db.session.execute(sa.delete(QuarterlyMetric).where(QuarterlyMetric.firm_id.in_(ids)))
        db.session.execute(sa.delete(TierAssignment).where(TierAssignment.firm_id.in_(ids)))
        db.session.execute(sa.update(Firm).where(Firm.id.in_(ids)).values(current_tier=None, building_id=None))
        db.session.execute(sa.delete(Building).where(Building.id == building_id))
        db.session.commit()
        db.session.remove()


def watch_console(page: Page) -> list[str]:
    """Errors the page logs (a CSP refusal is one) and exceptions it throws."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_dashboard_charts_draw_and_toggle_to_their_tables(page: Page, base_url: str, charted: int) -> None:
    problems = watch_console(page)
    login(page, base_url, "admin")

    for name, kind in (
        ("tiers", "pie"),
        ("tiers_by_street", "stack"),
        ("transitions", "sankey"),
        ("key_trend", "line"),
    ):
        card = page.get_by_test_id(f"chart-{name}")
        expect(card.locator(".chart-box")).to_have_attribute("data-drawn", kind)
        expect(card.locator(".chart-box canvas")).to_have_count(1)
    card = page.get_by_test_id("chart-tiers")
    table = card.get_by_test_id("table-tiers")
    expect(table).to_be_hidden()
    card.locator("[data-show=table]").click()
    expect(table).to_be_visible()
    expect(card.locator(".chart-box")).to_be_hidden()
    expect(table.locator("tbody tr")).to_have_count(5)
    card.locator("[data-show=chart]").click()
    expect(card.locator(".chart-box")).to_be_visible()
    # The matrix stays beside its flow chart.
    expect(page.get_by_test_id("table-transitions")).to_be_visible()
    expect(page.get_by_test_id("empty-requests_by_category")).to_be_visible()  # no requests: no empty chart
    assert problems == [], "\n".join(problems)


def test_building_page_draws_its_trend(page: Page, base_url: str, charted: int) -> None:
    problems = watch_console(page)
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/buildings/{charted}")
    trend = page.get_by_test_id("chart-trend")
    expect(trend.locator(".chart-box")).to_have_attribute("data-drawn", "line")
    expect(page.get_by_test_id("building-firms").locator("tbody tr")).to_have_count(4)
    download = page.get_by_test_id("xlsx-trend")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename.endswith(".xlsx")
    assert problems == [], "\n".join(problems)


@pytest.fixture
def supervisor(live_app: Flask) -> str:
    """A supervisor (every street) of this module's own."""
    with live_app.app_context():
        if db.session.scalar(sa.select(User).where(User.username == SUPERVISOR)) is None:
            factories.make_user(SUPERVISOR, "supervisor")
            db.session.commit()
        db.session.remove()
    return SUPERVISOR


@pytest.fixture
def hostile_building(live_app: Flask, seeded: Seeded, charted: int) -> Iterator[int]:
    """A building of 东湖街道 named like markup, holding one of its firms; undone afterwards."""
    firm_id = seeded.firms[FIRMS["东湖街道"][0]]
    with live_app.app_context():
        building = Building(name=HOSTILE_BUILDING, street_id=seeded.street_b, floor_area_m2=Decimal("8000"))
        db.session.add(building)
        db.session.flush()
        db.session.execute(sa.update(Firm).where(Firm.id == firm_id).values(building_id=building.id))
        db.session.commit()
        building_id = building.id
        db.session.remove()
    yield building_id
    with live_app.app_context():
        db.session.execute(sa.update(Firm).where(Firm.id == firm_id).values(building_id=None))
        db.session.execute(sa.delete(Building).where(Building.id == building_id))
        db.session.commit()
        db.session.remove()


def first_sheet(data: bytes) -> list[list[object]]:
    """The rows of a workbook's first sheet."""
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_name(book.sheet_names[0]).to_python()


def show_tooltip(page: Page, card: str, category: str | None = None) -> None:
    """Show a drawn chart's tooltip, as hovering would: on a category of its axis, or its first item."""
    page.evaluate(
        """([card, category]) => {
            const box = document.querySelector(`[data-testid="${card}"] .chart-box`);
            const chart = window.echarts.getInstanceByDom(box);
            const option = chart.getOption();
            const axis = [...(option.xAxis || []), ...(option.yAxis || [])].find((a) => a.type === "category");
            const index = category === null ? 0 : axis.data.indexOf(category);
            chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: index });
        }""",
        [card, category],
    )
    expect(page.get_by_test_id(card).locator(".chart-tip-line").first).to_be_visible()


def test_supervisor_reads_the_dashboard_downloads_a_chart_and_opens_the_buildings_ranking(
    page: Page, base_url: str, supervisor: str, charted: int, hostile_building: int
) -> None:
    problems = watch_console(page)
    login(page, base_url, supervisor)
    expect(page.get_by_role("heading", name="数据看板")).to_be_visible()  # where a supervisor lands
    expect(page.get_by_test_id("dashboard-scope")).to_have_text("全部街道")
    expect(page.get_by_test_id("headline-firms")).to_have_text(str(sum(len(names) for names in FIRMS.values())))

    for name, kind in (
        ("tiers", "pie"),
        ("tiers_by_street", "stack"),
        ("transitions", "sankey"),
        ("key_trend", "line"),
    ):
        expect(page.get_by_test_id(f"chart-{name}").locator(".chart-box")).to_have_attribute("data-drawn", kind)
        show_tooltip(page, f"chart-{name}")  # its tooltip draws under the CSP
    card = page.get_by_test_id("chart-tiers_by_street")
    expect(card.locator(".chart-tip-title")).to_have_text("临平街道")
    table = card.get_by_test_id("table-tiers_by_street")
    expect(table).to_be_hidden()
    card.locator("[data-show=table]").click()
    expect(table).to_be_visible()
    expect(card.locator(".chart-box")).to_be_hidden()
    expect(table.locator("tbody tr td:first-child")).to_have_text(list(FIRMS))  # every street
    card.locator("[data-show=chart]").click()
    expect(card.locator(".chart-box")).to_be_visible()
    expect(table).to_be_hidden()

    with page.expect_download() as info:
        card.get_by_test_id("xlsx-tiers_by_street").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    rows = first_sheet(Path(download.path()).read_bytes())
    assert [(row[0], int(row[1])) for row in rows[1:]] == [(street, len(names)) for street, names in FIRMS.items()]

    page.get_by_role("navigation").get_by_role("link", name="楼宇经济", exact=True).click()
    expect(page.get_by_role("heading", name="楼宇经济", exact=True)).to_be_visible()
    ranking = page.get_by_test_id("chart-ranking")
    expect(ranking.locator(".chart-box")).to_have_attribute("data-drawn", "hbar")
    buildings = page.get_by_test_id("buildings-table").locator("tbody tr")
    expect(buildings).to_have_count(2)
    expect(buildings.filter(has_text=HOSTILE_BUILDING)).to_have_count(1)
    show_tooltip(page, "chart-ranking", HOSTILE_BUILDING)
    expect(ranking.locator(".chart-tip-title")).to_have_text(HOSTILE_BUILDING)  # the name, as text
    expect(page.locator("img[data-xss]")).to_have_count(0)

    buildings.get_by_role("link", name="临平测试大厦").click()
    expect(page.get_by_role("heading", name="临平测试大厦")).to_be_visible()
    expect(page.get_by_test_id("chart-trend").locator(".chart-box")).to_have_attribute("data-drawn", "line")
    assert problems == [], "\n".join(problems)
