"""The quarter report's figures equal plain counts over the generated data, street by street,
within each user's scope; the workbook opens and has its sheets; the CLI writes it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import python_calamine
import sqlalchemy as sa

from service_app.domain.followups import UNRESOLVED, FollowupStatus, RequestCategory, RequestStatus
from service_app.domain.quarters import Quarter
from service_app.domain.tiers import FirmStatus, Tier
from service_app.domain.workdays import china_today
from service_app.extensions import db
from service_app.models import (
    Firm,
    FirmRequest,
    Followup,
    QuarterlyMetric,
    RequestStep,
    TierAssignment,
    User,
    Visit,
)
from service_app.reports.services import NONE, ReportError, default_report_quarter, quarter_report
from service_app.reports.workbook import quarter_workbook, sheet_title

from .. import factories
from .conftest import QUARTER, TODAY

CHINA = dt.timezone(dt.timedelta(hours=8))


def _as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _beijing_day(moment: dt.datetime) -> dt.date:
    return _as_utc(moment).astimezone(CHINA).date()


def _in_quarter(moment: dt.datetime | None, quarter: Quarter) -> bool:
    return moment is not None and quarter.first_day <= _beijing_day(moment) <= quarter.last_day


def expected_figures(street_id: int, quarter: Quarter = QUARTER, today: dt.date = TODAY) -> dict[str, Any]:
    """Every figure of one street, counted plainly: one simple query each, tallied row by row."""
    session = db.session
    in_street = Firm.street_id == street_id
    tier_chain: Counter[tuple[str, str]] = Counter()
    for tier, chain in session.execute(
        sa.select(TierAssignment.tier, Firm.chain)
        .join(Firm, Firm.id == TierAssignment.firm_id)
        .where(in_street, TierAssignment.quarter == quarter.key)
    ):
        tier_chain[(tier.value, chain.value if chain else NONE)] += 1
    assessed = set(session.scalars(sa.select(TierAssignment.firm_id).where(TierAssignment.quarter == quarter.key)))
    reported = set(session.scalars(sa.select(QuarterlyMetric.firm_id).where(QuarterlyMetric.quarter == quarter.key)))
    quarter_end = dt.datetime.combine(quarter.last_day + dt.timedelta(days=1), dt.time(), CHINA)
    for firm in session.scalars(sa.select(Firm).where(in_street, Firm.status == FirmStatus.ACTIVE)):
        if firm.id not in assessed and (_as_utc(firm.created_at) < quarter_end or firm.id in reported):
            tier_chain[(NONE, firm.chain.value if firm.chain else NONE)] += 1

    def tier_of(key: str) -> dict[int, Tier]:
        return dict(
            session.execute(
                sa.select(TierAssignment.firm_id, TierAssignment.tier)
                .join(Firm, Firm.id == TierAssignment.firm_id)
                .where(in_street, TierAssignment.quarter == key)
            ).all()
        )

    before, after = tier_of((quarter - 1).key), tier_of(quarter.key)
    transitions = Counter(
        (before[f].value if f in before else NONE, after[f].value if f in after else NONE)
        for f in set(before) | set(after)
    )

    def figures_of(key: str) -> dict[int, QuarterlyMetric]:
        return {m.firm_id: m for m in session.scalars(sa.select(QuarterlyMetric).where(QuarterlyMetric.quarter == key))}

    key_firms = [f for f, t in after.items() if t is Tier.KEY]
    now, then = figures_of(quarter.key), figures_of((quarter - 4).key)
    money: dict[str, Any] = {"key_firms": len(key_firms), "key_reporting": sum(f in now for f in key_firms)}
    for name in ("revenue", "tax"):
        money[name] = sum((getattr(now[f], name) or 0 for f in key_firms if f in now), Decimal(0))
        both = [
            f
            for f in key_firms
            if f in now and f in then and getattr(now[f], name) is not None and getattr(then[f], name) is not None
        ]
        money[f"{name}_comparable"] = sum((getattr(now[f], name) for f in both), Decimal(0))
        money[f"{name}_year_ago"] = sum((getattr(then[f], name) for f in both), Decimal(0))

    followups = session.scalars(
        sa.select(Followup)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(in_street, Followup.due_date.between(quarter.first_day, quarter.last_day))
    ).all()
    planned = [f for f in followups if f.status is not FollowupStatus.CANCELLED]
    visits = session.scalar(
        sa.select(sa.func.count())
        .select_from(Visit)
        .join(Firm, Firm.id == Visit.firm_id)
        .where(in_street, Visit.visited_on.between(quarter.first_day, quarter.last_day))
    )

    requests = session.scalars(sa.select(FirmRequest).join(Firm, Firm.id == FirmRequest.firm_id).where(in_street)).all()
    first_step: dict[tuple[int, RequestStatus], dt.datetime] = {}
    for request_id, status, created_at in session.execute(
        sa.select(RequestStep.request_id, RequestStep.status, RequestStep.created_at)
    ):
        key = (request_id, status)
        first_step[key] = min(created_at, first_step.get(key, created_at))
    opened = overdue = closed = resolved = days = 0
    satisfaction: Counter[str] = Counter()
    for request in requests:
        resolved_at = first_step.get((request.id, RequestStatus.RESOLVED))
        if quarter.first_day <= request.received_on <= quarter.last_day:
            opened += 1
            if resolved_at is None:
                overdue += request.status in UNRESOLVED and request.deadline < today
            else:
                overdue += _beijing_day(resolved_at) > request.deadline
        closed += _in_quarter(request.closed_at, quarter)
        if _in_quarter(resolved_at, quarter):
            resolved += 1
            days += (_beijing_day(resolved_at) - request.received_on).days
        revisited_at = first_step.get((request.id, RequestStatus.REVISITED))
        if _in_quarter(revisited_at, quarter) and request.satisfaction is not None:
            satisfaction[request.satisfaction.value] += 1
    return {
        "tier_chain": +tier_chain,
        "transitions": +transitions,
        **money,
        "followups_planned": len(planned),
        "followups_done": sum(f.status is FollowupStatus.DONE for f in planned),
        "followups_overdue": sum(f.status is FollowupStatus.OPEN and f.due_date < today for f in planned),
        "visits": visits,
        "requests_opened": opened,
        "requests_overdue": overdue,
        "requests_closed": closed,
        "requests_resolved": resolved,
        "resolve_days": days,
        "satisfaction": +satisfaction,
    }


def actual_figures(figures) -> dict[str, Any]:
    keys = (
        "key_firms",
        "key_reporting",
        "revenue",
        "tax",
        "revenue_comparable",
        "revenue_year_ago",
        "tax_comparable",
        "tax_year_ago",
        "followups_planned",
        "followups_done",
        "followups_overdue",
        "visits",
        "requests_opened",
        "requests_overdue",
        "requests_closed",
        "requests_resolved",
        "resolve_days",
    )
    return {
        "tier_chain": +figures.tier_chain,
        "transitions": +figures.transitions,
        "satisfaction": +figures.satisfaction,
        **{key: getattr(figures, key) for key in keys},
    }


def test_figures_equal_plain_counts_street_by_street(ctx, generated):
    report = quarter_report(None, QUARTER, today=TODAY)
    assert [s.street.id for s in report.streets] == sorted(generated.streets.values())
    assert report.whole_platform
    for section in report.streets:
        expected = expected_figures(section.street.id)
        assert actual_figures(section.figures) == expected, section.street.name
    # The data set is rich enough that every figure is exercised somewhere.
    total = report.total
    assert total.firms == sum(s.figures.firms for s in report.streets) > 100
    assert total.requests_resolved > 0 and total.satisfaction_total > 0 and total.key_reporting > 0
    assert total.followups_overdue > 0 and total.requests_overdue > 0 and sum(total.transitions.values()) > 0
    for name in ("visits", "requests_opened", "followups_planned"):
        assert getattr(total, name) == sum(getattr(s.figures, name) for s in report.streets)


def test_other_quarters_too(ctx, generated):
    """The previous quarter (no tiers before it) and the next (tiers carried from nowhere)."""
    for quarter in (QUARTER - 1, QUARTER + 1):
        for section in quarter_report(None, quarter, today=TODAY).streets:
            assert actual_figures(section.figures) == expected_figures(section.street.id, quarter)


@pytest.mark.parametrize("username", ["district_a", "o1", "o2"])
def test_a_scoped_user_gets_only_its_streets(ctx, generated, username):
    user = db.session.scalars(sa.select(User).where(User.username == username)).one()
    report = quarter_report(user, QUARTER, today=TODAY)
    own = sorted(s.id for s in user.streets)
    assert [s.street.id for s in report.streets] == own
    assert not report.whole_platform
    for section in report.streets:
        assert actual_figures(section.figures) == expected_figures(section.street.id)
    with pytest.raises(ReportError):
        quarter_report(user, QUARTER, generated.streets["C"], today=TODAY)


def test_one_street_for_an_all_streets_user(ctx, generated):
    supervisor = db.session.scalars(sa.select(User).where(User.username == "supervisor")).one()
    report = quarter_report(supervisor, QUARTER, generated.streets["B"], today=TODAY)
    assert [s.street.id for s in report.streets] == [generated.streets["B"]] and not report.whole_platform
    assert actual_figures(report.total) == expected_figures(generated.streets["B"])


def test_the_beijing_day_decides_quarter_and_lateness(ctx):
    """Resolved at 00:30 on 1 July in Beijing is Q3 although UTC still says June; 01:00 on 1 October
    is Q4; 23:59 on the deadline day is on time."""
    street = factories.make_street("临平街道")
    firm = factories.make_firm(street)

    def resolved(received: dt.date, at: dt.datetime, deadline: dt.date) -> None:
        request = FirmRequest(
            firm_id=firm.id,
            category=RequestCategory.IP,
            description="边界",
            received_on=received,
            deadline=deadline,
            status=RequestStatus.RESOLVED,
        )
        request.steps.append(RequestStep(status=RequestStatus.RESOLVED, note="", created_at=at))
        db.session.add(request)

    resolved(dt.date(2026, 6, 30), dt.datetime(2026, 6, 30, 16, 30, tzinfo=dt.UTC), dt.date(2026, 7, 10))
    resolved(dt.date(2026, 9, 20), dt.datetime(2026, 9, 30, 17, 0, tzinfo=dt.UTC), dt.date(2026, 9, 30))
    resolved(dt.date(2026, 9, 21), dt.datetime(2026, 9, 30, 15, 59, tzinfo=dt.UTC), dt.date(2026, 9, 30))
    db.session.flush()
    q3 = quarter_report(None, QUARTER, today=TODAY).total
    assert q3.requests_resolved == 2 and q3.resolve_days == 1 + 9
    assert q3.requests_opened == 2 and q3.requests_overdue == 1  # the one resolved on 1 October
    q4 = quarter_report(None, QUARTER + 1, today=TODAY).total
    assert q4.requests_resolved == 1 and q4.resolve_days == 11 and q4.average_resolve_days == 11


def test_growth_rates_and_shares(ctx):
    street = factories.make_street("临平街道")
    for revenue_now, revenue_then in (("150.00", "100.00"), ("50.00", None)):
        firm = factories.make_firm(street)
        db.session.add(TierAssignment(firm_id=firm.id, quarter=QUARTER.key, tier=Tier.KEY, reasons=[], method="auto"))
        factories.add_metric(firm, QUARTER.key, revenue=revenue_now, tax="10.00")
        if revenue_then:
            factories.add_metric(firm, (QUARTER - 4).key, revenue=revenue_then, tax="8.00")
    db.session.flush()
    total = quarter_report(None, QUARTER, today=TODAY).total
    assert total.revenue == Decimal("200.00") and total.revenue_year_ago == Decimal("100.00")
    assert total.revenue_growth == pytest.approx(0.5)  # same firms only: 150 against 100
    assert total.tax_growth == pytest.approx(0.25)
    assert total.key_firms == 2 and total.key_reporting == 2
    assert total.satisfaction_rate is None and total.average_resolve_days is None


def test_an_empty_database_gives_an_empty_report(ctx, tmp_path):
    assert default_report_quarter() == Quarter.of(china_today())
    report = quarter_report(None, QUARTER, today=TODAY)
    assert report.streets == [] and report.total.firms == 0
    workbook = quarter_workbook(report, platform="临平新城", author="测试")
    workbook.save(tmp_path / "empty.xlsx")
    assert python_calamine.CalamineWorkbook.from_path(str(tmp_path / "empty.xlsx")).sheet_names == ["说明", "汇总"]


def test_default_quarter_is_the_latest_with_figures(ctx):
    street = factories.make_street("临平街道")
    firm = factories.make_firm(street)
    db.session.add(TierAssignment(firm_id=firm.id, quarter="2026Q4", tier=Tier.KEY, reasons=[], method="auto"))
    db.session.flush()
    assert default_report_quarter() == Quarter(2026, 4)  # tiers only
    factories.add_metric(firm, "2026Q2")
    factories.add_metric(firm, "2026Q3")
    assert default_report_quarter() == Quarter(2026, 3)  # figures win


def test_workbook_sheets_and_cells(ctx, generated, tmp_path):
    report = quarter_report(None, QUARTER, today=TODAY)
    path = tmp_path / "report.xlsx"
    quarter_workbook(report, platform="临平新城", author="测试").save(path)
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    assert workbook.sheet_names == ["说明", "汇总", "临平街道", "东湖街道", "塘栖镇"]
    cover = {row[0]: row[1] for row in workbook.get_sheet_by_name("说明").to_python()[2:]}
    assert cover["季度"] == "2026Q3" and cover["范围"] == "全部街道" and "口径：同比增长" in cover
    summary = workbook.get_sheet_by_name("汇总").to_python()
    overview_header = next(i for i, row in enumerate(summary) if row[0] == "街道")
    rows = {row[0]: row for row in summary[overview_header + 1 : overview_header + 5]}
    header = summary[overview_header]
    for section in report.streets:
        line = dict(zip(header, rows[section.street.name], strict=True))
        assert line["合计"] == section.figures.firms
        assert line["重点服务"] == section.figures.tier_total("key")
        assert line["重点企业营收（万元）"] == pytest.approx(float(section.figures.revenue))
        assert line["受理诉求"] == section.figures.requests_opened
    assert dict(zip(header, rows["合计"], strict=True))["合计"] == report.total.firms
    street = workbook.get_sheet_by_name("塘栖镇").to_python()
    assert street[0][0] == "塘栖镇 · 2026Q3"
    follow_header = next(i for i, row in enumerate(street) if row[0] == "本季度到期计划")
    section = report.streets[2].figures
    assert street[follow_header + 1][:4] == [
        section.followups_planned,
        section.followups_done,
        section.followups_overdue,
        section.visits,
    ]


def test_sheet_titles_are_valid_and_unique():
    used = {"说明", "汇总"}
    assert sheet_title("临平街道", used) == "临平街道"
    assert sheet_title("临平街道", used) == "临平街道(2)"
    assert sheet_title("a/b[c]:d*e?f\\g", used) == "abcdefg"
    long = sheet_title("很" * 40, used)
    assert len(long) == 31 and len(sheet_title("很" * 40, used)) == 31


# --- the command line -------------------------------------------------------------------------


def test_cli_writes_the_report(runner, ctx, generated, tmp_path):
    path = tmp_path / "季度报告.xlsx"
    result = runner.invoke(args=["report", "quarter", "--quarter", "2026年第三季度", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert "2026Q3" in result.output
    names = python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names
    assert names == ["说明", "汇总", "临平街道", "东湖街道", "塘栖镇"]


def test_cli_one_street(runner, ctx, generated, tmp_path):
    path = tmp_path / "one.xlsx"
    result = runner.invoke(args=["report", "quarter", "--quarter", "2026Q3", "--street", "塘栖镇", "-o", str(path)])
    assert result.exit_code == 0, result.output
    names = python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names
    assert names == ["说明", "汇总", "塘栖镇"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--street", "不存在街道"], "no street named"),
        (["--quarter", "2026Q9"], "not a quarter"),
        (["--quarter", "1900Q1"], "not a quarter"),
    ],
)
def test_cli_refuses_bad_input(runner, ctx, generated, tmp_path, args, message):
    result = runner.invoke(args=["report", "quarter", "-o", str(tmp_path / "x.xlsx"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_refuses_an_unwritable_path(runner, ctx, generated, tmp_path):
    result = runner.invoke(args=["report", "quarter", "-o", str(tmp_path / "missing" / "x.xlsx")])
    assert result.exit_code == 2 and "cannot write" in result.output
