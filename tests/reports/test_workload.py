"""Officers' workload: each row equals plain counts over the generated data, within the viewer's
scope; sorting, searching and the overload mark; the bulk rebalance through the web, audited."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
import sqlalchemy as sa

from service_app.domain.followups import UNRESOLVED, FollowupStatus
from service_app.domain.quarters import Quarter
from service_app.domain.tiers import FirmStatus, Role, Tier
from service_app.extensions import db
from service_app.models import AuditEvent, Firm, FirmRequest, Followup, User, Visit
from service_app.workload.services import (
    COUNT_COLUMNS,
    TIER_COLUMNS,
    WorkloadFilters,
    workload_select,
    workload_summary,
)

from .conftest import TODAY


def _user(username: str) -> User:
    return db.session.scalars(sa.select(User).where(User.username == username)).one()


def expected_row(officer_id: int, streets: list[int] | None) -> dict[str, int]:
    """One officer's counts, each from its own plain query, limited to `streets` (None: all)."""
    scope = Firm.street_id.in_(streets) if streets is not None else sa.true()
    firms = db.session.scalars(
        sa.select(Firm).where(Firm.officer_id == officer_id, Firm.status != FirmStatus.DEREGISTERED, scope)
    ).all()
    tiers = Counter(firm.current_tier for firm in firms)
    followups = db.session.scalars(
        sa.select(Followup)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(Followup.officer_id == officer_id, Followup.status == FollowupStatus.OPEN, scope)
    ).all()
    requests = [
        request
        for request, firm_officer in db.session.execute(
            sa.select(FirmRequest, Firm.officer_id)
            .join(Firm, Firm.id == FirmRequest.firm_id)
            .where(FirmRequest.status.in_(UNRESOLVED), scope)
        )
        if (request.owner_id if request.owner_id is not None else firm_officer) == officer_id
    ]
    quarter = Quarter.of(TODAY)
    visits = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Visit)
        .join(Firm, Firm.id == Visit.firm_id)
        .where(Visit.officer_id == officer_id, Visit.visited_on.between(quarter.first_day, quarter.last_day), scope)
    )
    return {
        **{TIER_COLUMNS[tier]: tiers[tier] for tier in Tier},
        "unassessed": tiers[None],
        "total": len(firms),
        "open_followups": len(followups),
        "overdue_followups": sum(f.due_date < TODAY for f in followups),
        "open_requests": len(requests),
        "overdue_requests": sum(r.deadline < TODAY for r in requests),
        "visits": visits,
    }


def rows_of(user: User, filters: WorkloadFilters | None = None) -> dict[str, dict[str, int]]:
    rows = db.session.execute(workload_select(user, filters or WorkloadFilters(), TODAY)).mappings()
    return {row["username"]: {name: row[name] for name in COUNT_COLUMNS} for row in rows}


def test_every_officers_row_equals_plain_counts(ctx, generated):
    supervisor = _user("supervisor")
    rows = rows_of(supervisor)
    assert set(rows) == {"o1", "o2", "o3", "o4"}  # o4 is inactive but still holds work
    for username, row in rows.items():
        assert row == expected_row(generated.officers[username], None), username
    assert sum(row["total"] for row in rows.values()) > 50
    assert sum(row["overdue_followups"] for row in rows.values()) > 0
    assert sum(row["overdue_requests"] for row in rows.values()) > 0
    assert sum(row["visits"] for row in rows.values()) > 0
    summary = workload_summary(supervisor, WorkloadFilters(), TODAY)
    assert summary.officers == 4
    assert summary.totals == {name: sum(row[name] for row in rows.values()) for name in COUNT_COLUMNS}
    assert summary.average_total == pytest.approx(summary.totals["total"] / 4)
    unassigned = db.session.scalar(
        sa.select(sa.func.count()).where(Firm.officer_id.is_(None), Firm.status != FirmStatus.DEREGISTERED)
    )
    assert summary.unassigned == unassigned > 0


def test_a_street_filter_counts_only_that_street(ctx, generated):
    rows = rows_of(_user("supervisor"), WorkloadFilters(street_id=generated.streets["B"]))
    for username, row in rows.items():
        assert row == expected_row(generated.officers[username], [generated.streets["B"]]), username
    assert "o2" in rows and "o4" in rows  # the officers of street B


