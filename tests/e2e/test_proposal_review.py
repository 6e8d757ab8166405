"""A quarterly proposal in a real browser: a supervisor reviews, overrides one firm and approves;
an officer can neither see the approval nor post it.

Each test computes its own proposal for its own quarter, so the order of the tests (and the
officer tests' edits to the shared firms) does not matter: what the page must show is read
from the same services the page uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from service_app.domain.quarters import Quarter
from service_app.domain.tiers import Tier
from service_app.extensions import db
from service_app.models import Firm, ProposalItem, TierProposal

from .. import factories
from .conftest import Seeded, login

#: Matrix rows and columns in the order the review page draws them.
ROWS = ["key", "cultivate", "observe", "exit", "none"]
COLUMNS = ["key", "cultivate", "observe", "exit"]
#: The firm the supervisor overrides; the officer tests do not edit it.
TARGET = "杭州临平星河数字科技有限公司"
SUPERVISOR = "supervisor_e2e"


@pytest.fixture(scope="module")
def tier_data(live_app: Flask, seeded: Seeded) -> None:
    """A supervisor, four quarters of metrics for six firms, and two firms with a current tier."""
    with live_app.app_context():
        factories.make_user(SUPERVISOR, "supervisor")
        for n, firm_id in enumerate(sorted(seeded.firms.values())[:6]):
            firm = db.session.get(Firm, firm_id)
            for quarter in Quarter(2026, 3).trailing(4):
                revenue = Decimal(200 + 150 * n)
                factories.add_metric(
                    firm, quarter.key, revenue=str(revenue), tax=str(revenue / 20), employees=20 + n, floor_area_m2=600
                )
        for name, tier in ((TARGET, Tier.OBSERVE), ("杭州东湖明远电子商务有限公司", Tier.CULTIVATE)):
            db.session.get(Firm, seeded.firms[name]).current_tier = tier
        db.session.commit()
        db.session.remove()


@pytest.fixture
def make_proposal(live_app: Flask, tier_data: None) -> Callable[[Quarter], int]:
    """Compute a draft proposal for a quarter, as the scheduled job would; returns its id."""

    def make(quarter: Quarter) -> int:
        from service_app.tiers.services import propose_tiers

        with live_app.app_context():
            proposal_id = propose_tiers(quarter).id
            db.session.commit()
            db.session.remove()
        return proposal_id

    return make


def expected_review(live_app: Flask, proposal_id: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The counts after and the transition matrix the review page should show."""
    from service_app.tiers.services import transition_matrix

    with live_app.app_context():
        proposal = db.session.get(TierProposal, proposal_id)
        counts, matrix = proposal.summary["counts"], transition_matrix(proposal)
        db.session.remove()
    return counts, matrix


def test_supervisor_reviews_overrides_one_firm_and_approves(
    page: Page, base_url: str, live_app: Flask, seeded: Seeded, make_proposal: Callable[[Quarter], int]
) -> None:
    proposal_id = make_proposal(Quarter(2026, 4))
    counts, matrix = expected_review(live_app, proposal_id)
    login(page, base_url, SUPERVISOR)

    page.get_by_role("navigation").get_by_role("link", name="分层评定").click()
    page.get_by_role("row").filter(has_text="2026Q4").get_by_role("link", name=str(proposal_id), exact=True).click()

    expect(page).to_have_url(f"{base_url}/tiers/proposals/{proposal_id}")
    expect(page.get_by_test_id("proposal-status")).to_have_text("审核中")
    table = page.get_by_test_id("matrix")
    rows = table.locator("tbody tr")
    for r, row in enumerate(ROWS):
        cells = rows.nth(r).locator("td")
        for c, column in enumerate(COLUMNS):
            expect(cells.nth(c)).to_have_text(str(matrix.get(row, {}).get(column, 0)))
    after = rows.nth(len(ROWS)).locator("th")
    expect(after.first).to_have_text("评定后")
    for c, column in enumerate(COLUMNS):
        expect(after.nth(c + 1)).to_have_text(str(counts[column]))

    # The cell the target firm sits in lists exactly that cell's firms.
    with live_app.app_context():
        item = db.session.scalars(
            sa.select(ProposalItem).where(
                ProposalItem.proposal_id == proposal_id, ProposalItem.firm_id == seeded.firms[TARGET]
            )
        ).one()
        current = item.current_tier.value if item.current_tier else "none"
        proposed = item.proposed_tier.value
        db.session.remove()
    in_cell = matrix[current][proposed]
    rows.nth(ROWS.index(current)).locator("td").nth(COLUMNS.index(proposed)).get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"current={current}&final={proposed}"))
    items = page.get_by_test_id("items").locator("tbody tr")
    expect(items).to_have_count(in_cell)
    expect(page.get_by_text(f"共找到 {in_cell} 家企业")).to_be_visible()

    # Override the target firm with a reason.
    line = items.filter(has_text=TARGET)
    chosen = Tier.CULTIVATE if proposed == Tier.KEY.value else Tier.KEY
    line.locator("select[name=tier]").select_option(chosen.value)
    line.locator("input[name=reason]").fill("重大招商项目落地")
    line.get_by_role("button", name="确定").click()

    expect(page.locator(".alert-success")).to_contain_text("已保存人工调整。")
    line = page.get_by_test_id("items").locator("tbody tr").filter(has_text=TARGET)
    expect(line.locator(".badge.bg-warning")).to_have_text("已人工调整")
    expect(line.locator("details summary")).to_contain_text("人工调整为")

    # Approve: the page asks first, then shows the proposal applied.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("approve").click()

    expect(page.locator(".alert-success")).to_contain_text("已批准：2026Q4")
    expect(page.get_by_test_id("proposal-status")).to_have_text("已批准")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    page.goto(f"{base_url}/firms/{seeded.firms[TARGET]}")
    expect(page.locator("h1 + .tier-badge")).to_have_class(re.compile(rf"\btier-{chosen.value}\b"))
    expect(page.get_by_text("重大招商项目落地").first).to_be_visible()


def test_an_officer_can_neither_see_nor_post_the_approval(
    page: Page, base_url: str, live_app: Flask, make_proposal: Callable[[Quarter], int]
) -> None:
    proposal_id = make_proposal(Quarter(2026, 3))
    login(page, base_url, "officer_a")

    expect(page.get_by_role("navigation").get_by_role("link", name="分层评定")).to_have_count(0)
    response = page.goto(f"{base_url}/tiers/proposals/{proposal_id}")
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("approve")).to_have_count(0)
    expect(page.get_by_test_id("matrix")).to_have_count(0)

    # A hand-made POST with the officer's own valid CSRF token is refused by role, not by token
    # (signed out, it would be sent to the login page instead).
    page.goto(f"{base_url}/")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"{base_url}/tiers/proposals/{proposal_id}/apply", form={"csrf_token": token or ""})
    assert refused.status == 403
    with live_app.app_context():
        assert db.session.get(TierProposal, proposal_id).status.value == "draft"
        db.session.remove()
