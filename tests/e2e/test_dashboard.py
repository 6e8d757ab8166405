"""The dashboard and a building's page in a real browser: the charts draw from their data
endpoints under the app's Content-Security-Policy (no inline script, no CDN), the table view
toggles, and nothing is refused or thrown on the way."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import ConsoleMessage, Page, expect

from service_app.domain.tiers import AssignmentMethod, Tier
from service_app.extensions import db
from service_app.models import Building, Firm, QuarterlyMetric, TierAssignment

from .conftest import Seeded, login

TIERS = [Tier.KEY, Tier.CULTIVATE, Tier.OBSERVE, Tier.EXIT]


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
    assert problems == []


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
    assert problems == []