def test_a_district_user_sees_its_streets_officers_and_only_its_street(ctx, generated):
    street = generated.streets["A"]
    rows = rows_of(_user("district_a"))
    assert {"o1", "o2"} <= set(rows)  # they cover street A
    for username, row in rows.items():
        assert row == expected_row(generated.officers[username], [street]), username
    for username in set(generated.officers) - set(rows):  # left out only when nothing of theirs is in A
        assert not any(expected_row(generated.officers[username], [street]).values())


def test_an_officer_sees_its_own_row(ctx, generated):
    rows = rows_of(_user("o2"))
    assert list(rows) == ["o2"]
    streets = [generated.streets["A"], generated.streets["B"]]
    assert rows["o2"] == expected_row(generated.officers["o2"], streets)


def test_sorting_and_searching(ctx, generated):
    supervisor = _user("supervisor")
    by_total = list(rows_of(supervisor, WorkloadFilters(sort="total", descending=True)).values())
    assert [r["total"] for r in by_total] == sorted((r["total"] for r in by_total), reverse=True)
    ascending = list(rows_of(supervisor, WorkloadFilters(sort="overdue_requests", descending=False)).values())
    assert [r["overdue_requests"] for r in ascending] == sorted(r["overdue_requests"] for r in ascending)
    assert list(rows_of(supervisor, WorkloadFilters(sort="name", descending=False))) == ["o1", "o2", "o3", "o4"]
    assert list(rows_of(supervisor, WorkloadFilters(q="o3"))) == ["o3"]
    assert rows_of(supervisor, WorkloadFilters(q="%")) == {}  # LIKE wildcards are text


def test_an_empty_database_shows_an_empty_table(ctx):
    from .. import factories

    supervisor = factories.make_user("boss", Role.SUPERVISOR)
    assert rows_of(supervisor) == {}
    summary = workload_summary(supervisor, WorkloadFilters(), TODAY)
    assert summary.officers == 0 and summary.average_total == 0 and summary.unassigned == 0
    assert not summary.overloaded(10)


# --- the web page -----------------------------------------------------------------------------


def row_order(page: str) -> list[str]:
    return re.findall(r'data-testid="workload-row" data-officer="([^"]+)"', page)


def test_page_marks_overloaded_officers(client, auth, ctx, generated):
    auth.login("supervisor")
    page = client.get("/workload/").text
    rows = rows_of(_user("supervisor"))
    average = sum(r["total"] for r in rows.values()) / len(rows)
    heavy = [name for name, r in rows.items() if r["total"] > average * 1.25]
    assert page.count('data-testid="overloaded"') == len(heavy)
    assert row_order(page) == sorted(rows, key=lambda name: (-rows[name]["total"], name))
    assert 'data-testid="workload-total"' in page and 'data-testid="unassigned"' in page
    assert 'data-testid="rebalance-o1"' in page


def test_page_sorts_searches_and_filters(client, auth, generated):
    auth.login("supervisor")
    assert row_order(client.get("/workload/?sort=name&dir=asc").text) == ["o1", "o2", "o3", "o4"]
    assert row_order(client.get("/workload/?sort=name&dir=desc").text) == ["o4", "o3", "o2", "o1"]
    assert row_order(client.get("/workload/?q=o2").text) == ["o2"]
    assert client.get("/workload/?sort=nonsense&dir=sideways&page=999999999999").status_code == 200
    assert client.get(f"/workload/?street={generated.streets['C']}").status_code == 200


def test_district_and_officer_pages(client, auth, generated):
    auth.login("district_a")
    page = client.get("/workload/").text
    assert "rebalance-" not in page
    assert client.get(f"/workload/?street={generated.streets['C']}").status_code == 404
    auth.logout()
    auth.login("o1")
    page = client.get("/workload/").text
    assert row_order(page) == ["o1"] and "rebalance-" not in page


# --- rebalancing ------------------------------------------------------------------------------


def _officer_firms(officer_id: int) -> dict[int, int]:
    """firm id → street id of the officer's firms."""
    return dict(db.session.execute(sa.select(Firm.id, Firm.street_id).where(Firm.officer_id == officer_id)).all())


def _open_followup_officers(firm_ids) -> set[int | None]:
    return set(
        db.session.scalars(
            sa.select(Followup.officer_id).where(Followup.firm_id.in_(firm_ids), Followup.status == FollowupStatus.OPEN)
        )
    )


