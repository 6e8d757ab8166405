"""Roster import end to end: messy files, all-or-nothing, idempotent re-import, undo, scope, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from service_app.extensions import db
from service_app.models import AuditEvent, Firm, ImportBatch, ImportUpload, QuarterlyMetric

from .. import factories

HEADER = [
    "序号",
    "统一社会信用代码",
    "企业名称",
    "所属产业链",
    "国民经济行业代码",
    "所在街道",
    "成立日期",
    "注册资本（万元）",
    "是否规上",
    "联系人",
    "联系电话",
    "季度",
    "营业收入（万元）",
    "税收（万元）",
    "从业人数",
]


FIXTURES = Path(__file__).resolve().parent / "fixtures"
FORMAT_ROWS = 4


def code(n: int) -> str:
    return factories.credit_code(900_000 + n)


def roster_rows(count: int = 5, street: str = "临平街道") -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(1, count + 1):
        rows.append(
            [
                n,
                code(n),
                f"杭州导入{n:03d}号科技有限公司",
                "数字科技",
                "I6510",
                street,
                dt.date(2020, 1, n % 28 + 1),
                "1,000.00",
                "是" if n % 2 else "否",
                "张三",
                "13800001111",
                "2026Q3",
                100 + n,
                "5.5",
                12,
            ]
        )
    return rows


def xlsx_bytes(rows: list[list[object]], header: list[str] = HEADER, title: bool = True, total: bool = True) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append(["临平新城2026年第三季度企业名录"])
        sheet.merge_cells("A1:H1")
        sheet.append(["填报单位：临平街道", None, None, "单位：万元"])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    if total:
        sheet.append(["合计", None, None, None, None, None, None, None, None, None, None, None, 9999, 99])
        sheet.append(["注：本表由街道填报，数据截至季度末。"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list[object]], encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row])
    return buffer.getvalue().encode(encoding)


def run_import(runner, tmp_path, data: bytes, *args: str, name: str = "roster.xlsx"):
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(args=["roster", "import", str(path), "--json", *args])
    return result, (json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else None)


def firm_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Firm.id)))


@pytest.fixture
def streets(app, world):
    return world


class TestCli:
    def test_messy_xlsx_imports_firms_and_metrics(self, runner, app, streets, tmp_path):
        result, out = run_import(runner, tmp_path, xlsx_bytes(roster_rows(5)))
        assert result.exit_code == 0, result.output
        assert out == {"created": 5, "updated": 0, "unchanged": 0, "skipped": 0, "errors": []}
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == code(3))).one()
            assert firm.name == "杭州导入003号科技有限公司"
            assert firm.registered_capital == Decimal("1000.00")
            assert firm.above_scale is True
            metric = db.session.scalars(sa.select(QuarterlyMetric).where(QuarterlyMetric.firm_id == firm.id)).one()
            assert (metric.quarter, metric.revenue, metric.tax, metric.employees) == (
                "2026Q3",
                Decimal("103.00"),
                Decimal("5.50"),
                12,
            )
            assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "firm.create")) == 5

    def test_reimport_changes_nothing(self, runner, app, streets, tmp_path):
        data = xlsx_bytes(roster_rows(5))
        run_import(runner, tmp_path, data)
        result, out = run_import(runner, tmp_path, data)
        assert result.exit_code == 0
        assert out == {"created": 0, "updated": 0, "unchanged": 5, "skipped": 0, "errors": []}

    def test_invalid_row_writes_nothing(self, runner, app, streets, tmp_path):
        rows = roster_rows(60)
        rows[56][1] = rows[56][1][:-1] + ("0" if rows[56][1][-1] != "0" else "1")  # row 57 of the data
        before = firm_count(app)
        result, out = run_import(runner, tmp_path, xlsx_bytes(rows))
        assert result.exit_code == 1
        assert firm_count(app) == before
        assert out["errors"] == [
            {
                "row": 57 + 3,
                "column": "统一社会信用代码",
                "value": rows[56][1],
                "message": "统一社会信用代码校验位不正确，请核对营业执照",
            }
        ]

    def test_skip_invalid_imports_the_rest(self, runner, app, streets, tmp_path):
        rows = roster_rows(4)
        rows[1][7] = "-5"
        result, out = run_import(runner, tmp_path, xlsx_bytes(rows), "--skip-invalid")
        assert result.exit_code == 0
        assert out["created"] == 3
        assert out["skipped"] == 1
        assert out["errors"][0]["row"] == 5

    def test_every_error_is_listed(self, runner, streets, tmp_path):
        rows = roster_rows(3)
        rows[0][1] = "ABC"
        rows[1][5] = "火星街道"
        rows[2][6] = "2019年13月40日"
        rows[2][12] = "很多"
        rows.append(list(rows[1]))  # row 3 again: a duplicate
        result, out = run_import(runner, tmp_path, xlsx_bytes(rows, title=False, total=False))
        assert result.exit_code == 1
        cells = {(e["row"], e["column"]) for e in out["errors"]}
        assert {
            (2, "统一社会信用代码"),
            (3, "所在街道"),
            (4, "成立日期"),
            (4, "营业收入（万元）"),
            (5, "统一社会信用代码"),
        } <= cells

    def test_dry_run_writes_nothing(self, runner, app, streets, tmp_path):
        result, out = run_import(runner, tmp_path, xlsx_bytes(roster_rows(3)), "--dry-run")
        assert result.exit_code == 0
        assert out["created"] == 3
        assert firm_count(app) == 2

    @pytest.mark.parametrize("data", [b"", b"\x00\x01garbage" * 10, b"PK\x03\x04truncated"])
    def test_unreadable_file_exits_2(self, runner, streets, tmp_path, data):
        result, out = run_import(runner, tmp_path, data)
        assert result.exit_code == 2
        assert set(out) == {"error"}

    def test_no_header_exits_2(self, runner, streets, tmp_path):
        result, out = run_import(runner, tmp_path, xlsx_bytes([["a", "b"]], header=["甲", "乙"]))
        assert result.exit_code == 2
        assert "表头" in out["error"]

    @pytest.mark.parametrize("name", ["import_roster.xls", "import_roster.ods"])
    def test_xls_and_ods_import_like_xlsx(self, runner, app, streets, tmp_path, name):
        result, out = run_import(runner, tmp_path, (FIXTURES / name).read_bytes(), name=name)
        assert result.exit_code == 0, result.output
        assert out["created"] == FORMAT_ROWS
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == code(2))).one()
            assert firm.established == dt.date(2020, 1, 3)
            assert firm.registered_capital == Decimal("1000.00")
        # The same rows as xlsx change nothing: every format reads the same values.
        _, again = run_import(runner, tmp_path, xlsx_bytes(roster_rows(FORMAT_ROWS)))
        assert again["unchanged"] == FORMAT_ROWS

    def test_xls_named_xlsx_is_read(self, runner, streets, tmp_path):
        result, out = run_import(runner, tmp_path, (FIXTURES / "import_roster.xls").read_bytes(), name="名录.xlsx")
        assert result.exit_code == 0, result.output
        assert out["created"] == FORMAT_ROWS

    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
    def test_csv_encodings(self, runner, app, streets, tmp_path, encoding):
        result, out = run_import(runner, tmp_path, csv_bytes(roster_rows(3), encoding), name="roster.csv")
        assert result.exit_code == 0, result.output
        assert out["created"] == 3

    def test_update_only_and_create_only(self, runner, streets, tmp_path):
        result, out = run_import(runner, tmp_path, xlsx_bytes(roster_rows(2)), "--mode", "update")
        assert result.exit_code == 1
        assert "仅更新" in out["errors"][0]["message"]
        run_import(runner, tmp_path, xlsx_bytes(roster_rows(2)))
        result, out = run_import(runner, tmp_path, xlsx_bytes(roster_rows(2)), "--mode", "create")
        assert result.exit_code == 1
        assert "仅新增" in out["errors"][0]["message"]

    def test_blank_cells_leave_values_unless_overwrite(self, runner, app, streets, tmp_path):
        run_import(runner, tmp_path, xlsx_bytes(roster_rows(1)))
        rows = roster_rows(1)
        rows[0][9] = None  # 联系人 left empty
        _, out = run_import(runner, tmp_path, xlsx_bytes(rows))
        assert out["unchanged"] == 1
        _, out = run_import(runner, tmp_path, xlsx_bytes(rows), "--overwrite-blanks")
        assert out["updated"] == 1
        with app.app_context():
            assert db.session.scalars(sa.select(Firm.contact_name).where(Firm.credit_code == code(1))).one() is None

    def test_units_and_full_width(self, runner, app, streets, tmp_path):
        rows = roster_rows(1)
        rows[0][1] = rows[0][1].translate(
            str.maketrans(
                "0123456789ABCDEFGHJKLMNPQRTUWXY", "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ"
            )
        )
        rows[0][12] = "１,２３４.５万元"
        rows[0][13] = "35000元"
        rows[0][6] = "2019年3月5日"
        rows[0][11] = "2026年第三季度"
        result, out = run_import(runner, tmp_path, xlsx_bytes(rows))
        assert result.exit_code == 0, out
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == code(1))).one()
            assert firm.established == dt.date(2019, 3, 5)
            metric = db.session.scalars(sa.select(QuarterlyMetric).where(QuarterlyMetric.firm_id == firm.id)).one()
            assert (metric.revenue, metric.tax, metric.quarter) == (Decimal("1234.50"), Decimal("3.50"), "2026Q3")

    def test_metrics_only_roster_updates_existing_firms(self, runner, app, streets, tmp_path):
        run_import(runner, tmp_path, xlsx_bytes(roster_rows(2)))
        rows = [[code(1), "2026Q2", 50, 2], [code(2), "2026Q2", 60, 3]]
        result, out = run_import(
            runner, tmp_path, xlsx_bytes(rows, header=["信用代码", "季度", "营收", "纳税额"], title=False, total=False)
        )
        assert result.exit_code == 0, out
        assert out["updated"] == 2

    def test_undo_restores_updates_and_removes_creations(self, runner, app, streets, tmp_path):
        from service_app.roster.services import undo_import

        run_import(runner, tmp_path, xlsx_bytes(roster_rows(2)))
        rows = roster_rows(3)
        rows[0][2] = "杭州改名后有限公司"
        rows[0][12] = 999
        run_import(runner, tmp_path, xlsx_bytes(rows))
        with app.app_context():
            batch = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id.desc())).first()
            assert (batch.created_count, batch.updated_count) == (1, 1)
            undo_import(batch, None, "test")
            db.session.commit()
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == code(1))).one()
            assert firm.name == "杭州导入001号科技有限公司"
            metric = db.session.scalars(sa.select(QuarterlyMetric).where(QuarterlyMetric.firm_id == firm.id)).one()
            assert metric.revenue == Decimal("101.00")
            assert db.session.scalar(sa.select(Firm.id).where(Firm.credit_code == code(3))) is None


class TestWeb:
    def upload(self, client, data: bytes, name: str = "名录.xlsx", **options):
        form = {"file": (io.BytesIO(data), name), "mode": "upsert", **options}
        return client.post("/roster/imports", data=form, content_type="multipart/form-data")

    def test_upload_preview_confirm_result(self, client, auth, app, streets):
        auth.login("officer_a")
        with app.app_context():
            firm = db.session.get(Firm, streets.firm_a)
            existing_code = firm.credit_code
        rows = [[1, existing_code, "杭州甲街道服装有限公司", None, None, "临平街道", None, None, None, "新联系人"]]
        # Officers may change contacts of existing firms in their street, not create firms.
        response = self.upload(client, xlsx_bytes(rows))
        assert response.status_code == 302
        page = client.get(response.location).text
        assert 'data-testid="count-updated">1<' in page
        batch_id = int(response.location.rstrip("/").split("/")[-1])
        response = client.post(f"/roster/imports/{batch_id}/confirm")
        assert response.status_code == 302
        with app.app_context():
            assert db.session.get(Firm, streets.firm_a).contact_name == "新联系人"
        assert 'batch-status">已导入<' in client.get(response.location).text

    def test_a_batch_left_applying_by_a_dead_process_says_so_and_is_marked_failed(self, client, auth, app, streets):
        import socket

        from service_app.models import ImportBatch, ImportStatus
        from service_app.roster.services import recover_interrupted_imports

        auth.login("admin")
        location = self.upload(client, xlsx_bytes(roster_rows(2))).location
        batch_id = int(location.rstrip("/").split("/")[-1])
        with app.app_context():
            batch = db.session.get(ImportBatch, batch_id)
            batch.status, batch.applying_owner = ImportStatus.APPLYING, "elsewhere:1"
            db.session.commit()
        page = client.get(location).text
        assert "正在写入本次导入" in page and 'data-testid="interrupted"' not in page  # another machine: wait
        with app.app_context():
            batch = db.session.get(ImportBatch, batch_id)
            batch.applying_owner = f"{socket.gethostname()}:{2**22 + 12345}"  # no such process here
            db.session.commit()
        assert 'data-testid="interrupted"' in client.get(location).text
        with app.app_context():
            assert recover_interrupted_imports() == 1
            batch = db.session.get(ImportBatch, batch_id)
            assert batch.status == ImportStatus.FAILED and "重新导入" in batch.failure
        assert 'batch-status">' in client.get(location).text

    def test_officer_cannot_create_or_touch_other_streets(self, client, auth, app, streets):
        auth.login("officer_a")
        rows = roster_rows(1, street="东湖街道")
        page = client.get(self.upload(client, xlsx_bytes(rows)).location).text
        assert "不能新增企业" in page or "不在您负责的街道范围内" in page
        assert 'data-testid="confirm"' not in page

    def test_district_cannot_import(self, client, auth, streets):
        auth.login("district_a")
        assert client.get("/roster/imports").status_code == 403

    def test_same_file_twice_within_a_minute_is_one_batch(self, client, auth, app, streets):
        auth.login("admin")
        data = xlsx_bytes(roster_rows(2))
        first = self.upload(client, data).location
        second = self.upload(client, data).location
        assert first == second

    def test_error_report_download(self, client, auth, app, streets):
        auth.login("admin")
        rows = roster_rows(2)
        rows[1][5] = "火星街道"
        location = self.upload(client, xlsx_bytes(rows)).location
        batch_id = int(location.rstrip("/").split("/")[-1])
        report = client.get(f"/roster/imports/{batch_id}/errors.xlsx")
        assert report.status_code == 200
        assert "filename*=UTF-8''" in report.headers["Content-Disposition"]
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(report.data)).active
        values = [[c.value for c in row] for row in sheet.iter_rows()]
        header = values[2]
        assert header[-1] == "错误说明"
        assert "火星街道" in values[4][-1]

    def test_a_batch_whose_file_is_gone_says_to_upload_again(self, client, auth, app, streets):
        auth.login("admin")
        location = self.upload(client, xlsx_bytes(roster_rows(1))).location
        batch_id = int(location.rstrip("/").split("/")[-1])
        with app.app_context():
            db.session.execute(sa.delete(ImportUpload).where(ImportUpload.batch_id == batch_id))
            db.session.commit()
        before = firm_count(app)
        assert "上传的文件已不再保存，请重新上传。" in client.get(location).text
        client.post(f"/roster/imports/{batch_id}/confirm")
        assert firm_count(app) == before

    def test_confirm_refused_with_errors(self, client, auth, app, streets):
        auth.login("admin")
        rows = roster_rows(2)
        rows[1][5] = "火星街道"
        location = self.upload(client, xlsx_bytes(rows)).location
        batch_id = int(location.rstrip("/").split("/")[-1])
        client.post(f"/roster/imports/{batch_id}/confirm")
        assert firm_count(app) == 2


@pytest.mark.parametrize("value", [1e30, "1e40", float("nan"), "∞", -1.0, "12..5", True])
def test_absurd_numbers_are_cell_errors(value):
    from service_app.roster.cells import CellError, parse_money

    with pytest.raises(CellError):
        parse_money(value)


def test_money_fast_path_agrees_with_the_general_parser():
    """Plain float cells skip parse_decimal's checks: same amounts, same refusals, at the edges too."""
    import random

    from service_app.roster.cells import CellError, parse_decimal, parse_money

    rng = random.Random(3)
    values = [0.0, -0.0, 0.005, 0.015, 2.675, 1e11 - 0.01, 1e11, 1e12 - 0.001, 1e12, -0.004, -0.005]
    values += [round(rng.uniform(0, 9000), rng.choice([0, 1, 2, 3, 6])) for _ in range(2000)]
    for value in values:
        try:
            expected = parse_decimal(value)
            if expected < 0 or expected >= Decimal("1e12"):
                expected = None
        except CellError:
            expected = None
        try:
            got = parse_money(value)
        except CellError:
            got = None
        assert str(got) == str(expected), value


