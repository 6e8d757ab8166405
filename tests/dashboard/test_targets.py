"""Indicator targets: admins set them (one per indicator and year), the dashboard colours them."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from service_app.domain.indicators import IndicatorMetric
from service_app.extensions import db
from service_app.models import AuditEvent, Firm, IndicatorTarget, QuarterlyMetric, Street

from .. import factories

ROLES = ("admin", "supervisor", "officer_a", "district_a", None)


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("GET", "/", {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302}),
        (
            "GET",
            "/dashboard/charts/tiers.json",
            {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302},
        ),
        (
            "GET",
            "/dashboard/charts/tiers.xlsx",
            {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302},
        ),
        (
            "GET",
            "/dashboard/targets",
            {"admin": 200, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302},
        ),
        (
            "POST",
            "/dashboard/targets",
            {"admin": 200, "supervisor": 403, "officer_a": 403, "district_a": 403, None: 302},
        ),
        ("GET", "/buildings/", {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302}),
        (
            "GET",
            "/buildings/charts/ranking.json",
            {"admin": 200, "supervisor": 200, "officer_a": 200, "district_a": 200, None: 302},
        ),
    ],
)
@pytest.mark.parametrize("role", ROLES)
def test_who_may_see_what(client, auth, world, method, url, expected, role):
    if role:
        auth.login(role)
    assert client.open(url, method=method, data={}).status_code == expected[role]


def test_edit_and_delete_need_an_admin(ctx, client, auth, world):
    target = IndicatorTarget(year=2026, metric=IndicatorMetric.REVENUE_GROWTH, name="营收增长", threshold=Decimal("10"))
    db.session.add(target)
    db.session.commit()
    auth.login("supervisor")
    assert client.get(f"/dashboard/targets/{target.id}").status_code == 403
    assert client.post(f"/dashboard/targets/{target.id}/delete").status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.get("/dashboard/targets/999999").status_code == 404
    assert client.post("/dashboard/targets/999999/delete").status_code == 404


def test_admin_sets_edits_and_deletes_a_target(ctx, client, auth, world):
    auth.login("admin")
    response = client.post(
        "/dashboard/targets", data={"year": "2026", "metric": "revenue_growth", "name": "", "threshold": "10"}
    )
    assert response.status_code == 302
    target = db.session.scalars(sa.select(IndicatorTarget)).one()
    assert (target.year, target.metric, target.threshold) == (2026, IndicatorMetric.REVENUE_GROWTH, Decimal("10.00"))
    assert target.name  # the indicator's own name when left empty
    # A second target for the same indicator and year is refused, with a message.
    page = client.post(
        "/dashboard/targets",
        data={"year": "2026", "metric": "revenue_growth", "name": "再来一个", "threshold": "12"},
        follow_redirects=True,
    ).text
    assert "已有" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorTarget)) == 1
    response = client.post(
        f"/dashboard/targets/{target.id}",
        data={"year": "2026", "metric": "revenue_growth", "name": "平台营收增长", "threshold": "11.5"},
    )
    assert response.status_code == 302
    db.session.refresh(target)
    assert (target.name, target.threshold) == ("平台营收增长", Decimal("11.50"))
    assert client.post(f"/dashboard/targets/{target.id}/delete").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorTarget)) == 0
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "indicator_target"))
    assert list(actions) == ["target.save", "target.save", "target.delete"]


@pytest.mark.parametrize(
    ("year", "metric", "threshold"),
    [
        ("1999", "revenue_growth", "10"),
        ("abc", "revenue_growth", "10"),
        ("", "revenue_growth", "10"),
        ("2026", "nonsense", "10"),
        ("2026", "revenue_growth", ""),
        ("2026", "revenue_growth", "abc"),
        ("2026", "revenue_growth", "NaN"),
        ("2026", "revenue_growth", "sNaN"),
        ("2026", "revenue_growth", "Infinity"),
        ("2026", "revenue_growth", "1e9"),
        ("2026", "revenue_growth", "-101"),
    ],
)
def test_bad_targets_are_refused_with_a_message(ctx, client, auth, world, year, metric, threshold):
    auth.login("admin")
    response = client.post("/dashboard/targets", data={"year": year, "metric": metric, "threshold": threshold})
    assert response.status_code == 200
    assert "invalid-feedback" in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorTarget)) == 0


def test_dashboard_colours_each_indicator(ctx, client, auth, world):
    """Green at the target, amber within a fifth of it, red beyond, grey without data."""
    firm = db.session.get(Firm, world.firm_a)
    firm.industry_code = "I6513"
    for quarter, revenue, tax, rd in (("2025Q1", 100, 10, 1), ("2026Q1", 110, 10.9, 5)):
        db.session.add(
            QuarterlyMetric(
                firm_id=firm.id, quarter=quarter, revenue=Decimal(revenue), tax=Decimal(tax), rd_spend=Decimal(rd)
            )
        )
    for metric, threshold in (
        (IndicatorMetric.REVENUE_GROWTH, "10"),  # 10.0% against 10: green
        (IndicatorMetric.TAX_GROWTH, "10"),  # 9.0% against 10: amber (short by 1 point)
        (IndicatorMetric.DIGITAL_CORE_GROWTH, "15"),  # 10.0% against 15: red
        (IndicatorMetric.RD_INTENSITY, "3"),  # 4.5% against 3: green
    ):
        db.session.add(IndicatorTarget(year=2026, metric=metric, name=metric.value, threshold=Decimal(threshold)))
    db.session.add(IndicatorTarget(year=2025, metric=IndicatorMetric.TAX_GROWTH, name="去年", threshold=Decimal("1")))
    db.session.commit()
    auth.login("admin")
    page = client.get("/").text
    assert 'indicator-green" data-testid="indicator-revenue_growth"' in page
    assert 'indicator-amber" data-testid="indicator-tax_growth"' in page
    assert 'indicator-red" data-testid="indicator-digital_growth"' in page
    assert 'indicator-green" data-testid="indicator-rd_intensity"' in page
    assert "去年" not in page  # only the data year's targets
    data = client.get("/dashboard/charts/indicators.json").get_json()
    assert data["options"]["status"] == ["green", "amber", "red", "green"]
    # The district user sees its street's figures: 东湖街道 has no data, so every indicator is grey.
    auth.logout()
    factories.make_user("district_b", "district", [db.session.get(Street, world.street_b)])
    db.session.commit()
    auth.login("district_b")
    assert client.get("/dashboard/charts/indicators.json").get_json()["options"]["status"] == ["none"] * 4
