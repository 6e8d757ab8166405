"""Large list downloads built in the background, progress, stalled builds retried, failures in words."""

from __future__ import annotations

import datetime as dt
import errno
import html
import io
import itertools
import re

import pytest
import python_calamine

from service_app.domain.tiers import Role
from service_app.exports.packs import MAX_ATTEMPTS, STALLED_AFTER, build_pack, pack_folder, recover_stalled
from service_app.exports.tasks import build_packs
from service_app.extensions import db
from service_app.models import ExportKind, ExportPack, PackStatus
from service_app.models.types import utcnow

from .. import factories

EAST_FILE = "临平街道_2026Q4_企业分类名录.xlsx"


@pytest.fixture
def folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))
    monkeypatch.setitem(app.config, "PLATFORM_NAME", "临平新城")
    monkeypatch.setitem(app.config, "EXPORT_INLINE_LIMIT", 2)  # the roster's east street has 3 firms
    return tmp_path / "exports"


def queued(client, **args) -> ExportPack:
    """Ask for the list's workbook as the list's button does: a page that asks, then its button."""
    before = db.session.scalars(db.select(ExportPack)).all()
    page = client.get("/exports/roster.xlsx", query_string={"quarter": "2026Q4", **args})
    assert page.status_code == 200 and "超过直接下载的上限" in page.get_data(as_text=True)
    assert db.session.scalars(db.select(ExportPack)).all() == before  # asking writes nothing
    action = re.search(r'action="([^"]+)" class="d-inline" data-testid="queue-form"', page.get_data(as_text=True))
    assert action
    response = client.post(html.unescape(action.group(1)))
    assert response.status_code == 302 and response.headers["Location"].endswith("/exports/")
    return db.session.scalars(db.select(ExportPack).where(ExportPack.kind == ExportKind.ROSTER)).one()


def test_asking_keeps_the_lists_filters_and_a_list_that_shrank_downloads(client, auth, roster, folder, monkeypatch):
    auth.login("wang")
    page = client.get("/exports/roster.xlsx", query_string={"quarter": "2026Q4", "street": roster["east"].id})
    text = page.get_data(as_text=True)
    assert f"street={roster['east'].id}" in text and "quarter=2026Q4" in text  # the button posts the same list
    assert f'href="/firms/?street={roster["east"].id}"' in text  # back to the list as it was
    monkeypatch.setitem(client.application.config, "EXPORT_INLINE_LIMIT", 10)  # meanwhile: small enough
    response = client.post(f"/exports/roster/queue?quarter=2026Q4&street={roster['east'].id}")
    assert response.status_code == 302 and "/exports/roster.xlsx?" in response.headers["Location"]
    assert db.session.scalars(db.select(ExportPack)).all() == []


def test_a_small_list_still_downloads_at_once(client, auth, roster, folder):
    auth.login("wang")
    response = client.get("/exports/roster.xlsx", query_string={"quarter": "2026Q4", "street": roster["west"].id})
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert db.session.scalars(db.select(ExportPack)).all() == []


def test_a_large_list_is_built_in_the_background_for_its_owner_only(client, auth, roster, folder):
    auth.login("wang")
    pack = queued(client, street=roster["east"].id)
    assert (pack.status, pack.filters, pack.requested_by.username) == (
        PackStatus.PENDING,
        {"street": [str(roster["east"].id)]},
        "wang",
    )
    assert queued(client, street=roster["east"].id).id == pack.id  # clicking again queues nothing more
    page = client.get("/exports/").get_data(as_text=True)
    assert "共 3 家企业，数量较多" in page and "排队中" in page and 'data-refresh-seconds="3"' in page
    assert f'data-testid="export-{pack.id}"' in page

    assert build_packs() == 1
    db.session.refresh(pack)
    assert (pack.status, pack.file_name, pack.done, pack.total) == (PackStatus.READY, EAST_FILE, 3, 3)
    page = client.get("/exports/").get_data(as_text=True)
    assert EAST_FILE in page and "data-refresh-seconds" not in page
    with client.get(f"/exports/{pack.id}.xlsx") as response:
        assert response.status_code == 200
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(response.data))
        sheets = [workbook.get_sheet_by_name(name).to_python() for name in workbook.sheet_names[2:]]
        assert sum(len(rows) - 1 for rows in sheets) == 3  # only the east street's firms: the list's filter was kept
    assert client.get(f"/exports/packs/{pack.id}.zip").status_code == 404  # not a street pack
    auth.logout()
    factories.make_user("zhao", Role.OFFICER, [roster["east"]])
    auth.login("zhao")
    assert client.get(f"/exports/{pack.id}.xlsx").status_code == 404
    assert f'data-testid="export-{pack.id}"' not in client.get("/exports/").get_data(as_text=True)


def test_a_build_reports_its_progress(roster, folder):
    pack = ExportPack(
        kind=ExportKind.PACK, quarter="2026Q4", created_at=utcnow(), expires_at=utcnow() + dt.timedelta(days=30)
    )
    db.session.add(pack)
    db.session.flush()
    heard: list[tuple[int, int]] = []
    build_pack(pack, progress=lambda done, total: heard.append((done, total)))
    assert heard[0] == (0, 5) and heard[-1] == (5, 5)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(heard))
    assert (pack.status, pack.attempts, pack.percent) == (PackStatus.READY, 1, 100)


def test_a_build_in_progress_shows_its_progress_once(client, auth, roster, folder):
    auth.login("wang")
    pack = queued(client, street=roster["east"].id)
    pack.status, pack.done, pack.total = PackStatus.BUILDING, 1, 3
    db.session.commit()
    page = client.get("/exports/").get_data(as_text=True)
    assert f'data-testid="progress-{pack.id}"' in page
    assert page.count("已写入 1 / 3 家") == 1 and page.count("生成中…") == 2  # the bar's label and the line under it


def test_a_build_whose_process_died_is_retried_then_given_up(client, auth, roster, folder):
    auth.login("wang")
    pack = queued(client)
    long_ago = utcnow() - STALLED_AFTER - dt.timedelta(minutes=1)
    pack.status, pack.attempts, pack.heartbeat_at = PackStatus.BUILDING, 1, long_ago
    db.session.flush()
    assert recover_stalled() == 1
    assert (pack.status, pack.attempts) == (PackStatus.PENDING, 1)
    assert "曾中断，将重试" in client.get("/exports/").get_data(as_text=True)
    pack.status, pack.attempts, pack.heartbeat_at = PackStatus.BUILDING, MAX_ATTEMPTS, long_ago
    db.session.flush()
    recover_stalled()
    assert pack.status == PackStatus.FAILED and "中断 3 次" in pack.error
    pack.status, pack.heartbeat_at = PackStatus.BUILDING, utcnow()  # alive: left alone
    db.session.flush()
    assert recover_stalled() == 0


def test_a_full_disk_fails_the_export_in_words(client, auth, roster, folder, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("service_app.exports.packs.roster_workbook", full)
    auth.login("wang")
    pack = queued(client)
    build_packs()
    db.session.refresh(pack)
    assert pack.status == PackStatus.FAILED and pack.error.startswith("磁盘已满")
    assert not pack_folder(pack).exists()
    assert "磁盘已满" in client.get("/exports/").get_data(as_text=True)


def test_an_export_of_a_disabled_user_is_not_built(client, auth, roster, folder):
    auth.login("wang")
    pack = queued(client)
    pack.requested_by.active = False
    db.session.flush()
    build_packs()
    assert pack.status == PackStatus.FAILED and "停用" in pack.error