class TestReviewFindings:
    """Cases a review found: each once broke an import or its undo."""

    def test_new_firm_over_several_quarters_is_one_firm(self, runner, app, streets, tmp_path):
        rows = roster_rows(1)
        second = list(rows[0])
        second[11], second[12] = "2026Q2", 50
        result, out = run_import(runner, tmp_path, xlsx_bytes([rows[0], second]))
        assert result.exit_code == 0, result.output
        assert out["created"] == 1
        with app.app_context():
            firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == code(1))).one()
            quarters = db.session.scalars(sa.select(QuarterlyMetric.quarter).where(QuarterlyMetric.firm_id == firm.id))
            assert sorted(quarters) == ["2026Q2", "2026Q3"]

    def test_rows_of_one_firm_must_agree(self, runner, streets, tmp_path):
        rows = roster_rows(1)
        second = list(rows[0])
        second[11], second[2] = "2026Q2", "另一个名字有限公司"
        result, out = run_import(runner, tmp_path, xlsx_bytes([rows[0], second], title=False, total=False))
        assert result.exit_code == 1
        assert "不一致" in out["errors"][0]["message"]

    def test_undo_refused_after_a_later_import_changed_the_metrics(self, runner, app, streets, tmp_path):
        from service_app.roster.services import ImportError_, undo_import

        run_import(runner, tmp_path, xlsx_bytes(roster_rows(1)))
        later = [[code(1), "2026Q3", 999]]
        run_import(
            runner, tmp_path, xlsx_bytes(later, header=["信用代码", "季度", "营收", "纳税额"], title=False, total=False)
        )
        with app.app_context():
            first = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id)).first()
            with pytest.raises(ImportError_) as info:
                undo_import(first, None, "test")
            assert info.value.code == "conflict"
            db.session.rollback()
            assert db.session.scalar(sa.select(Firm.id).where(Firm.credit_code == code(1))) is not None

    def test_undo_after_a_later_metrics_only_import_of_a_created_firm_is_refused(self, runner, app, streets, tmp_path):
        from service_app.roster.services import ImportError_, undo_import

        run_import(runner, tmp_path, xlsx_bytes(roster_rows(1)))
        later = [[code(1), "2026Q1", 5, 1]]
        run_import(
            runner, tmp_path, xlsx_bytes(later, header=["信用代码", "季度", "营收", "纳税额"], title=False, total=False)
        )
        with app.app_context():
            first = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id)).first()
            with pytest.raises(ImportError_):
                undo_import(first, None, "test")

    def test_undo_of_the_later_import_lets_the_creating_import_be_undone(self, runner, app, streets, tmp_path):
        from service_app.roster.services import undo_import

        run_import(runner, tmp_path, xlsx_bytes(roster_rows(1)))
        later = [[code(1), "2026Q3", 999]]
        run_import(
            runner, tmp_path, xlsx_bytes(later, header=["信用代码", "季度", "营收", "纳税额"], title=False, total=False)
        )
        with app.app_context():
            first, second = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id)).all()
            undo_import(second, None, "test")
            undo_import(first, None, "test")
            db.session.commit()
            assert db.session.scalar(sa.select(Firm.id).where(Firm.credit_code == code(1))) is None
            assert db.session.scalar(sa.select(sa.func.count()).select_from(QuarterlyMetric)) == 0

    def test_a_batch_is_applied_once(self, runner, app, streets, tmp_path):
        from sqlalchemy.orm.attributes import set_committed_value

        from service_app.models import ImportStatus
        from service_app.roster.plan import ImportOptions
        from service_app.roster.services import ImportError_, confirm_batch, upload_roster

        with app.app_context():
            batch, _plan = upload_roster(xlsx_bytes(roster_rows(2)), "x.xlsx", None, ImportOptions(), dedupe=False)
            confirm_batch(batch, None, "test")
            db.session.commit()
            with pytest.raises(ImportError_):
                confirm_batch(batch, None, "test")
            # even when the in-memory status is stale, the database refuses a second claim
            db.session.rollback()
            set_committed_value(batch, "status", ImportStatus.PREVIEWED)  # as a second request would see it
            with pytest.raises(ImportError_):
                confirm_batch(batch, None, "test")
            db.session.rollback()
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Firm)) == 4

    def test_blank_status_is_never_cleared(self, runner, app, streets, tmp_path):
        header = ["统一社会信用代码", "企业名称", "所在街道", "经营状态"]
        run_import(
            runner, tmp_path, xlsx_bytes([[code(1), "杭州状态公司", "临平街道", "正常"]], header=header, title=False)
        )
        result, out = run_import(
            runner,
            tmp_path,
            xlsx_bytes([[code(1), "杭州状态公司", "临平街道", None]], header=header, title=False),
            "--overwrite-blanks",
        )
        assert result.exit_code == 0, result.output
        assert out["unchanged"] == 1

    @pytest.mark.parametrize("value", [float("inf"), float("nan"), -1e400])
    def test_non_finite_industry_code_is_a_cell_error(self, value):
        from service_app.roster.cells import CellError
        from service_app.roster.parsing import cell_parser

        with pytest.raises(CellError):
            cell_parser("industry_code", "行业代码")(value)

    def test_out_of_scope_errors_do_not_name_the_other_street(self, app, streets):
        from service_app.models import User
        from service_app.roster.plan import ImportOptions, RosterPlanner
        from service_app.roster.reading import open_table

        with app.app_context():
            other_code = db.session.get(Firm, streets.firm_b).credit_code
            officer = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
            data = xlsx_bytes(
                [[other_code, "杭州乙街道贸易有限公司", "临平街道", "新联系人"]],
                header=["统一社会信用代码", "企业名称", "所在街道", "联系人"],
                title=False,
            )
            plan = RosterPlanner(officer, ImportOptions()).plan(open_table(data))
            unknown = RosterPlanner(officer, ImportOptions()).plan(open_table(data.replace(b"x", b"x")))
            assert [e.message for e in plan.errors] == ["不在您负责的街道范围内或系统中没有该企业"]
            assert "东湖" not in plan.errors[0].message
            assert unknown.errors[0].message == plan.errors[0].message

    def test_moving_street_drops_the_old_building(self, runner, app, streets, tmp_path):
        from service_app.models import Building

        with app.app_context():
            building = Building(name="临平大厦", street_id=streets.street_a)
            db.session.add(building)
            db.session.commit()
            firm = db.session.get(Firm, streets.firm_a)
            firm.building_id = building.id
            db.session.commit()
            firm_code = firm.credit_code
        header = ["统一社会信用代码", "企业名称", "所在街道"]
        result, _ = run_import(
            runner, tmp_path, xlsx_bytes([[firm_code, "杭州甲街道服装有限公司", "东湖街道"]], header=header)
        )
        assert result.exit_code == 0, result.output
        with app.app_context():
            firm = db.session.get(Firm, streets.firm_a)
            assert (firm.street_id, firm.building_id) == (streets.street_b, None)

    def test_officer_must_cover_the_firms_street(self, runner, streets, tmp_path):
        header = ["统一社会信用代码", "企业名称", "所在街道", "服务专员"]
        result, out = run_import(
            runner, tmp_path, xlsx_bytes([[code(1), "杭州专员公司", "东湖街道", "officer_a"]], header=header)
        )
        assert result.exit_code == 1
        assert "不负责" in out["errors"][0]["message"]

    def test_accepted_failing_code_imports_again(self, runner, app, streets, tmp_path):
        with app.app_context():
            firm = db.session.get(Firm, streets.firm_a)
            firm.credit_code, firm.credit_code_exception = "91110108551385082A", "执照原件如此"
            db.session.commit()
        header = ["统一社会信用代码", "企业名称", "所在街道"]
        result, out = run_import(
            runner, tmp_path, xlsx_bytes([["91110108551385082A", "杭州甲街道服装有限公司", "临平街道"]], header=header)
        )
        assert result.exit_code == 0, out
        assert out["unchanged"] == 1


