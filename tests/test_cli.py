"""The CLI: users create, firms show and list, demo load; bad input exits non-zero in one line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from service_app.extensions import db
from service_app.models import Firm, User


def test_users_create_with_password_stdin(runner, app, world):
    result = runner.invoke(
        args=["users", "create", "officer_b", "--role", "officer", "--street", "东湖街道", "--password-stdin"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == "officer_b")).one()
        assert [s.name for s in user.streets] == ["东湖街道"]
        assert user.check_password("a-long-password")


def test_users_create_prompts_for_password(runner, world):
    result = runner.invoke(args=["users", "create", "sup2", "--role", "supervisor"], input="pw-123456\npw-123456\n")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["users", "create", "x1", "--role", "officer", "--password-stdin"], "a-long-password\n"),  # no street
        (
            ["users", "create", "x2", "--role", "district", "--street", "无此街道", "--password-stdin"],
            "long-password\n",
        ),
        (["users", "create", "admin", "--role", "admin", "--password-stdin"], "a-long-password\n"),  # taken
        (["users", "create", "x3", "--role", "admin", "--password-stdin"], "short\n"),
        (["users", "create", "x4", "--role", "wizard", "--password-stdin"], "a-long-password\n"),
        (["users", "create", "bad name!", "--role", "admin", "--password-stdin"], "a-long-password\n"),
    ],
)
def test_users_create_bad_input_exits_non_zero(runner, world, args, stdin):
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3


def test_firms_show_prints_json(runner, app, world):
    from service_app.domain.tiers import AssignmentMethod, Tier
    from service_app.models import TierAssignment

    from .factories import add_metric

    with app.app_context():
        firm = db.session.get(Firm, world.firm_a)
        add_metric(firm, "2026Q2", revenue="10.00")
        add_metric(firm, "2026Q3", revenue="12.50", tax="1.25", employees=12)
        reasons = [{"code": "score", "text": "得分位于第60百分位"}]
        db.session.add(
            TierAssignment(
                firm_id=firm.id, quarter="2026Q3", tier=Tier.OBSERVE, method=AssignmentMethod.AUTO, reasons=reasons
            )
        )
        firm.current_tier = Tier.OBSERVE
        db.session.commit()
        code = firm.credit_code
    result = runner.invoke(args=["firms", "show", code.lower()])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["credit_code"] == code
    assert data["name"] == "杭州甲街道服装有限公司"
    assert data["street"] == "临平街道"
    assert data["current_tier"] == "observe"
    assert data["latest_metrics"]["quarter"] == "2026Q3"
    assert data["latest_metrics"]["revenue"] == "12.50"
    assert data["tier_reasons"][0]["code"] == "score"


def test_firms_show_unknown_code(runner, world):
    result = runner.invoke(args=["firms", "show", "91110108551385082Q"])
    assert result.exit_code == 1
    assert "no firm" in result.output


def test_firms_list_filters_and_json(runner, world):
    result = runner.invoke(args=["firms", "list", "--street", "临平街道", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["杭州甲街道服装有限公司"]
    result = runner.invoke(args=["firms", "list", "--tier", "none"])
    assert result.exit_code == 0
    assert "杭州乙街道贸易有限公司" in result.stdout


@pytest.mark.parametrize("args", [["firms", "list", "--street", "火星街道"], ["firms", "list", "--tier", "gold"]])
def test_firms_list_bad_input(runner, world, args):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_ensure_admin_creates_once(runner, app, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "from-the-env-123")
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0, first.output
    assert "ADMIN_PASSWORD" in first.output
    second = runner.invoke(args=["users", "ensure-admin"])
    assert "exists already" in second.output
    with app.app_context():
        admins = db.session.scalars(sa.select(User).where(User.username == "admin")).all()
        assert len(admins) == 1
        assert admins[0].check_password("from-the-env-123")
