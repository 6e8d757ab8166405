"""`flask roster export` and `flask roster export-pack`."""

from __future__ import annotations

import zipfile

import pytest
import python_calamine


def test_export_writes_a_filtered_workbook(runner, roster, tmp_path):
    path = tmp_path / "临平街道.xlsx"
    result = runner.invoke(
        args=["roster", "export", "-o", str(path), "--street", "临平街道", "--quarter", "2026年第四季度"]
    )
    assert result.exit_code == 0, result.output
    assert "3 firms" in result.output
    names = python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names
    assert names == ["说明", "汇总", "重点服务", "辅导培育", "观察发展", "跟踪清退"]


def test_export_by_tier(runner, roster, tmp_path):
    result = runner.invoke(args=["roster", "export", "-o", str(tmp_path / "k.xlsx"), "--tier", "key"])
    assert result.exit_code == 0 and "1 firms" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--street", "不存在街道"], "no street named"),
        (["--quarter", "2026Q9"], "季度格式"),
        (["--tier", "gold"], "Invalid value"),
    ],
)
def test_export_refuses_bad_input(runner, roster, tmp_path, args, message):
    result = runner.invoke(args=["roster", "export", "-o", str(tmp_path / "x.xlsx"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_export_pack(runner, roster, tmp_path):
    path = tmp_path / "pack.zip"
    result = runner.invoke(args=["roster", "export-pack", "--quarter", "2026Q4", "-o", str(path)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["临平街道_2026Q4_企业分类名录.xlsx", "塘栖镇_2026Q4_企业分类名录.xlsx"]