class TestWebReview:
    def upload(self, client, data: bytes, **options):
        form = {"file": (io.BytesIO(data), "r.xlsx"), "mode": "upsert", **options}
        return client.post("/roster/imports", data=form, content_type="multipart/form-data")

    def test_changed_options_make_a_new_batch(self, client, auth, streets):
        auth.login("admin")
        data = xlsx_bytes(roster_rows(2))
        first = self.upload(client, data).location
        second = self.upload(client, data, skip_invalid="y").location
        assert first != second

    def test_crafted_mapping_index_is_ignored(self, client, auth, streets):
        auth.login("admin")
        location = self.upload(client, xlsx_bytes(roster_rows(2))).location
        batch_id = int(location.rstrip("/").split("/")[-1])
        response = client.post(
            f"/roster/imports/{batch_id}/mapping", data={"col_5000": "revenue", "col_1": "credit_code"}
        )
        assert response.status_code == 302
        assert client.get(location).status_code == 200

    def test_another_users_batch_is_hidden_or_read_only(self, client, auth, app, streets):
        from .. import factories

        with app.app_context():
            factories.make_user("officer_a2", "officer", [db.session.get(Firm, streets.firm_a).street])
            db.session.commit()
        auth.login("admin")
        location = self.upload(client, xlsx_bytes(roster_rows(2))).location
        batch_id = int(location.rstrip("/").split("/")[-1])
        auth.logout()
        auth.login("officer_a2")
        assert client.get(location).status_code == 404
        for action in ("confirm", "discard", "undo", "mapping"):
            assert client.post(f"/roster/imports/{batch_id}/{action}").status_code == 404
        assert client.get(f"/roster/imports/{batch_id}/errors.xlsx").status_code == 404

    @pytest.mark.parametrize("path", ["/roster/imports", "/roster/imports/1", "/roster/imports/1/errors.xlsx"])
    def test_district_viewers_are_refused(self, client, auth, streets, path):
        auth.login("district_a")
        assert client.get(path).status_code == 403
        assert client.post(path.replace("/errors.xlsx", "/confirm")).status_code in (403, 405)