def _reassign_events() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "firms.reassign")))


def test_move_a_tiers_firms_after_confirming(client, auth, ctx, generated):
    o1, o2 = generated.officers["o1"], generated.officers["o2"]
    before = _officer_firms(o1)
    covered = {generated.streets["A"], generated.streets["B"]}
    for tier in Tier:  # a tier with firms on both sides: some in street C, which o2 does not cover
        tier_firms = set(db.session.scalars(sa.select(Firm.id).where(Firm.officer_id == o1, Firm.current_tier == tier)))
        moving = {f for f in tier_firms if before[f] in covered}
        if moving and tier_firms - moving:
            break
    else:
        pytest.fail("the generated data has no such tier")
    auth.login("supervisor")
    form = {"target_id": o2, "tier": tier.value, "street_id": "", "selection": "all"}
    preview = client.post(f"/workload/rebalance?source={o1}", data=form)
    assert preview.status_code == 200
    assert f'data-testid="moving-total">{len(moving)}<' in preview.text
    assert 'data-testid="staying"' in preview.text
    assert _officer_firms(o1) == before and not _reassign_events()  # nothing moved yet
    done = client.post(f"/workload/rebalance?source={o1}", data={**form, "confirm": "1", "expected": len(moving)})
    assert done.status_code == 302 and done.location.endswith("/workload/")
    after = _officer_firms(o1)
    assert set(before) - set(after) == moving
    assert set(db.session.scalars(sa.select(Firm.id).where(Firm.id.in_(moving), Firm.officer_id == o2))) == moving
    assert _open_followup_officers(moving) <= {o2}
    (event,) = _reassign_events()
    supervisor = _user("supervisor")
    assert event.user_id == supervisor.id and event.object_id == str(o1)
    assert event.before == {"officer_id": o1}
    assert event.after["to"] == o2 and event.after["moved"] == len(moving)
    assert event.after["left"] == len(tier_firms - moving) and sorted(event.after["firms"]) == sorted(moving)
    assert event.after["tiers"] == [tier.value]


def test_move_ticked_firms_only_into_the_targets_streets(client, auth, ctx, generated):
    o1, o3 = generated.officers["o1"], generated.officers["o3"]
    firms = _officer_firms(o1)
    in_c = [f for f, s in firms.items() if s == generated.streets["C"]][:3]
    elsewhere = [f for f, s in firms.items() if s != generated.streets["C"]][:2]
    assert in_c and elsewhere
    auth.login("admin")
    form = {"target_id": o3, "selection": "selected", "firm_ids": [*in_c, *elsewhere], "tier": "", "street_id": ""}
    preview = client.post(f"/workload/rebalance?source={o1}", data=form)
    assert f'data-testid="moving-total">{len(in_c)}<' in preview.text
    done = client.post(f"/workload/rebalance?source={o1}", data={**form, "confirm": "1", "expected": len(in_c)})
    assert done.status_code == 302
    assert set(db.session.scalars(sa.select(Firm.id).where(Firm.officer_id == o3, Firm.id.in_(in_c)))) == set(in_c)
    assert set(db.session.scalars(sa.select(Firm.officer_id).where(Firm.id.in_(elsewhere)))) == {o1}
    (event,) = _reassign_events()
    assert sorted(event.after["firms"]) == sorted(in_c) and event.after["selected"] == len(in_c) + len(elsewhere)


def test_firms_outside_the_targets_streets_are_refused(client, auth, ctx, generated):
    o1, o3 = generated.officers["o1"], generated.officers["o3"]
    outside = [f for f, s in _officer_firms(o1).items() if s != generated.streets["C"]][:3]
    auth.login("supervisor")
    form = {"target_id": o3, "selection": "selected", "firm_ids": outside, "confirm": "1", "expected": "3"}
    response = client.post(f"/workload/rebalance?source={o1}", data=form)
    assert response.status_code == 400
    assert 'data-testid="staying"' in response.text and 'data-testid="confirm-move"' not in response.text
    assert set(db.session.scalars(sa.select(Firm.officer_id).where(Firm.id.in_(outside)))) == {o1}
    assert not _reassign_events()


