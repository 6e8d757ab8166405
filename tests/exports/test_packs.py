"""Export packs: asked for or triggered by an applied proposal, built by the job, scoped downloads, expiry."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from urllib.parse import quote

import pytest
import python_calamine

from service_app.domain.tiers import Role
from service_app.exports.packs import pack_folder, purge_expired_packs, request_pack
from service_app.exports.tasks import build_packs
from service_app.extensions import db
from service_app.models import ExportPack, PackStatus, ProposalStatus, TierProposal
from service_app.models.types import utcnow
from service_app.tiers.services import current_rule_set

from .. import factories

PACK = "临平新城_2026Q4_分街道名录.zip"
EAST = "临平街道_2026Q4_企业分类名录.xlsx"
WEST = "塘栖镇_2026Q4_企业分类名录.xlsx"


@pytest.fixture
def folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))
    monkeypatch.setitem(app.config, "PLATFORM_NAME", "临平新城")
    return tmp_path / "exports"


def applied_proposal(quarter: str = "2026Q4") -> TierProposal:
    proposal = TierProposal(
        quarter=quarter,
        status=ProposalStatus.APPLIED,
        rule_set_id=current_rule_set().id,
        data_fingerprint="x",
        summary={},
        applied_at=utcnow(),
    )
    db.session.add(proposal)
    db.session.flush()
    return proposal


def test_an_applied_proposal_gets_one_pack(roster, folder):
    proposal = applied_proposal()
    assert build_packs() == 1
    pack = db.session.scalars(db.select(ExportPack)).one()
    assert (pack.status, pack.proposal_id, pack.file_name) == (PackStatus.READY, proposal.id, PACK)
    assert [f["file"] for f in pack.files] == [EAST, WEST] and [f["firms"] for f in pack.files] == [3, 2]
    with zipfile.ZipFile(pack_folder(pack) / PACK) as archive:
        assert archive.namelist() == [EAST, WEST]
    assert build_packs() == 0  # the next run builds nothing new


def test_requested_pack_and_scoped_downloads(client, auth, roster, folder):
    factories.make_user("boss", Role.SUPERVISOR)
    auth.login("boss")
    response = client.post("/exports/packs", data={"quarter": "2026年第四季度"})
    assert response.status_code == 302
    pack = db.session.scalars(db.select(ExportPack)).one()
    assert pack.status == PackStatus.PENDING
    page = client.get("/exports/").get_data(as_text=True)
    assert f'data-testid="pack-{pack.id}"' in page and "生成分街道名录包" in page and "排队中" in page
    build_packs()
    with client.get(f"/exports/packs/{pack.id}.zip") as response:
        assert response.status_code == 200
        assert f"filename*=UTF-8''{quote(PACK)}" in response.headers["Content-Disposition"]
    auth.logout()
    factories.make_user("li", Role.DISTRICT, [roster["west"]])
    auth.login("li")
    page = client.get("/exports/").get_data(as_text=True)
    assert WEST in page and EAST not in page and PACK not in page
    west, east = roster["west"].id, roster["east"].id
    with client.get(f"/exports/packs/{pack.id}/streets/{west}.xlsx") as response:
        assert response.status_code == 200
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(response.data))
        assert workbook.sheet_names[:2] == ["说明", "汇总"]
    assert client.get(f"/exports/packs/{pack.id}/streets/{east}.xlsx").status_code == 404
    assert client.get(f"/exports/packs/{pack.id}.zip").status_code == 404
    assert client.post("/exports/packs", data={"quarter": "2026Q4"}).status_code == 403


def test_bad_quarter_is_refused(client, auth, roster, folder):
    factories.make_user("boss", Role.SUPERVISOR)
    auth.login("boss")
    client.post("/exports/packs", data={"quarter": "2026Q9"})
    assert db.session.scalars(db.select(ExportPack)).all() == []


def test_failed_build_is_recorded(roster, folder, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("service_app.exports.packs.export_pack", broken)
    pack = request_pack("2026Q4", None)
    build_packs()
    db.session.refresh(pack)
    assert pack.status == PackStatus.FAILED and "disk full" in pack.error
    assert not pack_folder(pack).exists()


def test_packs_expire_after_30_days(roster, folder):
    pack = request_pack("2026Q4", None)
    build_packs()
    assert pack_folder(pack).exists()
    assert purge_expired_packs(utcnow() + dt.timedelta(days=31)) == 1
    assert not pack_folder(pack).exists()
    assert db.session.scalars(db.select(ExportPack)).all() == []