def test_a_roster_read_in_slices_imports_the_same(runner, app, streets, tmp_path, monkeypatch):
    """What a 200,000-row sheet goes through (calamine given a slice of rows at a time), on a small one."""
    from service_app.roster import guards, reading, slices

    rows = roster_rows(40)
    rows[7][1] = "ABC"
    rows.append(list(rows[3]))
    rows[-1][11], rows[-1][12] = "2026Q2", 77
    data = xlsx_bytes(rows)
    _, whole = run_import(runner, tmp_path, data, "--dry-run")
    monkeypatch.setattr(reading, "SLICE_ABOVE", 0)
    monkeypatch.setattr(slices, "SLICE_BYTES", 500)
    monkeypatch.setattr(guards, "_PIECE", 300)
    result, sliced = run_import(runner, tmp_path, data, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert sliced["errors"] == whole["errors"] and len(sliced["errors"]) == 1
    assert (sliced["created"], sliced["skipped"]) == (39, 1)
    with app.app_context():
        firm = db.session.scalars(sa.select(Firm).where(Firm.credit_code == code(4))).one()
        quarters = db.session.scalars(sa.select(QuarterlyMetric.quarter).where(QuarterlyMetric.firm_id == firm.id))
        assert sorted(quarters) == ["2026Q2", "2026Q3"]
