"""Roster exports: round trip through the importer, formula injection, scope, packs, file names."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
import python_calamine
from openpyxl import load_workbook

from service_app.domain.tiers import Role
from service_app.exports.services import (
    ROSTER_COLUMNS,
    export_pack,
    roster_file_name,
    roster_workbook,
    safe_file_name,
)
from service_app.exports.workbook import display_width
from service_app.extensions import db
from service_app.firms.services import FirmFilters
from service_app.roster.columns import FIRM_COLUMNS, METRIC_COLUMNS, field_for_header
from service_app.roster.plan import ImportOptions
from service_app.roster.services import upload_roster

from .. import factories

PAYLOADS = ['=HYPERLINK("http://x?"&A1)', "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "\t=1+1"]


def sheet_rows(path: Path, name: str) -> list[list[object]]:
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    return workbook.get_sheet_by_name(name).to_python()


def test_workbook_layout(roster, tmp_path):
    """说明, 汇总, then the tier sheets (未分类 only when some firm lacks a tier), typed cells."""
    path = tmp_path / "out.xlsx"
    result = roster_workbook(path, None, FirmFilters(), "2026Q4", platform="临平新城")
    assert result.counts == {"重点服务": 1, "辅导培育": 1, "观察发展": 1, "跟踪清退": 1, "未分类": 1}
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    assert workbook.sheet_names == ["说明", "汇总", "重点服务", "辅导培育", "观察发展", "跟踪清退", "未分类"]
    header, row = sheet_rows(path, "重点服务")[:2]
    assert header[0] == "序号" and header == [c.header for c in ROSTER_COLUMNS]
    values = dict(zip(header, row, strict=True))
    assert values["成立日期"] == dt.date(2019, 3, 5)
    assert values["注册资本（万元）"] == 1234.5
    assert values["服务层级"] == "重点服务" and values["是否规上"] == "是" and values["所属产业链"] == "数字科技"
    assert values["最近走访日期"] == dt.date(2026, 10, 9) and values["下次跟进日期"] == dt.date(2026, 11, 9)
    assert values["未办结诉求（件）"] == 1 and values["分层依据"] == "综合得分 1.2"
    cover = dict((r[0], r[1]) for r in sheet_rows(path, "说明")[2:])
    assert cover["季度"] == "2026Q4" and cover["企业总数（家）"] == 5
    summary = [row[:2] for row in sheet_rows(path, "汇总")]
    assert ["上调", 2.0] in summary and ["下调", 1.0] in summary and ["层级不变", 1.0] in summary

    sheet = load_workbook(path)["重点服务"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert sheet["A1"].font.b and sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$1:$1" and sheet.sheet_properties.pageSetUpPr.fitToPage
    tier_column = next(c for c in sheet[1] if c.value == "服务层级").column_letter
    assert any(tier_column in str(v.sqref) for v in sheet.data_validations.dataValidation)
    money = next(c for c in sheet[2] if isinstance(c.value, float) and c.value == 1234.5)
    assert money.number_format == "0.00"
    name_column = next(c for c in sheet[1] if c.value == "企业名称").column_letter
    assert sheet.column_dimensions[name_column].width >= display_width(roster["firms"][0].name)


def test_display_width_counts_chinese_as_two():
    assert display_width("abc") == 3
    assert display_width("临平街道") == 8
    assert display_width("A临") == 3


def test_exported_headers_import_as_their_fields():
    """Every importer field is exported under a header the importer maps back to it; extras map to nothing."""
    mapped = {field_for_header(c.header): c.header for c in ROSTER_COLUMNS}
    for name in (*FIRM_COLUMNS, *METRIC_COLUMNS, "tier", "quarter"):
        assert name in mapped, name
    extras = ["序号", "备注", "分层依据", "最近走访日期", "下次跟进日期", "未办结诉求（件）"]
    assert [field_for_header(h) for h in extras] == [None] * len(extras)


def test_round_trip_imports_unchanged(roster, tmp_path):
    """Export, then import through the roster import service: nothing created or updated."""
    path = tmp_path / "roster.xlsx"
    roster_workbook(path, None, FirmFilters(), "2026Q4")
    _batch, plan = upload_roster(path.read_bytes(), path.name, None, ImportOptions(), dedupe=False)
    assert plan is not None
    assert plan.summary()["errors"] == []
    assert (plan.count("created"), plan.count("updated"), plan.count("unchanged")) == (0, 0, 5)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_payloads_come_back_as_text(roster, tmp_path, payload):
    firm = roster["firms"][0]
    firm.name = f"{payload}"
    firm.notes = f"{payload}\x07"
    db.session.flush()
    path = tmp_path / "injection.xlsx"
    roster_workbook(path, None, FirmFilters(), "2026Q4")
    header, row = sheet_rows(path, "重点服务")[:2]
    values = dict(zip(header, row, strict=True))
    assert values["企业名称"] == payload
    assert values["备注"] == payload  # the bell character is removed
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in archive.read(name).decode("utf-8"), name
    cell = next(c for c in load_workbook(path)["重点服务"][2] if c.value == payload)
    assert cell.data_type == "s" and cell.quotePrefix


def test_numbers_stay_numbers(roster, tmp_path):
    path = tmp_path / "n.xlsx"
    roster_workbook(path, None, FirmFilters(), "2026Q4")
    header, row = sheet_rows(path, "观察发展")[:2]
    values = dict(zip(header, row, strict=True))
    assert values["营业收入（万元）"] == 1000.25 and values["从业人数"] == 12


def test_export_is_scoped_and_filtered(roster, tmp_path):
    district = factories.make_user("li", Role.DISTRICT, [roster["west"]])
    path = tmp_path / "d.xlsx"
    result = roster_workbook(path, district, FirmFilters(), "2026Q4")
    assert result.total == 2
    result = roster_workbook(path, None, FirmFilters(tier="key"), "2026Q4")
    assert result.counts == {"重点服务": 1, "辅导培育": 0, "观察发展": 0, "跟踪清退": 0}


def test_pack_has_one_workbook_per_street(roster, tmp_path):
    path = tmp_path / "临平新城_2026Q4_分街道名录.zip"
    export_pack(path, None, "2026Q4", platform="临平新城")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names == ["临平街道_2026Q4_企业分类名录.xlsx", "塘栖镇_2026Q4_企业分类名录.xlsx"]
        for name in names:
            data = archive.read(name)
            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            street = [c.header for c in ROSTER_COLUMNS].index("所在街道")
            streets = {
                row[street]
                for sheet in workbook.sheet_names[2:]
                for row in workbook.get_sheet_by_name(sheet).to_python()[1:]
            }
            assert streets == {name.split("_")[0]}


def test_pack_for_a_street_office_holds_only_its_street(roster, tmp_path):
    district = factories.make_user("li", Role.DISTRICT, [roster["west"]])
    path = tmp_path / "pack.zip"
    export_pack(path, district, "2026Q4")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["塘栖镇_2026Q4_企业分类名录.xlsx"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../临平/街道", "临平街道_2026Q4_企业分类名录.xlsx"),
        ('a\\b:c*d?"e<f>g|h\x00', "abcdefgh_2026Q4_企业分类名录.xlsx"),
        ("..", "_2026Q4_企业分类名录.xlsx"),
    ],
)
def test_file_names_carry_no_path_characters(name, expected):
    assert roster_file_name(name, "2026Q4") == expected
    assert "/" not in safe_file_name(name) and not safe_file_name(name).startswith(".")


def test_no_partial_file_left_behind(roster, tmp_path, monkeypatch):
    """A failure before the rename leaves neither the target nor the temporary file."""

    def refuse(source, target):
        raise OSError("disk full")

    monkeypatch.setattr("service_app.exports.workbook.os.replace", refuse)
    with pytest.raises(OSError):
        roster_workbook(tmp_path / "x.xlsx", None, FirmFilters(), "2026Q4")
    assert list(tmp_path.iterdir()) == []


def test_every_exported_file_opens_with_calamine(roster, tmp_path):
    path = tmp_path / "all.xlsx"
    roster_workbook(path, None, FirmFilters(q="=SUM"), "2026Q4")
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    assert all(workbook.get_sheet_by_name(name).to_python() is not None for name in workbook.sheet_names)
    assert re.search("关键词：=SUM", str(sheet_rows(path, "说明")))