def test_counts_changed_since_the_preview_ask_again(client, auth, ctx, generated):
    o1, o2 = generated.officers["o1"], generated.officers["o2"]
    before = _officer_firms(o1)
    auth.login("supervisor")
    form = {"target_id": o2, "selection": "all", "tier": "", "street_id": "", "confirm": "1", "expected": "1"}
    response = client.post(f"/workload/rebalance?source={o1}", data=form)
    assert response.status_code == 409 and 'data-testid="confirm-move"' in response.text
    assert _officer_firms(o1) == before and not _reassign_events()


@pytest.mark.parametrize(
    "form",
    [
        {"selection": "selected"},  # nothing ticked
        {"selection": "selected", "firm_ids": ["x"]},  # not an id
        {"selection": "all", "target_id": "{o4}"},  # inactive officer
        {"selection": "all", "target_id": "{o1}"},  # the same officer
        {"selection": "all", "target_id": ""},
        {"selection": "sideways", "target_id": "{o2}"},
        {"selection": "all", "target_id": "{o2}", "tier": "gold"},
        {"selection": "all", "target_id": "{o2}", "street_id": "999999"},
        {"selection": "all", "target_id": "{o2}", "street_id": "a street"},  # not a number: was a 500
        {"selection": "all", "target_id": "{o2}", "street_id": "99999999999999999999999"},  # past any integer
    ],
)
def test_bad_rebalance_input_moves_nothing(client, auth, ctx, generated, form):
    o1 = generated.officers["o1"]
    before = _officer_firms(o1)
    data = {key: value.format(**generated.officers) if isinstance(value, str) else value for key, value in form.items()}
    data.setdefault("target_id", str(generated.officers["o2"]))
    auth.login("supervisor")
    response = client.post(f"/workload/rebalance?source={o1}", data=data)
    assert response.status_code == 400
    assert "alert-danger" in response.text
    assert _officer_firms(o1) == before and not _reassign_events()


def test_rebalance_page_lists_the_officers_firms(client, auth, ctx, generated):
    o1 = generated.officers["o1"]
    auth.login("supervisor")
    page = client.get(f"/workload/rebalance?source={o1}&tier=key").text
    key_firms = db.session.scalar(
        sa.select(sa.func.count()).where(Firm.officer_id == o1, Firm.current_tier == Tier.KEY)
    )
    assert page.count('name="firm_ids"') == key_firms
    assert client.get("/workload/rebalance?source=999999").status_code == 404
    assert client.get(f"/workload/rebalance?source={_user('supervisor').id}").status_code == 404
    assert client.get(f"/workload/rebalance?source={o1}&tier=gold&street=abc").status_code == 200


def test_followups_move_with_their_firms(client, auth, ctx, generated):
    """An open follow-up held by someone else moves too: the new officer takes the firm's visits."""
    o1, o2 = generated.officers["o1"], generated.officers["o2"]
    firm_id = next(f for f, s in _officer_firms(o1).items() if s == generated.streets["A"])
    followup = db.session.scalars(
        sa.select(Followup).where(Followup.firm_id == firm_id, Followup.status == FollowupStatus.OPEN)
    ).first()
    if followup is None:
        followup = Followup(
            firm_id=firm_id,
            officer_id=o1,
            tier=Tier.KEY,
            base_date=dt.date(2026, 11, 1),
            due_date=dt.date(2026, 12, 1),
        )
        db.session.add(followup)
        db.session.flush()
    auth.login("supervisor")
    form = {"target_id": o2, "selection": "selected", "firm_ids": [firm_id], "confirm": "1", "expected": "1"}
    assert client.post(f"/workload/rebalance?source={o1}", data=form).status_code == 302
    assert _open_followup_officers([firm_id]) == {o2}


def test_streets_covered_shows_only_the_streets_the_viewer_sees(client, auth, generated):
    """o2 serves 临平街道 and 东湖街道: a street office of 临平街道 is not told about 东湖街道."""

    def covered(page: str, officer: str) -> str:
        row = re.search(rf'data-officer="{officer}">(.*?)</tr>', page, re.S)
        assert row, officer
        cell = re.search(r'data-testid="streets-covered">([^<]*)<', row.group(1))
        assert cell
        return cell.group(1)

    auth.login("district_a")
    assert covered(client.get("/workload/").text, "o2") == "临平街道"
    auth.logout()
    auth.login("admin")
    assert covered(client.get("/workload/").text, "o2") == "临平街道、东湖街道"
