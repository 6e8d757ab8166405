"""open_table and detect_format: every format, spreadsheet row numbers, limits, and hostile files."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from service_app.roster.reading import ERROR_CODES, RosterReadError, detect_format, open_table

FIXTURES = Path(__file__).parent / "fixtures"
ROSTER_PACKAGE = Path(__file__).resolve().parents[2] / "service_app" / "roster"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "xlsx-corpus"

TITLE = "2024年第一季度重点企业名单"
HEADER = ["统一社会信用代码", "企业名称", "成立日期", "注册资本（万元）", "从业人数"]
#: A roster as users send it: a title row, a blank row, the header, a blank row inside the data, a 合计 row.
ROSTER: list[list[object]] = [
    [TITLE, None, None, None, None],
    [None, None, None, None, None],
    HEADER,
    ["91110108MA01ABCD1X", "北京星河科技有限公司", dt.date(2019, 3, 5), 1234.56, 120],
    [None, None, None, None, None],
    ["91110108MA01EFGH2Y", "示例新能源有限公司", dt.date(2021, 11, 30), 500, 35],
    ["合计", None, None, 1734.56, 155],
]
#: The same roster saved as CSV by Excel: every cell is text, dates as Excel shows them.
ROSTER_CSV = "\r\n".join(
    [
        f"{TITLE},,,,",
        ",,,,",
        ",".join(HEADER),
        "91110108MA01ABCD1X,北京星河科技有限公司,2019/3/5,1234.56,120",
        ",,,,",
        "91110108MA01EFGH2Y,示例新能源有限公司,2021/11/30,500,35",
        "合计,,,1734.56,155",
    ]
)


def roster_xlsx() -> bytes:
    """ROSTER as an xlsx, dates formatted as dates."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "名单"
    for row_number, row in enumerate(ROSTER, start=1):
        for column_number, value in enumerate(row, start=1):
            if value is not None:
                cell = sheet.cell(row_number, column_number, value)
                if isinstance(value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
    return _save(workbook)


def _save(workbook: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_with_rows(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    return _save(workbook)


def patch_member(data: bytes, name: str, change) -> bytes:
    """Rewrite one zip member through `change(bytes) -> bytes`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info.filename, change(content) if info.filename == name else content)
    return buffer.getvalue()


def add_cells(xml_cells: str, rows: list[list[object]] | None = None) -> bytes:
    """An openpyxl xlsx whose sheet XML gets hand-written cells appended to its sheetData."""
    data = xlsx_with_rows(rows or [["a", 1], ["b", 2]])
    return patch_member(
        data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"</sheetData>", xml_cells.encode() + b"</sheetData>")
    )


def with_shared_strings(sst: str) -> bytes:
    """An xlsx that also carries `sst` as its shared-string table, wired into the workbook's relationships."""
    relationship = (
        '<Relationship Id="rIdStrings" Target="sharedStrings.xml"'
        ' Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
    )
    data = patch_member(
        xlsx_with_rows([["a"]]),
        "xl/_rels/workbook.xml.rels",
        lambda xml: xml.replace(b"</Relationships>", relationship.encode() + b"</Relationships>"),
    )
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/sharedStrings.xml", sst)
    return buffer.getvalue()


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """Make the zip's central directory claim `size` uncompressed bytes for member `name`."""
    offset = zipfile.ZipFile(io.BytesIO(data)).start_dir  # type: ignore[attr-defined]
    while data[offset : offset + 4] == b"PK\x01\x02":
        name_size, extra_size, comment_size = struct.unpack_from("<HHH", data, offset + 28)
        if data[offset + 46 : offset + 46 + name_size] == name.encode():
            return data[: offset + 24] + struct.pack("<I", size) + data[offset + 28 :]
        offset += 46 + name_size + extra_size + comment_size
    raise AssertionError(f"{name} is not in the zip")


ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
    ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
)
ODS_CELL = '<table:table-cell office:value-type="string"><text:p>X</text:p></table:table-cell>'


def ods_with_rows(rows_xml: str, manifest_extra: str = "") -> bytes:
    """A hand-built ods: content.xml holds `rows_xml` inside one table."""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{manifest_extra}'
        "</manifest:file-entry></manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest)
        content = ODS_HEAD + rows_xml + "</table:table></office:spreadsheet></office:body></office:document-content>"
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _biff12(typ: int, payload: bytes = b"") -> bytes:
    """One xlsb record: type and size as 7-bit varints."""
    head = bytes([typ]) if typ < 0x80 else bytes([0x80 | (typ & 0x7F), typ >> 7])
    size, encoded = len(payload), b""
    while True:
        encoded += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            return head + encoded + payload


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def xlsb_with_cells(cells: list[tuple[int, int, str | float]], extra: bytes = b"") -> bytes:
    """A minimal xlsb: (row, column, value) cells, strings inline, then `extra` records, on a sheet named 名单."""
    body, current_row = b"", None
    for row, column, value in cells:
        if row != current_row:
            body += _biff12(0x00, struct.pack("<IIHBB", row, 0, 0, 0, 0) + bytes(5))  # BrtRowHdr
            current_row = row
        if isinstance(value, str):
            body += _biff12(0x06, struct.pack("<II", column, 0) + _wide(value))  # BrtCellSt
        else:
            body += _biff12(0x05, struct.pack("<IId", column, 0, value))  # BrtCellReal
    sheet = (
        _biff12(0x81)  # BrtBeginSheet
        + _biff12(0x94, bytes(16))  # BrtWsDim
        + _biff12(0x91)  # BrtBeginSheetData
        + body
        + extra
        + _biff12(0x92)
        + _biff12(0x82)
    )
    book = (
        _biff12(0x83)  # BrtBeginBook
        + _biff12(0x8F)  # BrtBeginBundleShs
        + _biff12(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("名单"))  # BrtBundleSh
        + _biff12(0x90)
        + _biff12(0x84)
    )
    relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/xl/workbook.bin"'
            ' ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{package}"><Relationship Id="rId1"'
            f' Type="{relationships}/officeDocument" Target="xl/workbook.bin"/></Relationships>',
        )
        archive.writestr("xl/workbook.bin", book)
        archive.writestr(
            "xl/_rels/workbook.bin.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{package}"><Relationship Id="rId1"'
            f' Type="{relationships}/worksheet" Target="worksheets/sheet1.bin"/></Relationships>',
        )
        archive.writestr("xl/worksheets/sheet1.bin", sheet)
    return buffer.getvalue()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def patched(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the first occurrence of a byte pattern, which must be there."""
    assert old in data
    return data.replace(old, new, 1)


# xls records in the LibreOffice fixture, found by their 4-byte headers (type, size).
XLS_LABELSST = struct.pack("<HH", 0x00FD, 10)  # a string cell: row, column, style, string index
XLS_DIMENSIONS = struct.pack("<HH", 0x0200, 14)  # first row, last row + 1, first column, last column + 1
XLS_CODEPAGE = struct.pack("<HHH", 0x0042, 2, 1200)


def xls_cell_at(row: int, column: int) -> bytes:
    """The fixture with its first string cell moved to (row, column)."""
    data = fixture("roster.xls")
    offset = data.index(XLS_LABELSST) + 4
    return data[:offset] + struct.pack("<HH", row, column) + data[offset + 4 :]


def read(data: bytes, **limits: int) -> list[list[object]]:
    return list(open_table(data, **limits).rows())


def read_error(data: bytes, **limits: int) -> str:
    with pytest.raises(RosterReadError) as caught:
        read(data, **limits)
    assert caught.value.code in ERROR_CODES
    return caught.value.code


_ISOLATED = """
import importlib, resource, sys, types
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
package = types.ModuleType("roster_alone")  # the folder as a package, without its __init__ (the app)
package.__path__ = [sys.argv[1]]
sys.modules["roster_alone"] = package
reading = importlib.import_module("roster_alone.reading")
try:
    table = reading.open_table(sys.stdin.buffer.read())
    print("rows", sum(1 for _ in table.rows()))
except reading.RosterReadError as exc:
    print(exc.code)
"""


def open_isolated(data: bytes, memory: int = 1536 * 1024 * 1024) -> str:
    """open_table + rows() in a child process capped at `memory` bytes of address space.

    calamine aborts its process when an allocation fails, so a guard that lets a hostile file
    through must fail this test, not take pytest down with it. Loads reading.py and guards.py
    alone: they import nothing from the app.
    """
    child = subprocess.run(
        [sys.executable, "-c", _ISOLATED, str(ROSTER_PACKAGE), str(memory)],
        input=data,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr.decode(errors='replace')[:500]}"
    return child.stdout.decode().strip()


# --- Every format gives the same rows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (roster_xlsx, "xlsx"),
        (lambda: fixture("roster.xls"), "xls"),
        (lambda: fixture("roster.ods"), "ods"),
    ],
    ids=["xlsx", "xls", "ods"],
)
def test_workbook_formats_yield_the_roster(make, fmt):
    table = open_table(make())
    assert (table.format, table.sheet_name, table.encoding, table.row_count) == (fmt, "名单", None, 7)
    rows = list(table.rows())
    assert rows == ROSTER
    assert type(rows[3][2]) is dt.date  # a date cell, not a datetime or a serial number
    assert type(rows[3][4]) is int  # 120, whether the format stores 120 or 120.0
    assert type(rows[3][3]) is float


@pytest.mark.parametrize(
    ("encoding", "delimiter", "reported"),
    [
        ("utf-8", ",", "utf-8"),
        ("utf-8-sig", ",", "utf-8-sig"),
        ("gbk", ",", "gb18030"),  # what Chinese Excel writes for "CSV (逗号分隔)"
        ("utf-8", "\t", "utf-8"),
        ("gbk", ";", "gb18030"),
        ("utf-16", "\t", "utf-16"),  # Excel's "Unicode 文本"
    ],
)
def test_csv_yields_the_roster_as_text(encoding, delimiter, reported):
    table = open_table(ROSTER_CSV.replace(",", delimiter).encode(encoding))
    assert (table.format, table.sheet_name, table.encoding, table.row_count) == ("csv", "", reported, 7)
    rows = list(table.rows())
    assert rows == [
        [TITLE, None, None, None, None],
        [None] * 5,
        HEADER,
        ["91110108MA01ABCD1X", "北京星河科技有限公司", "2019/3/5", "1234.56", "120"],
        [None] * 5,
        ["91110108MA01EFGH2Y", "示例新能源有限公司", "2021/11/30", "500", "35"],
        ["合计", None, None, "1734.56", "155"],
    ]


def test_csv_keeps_quoted_delimiters_and_stops_at_the_last_row():
    table = open_table('企业名称,备注\r\n"甲,乙公司","说""明"\r\n\r\n\r\n'.encode())
    assert table.row_count == 2
    assert list(table.rows()) == [["企业名称", "备注"], ["甲,乙公司", '说"明']]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("企业名称;备注\n甲公司;说明\n", [["企业名称", "备注"], ["甲公司", "说明"]]),  # one delimiter in the header
        # a comma inside a quoted header name: the rows decide (csv.Sniffer), not the header alone
        ('"名称,简称";备注\n甲公司;说明\n乙公司;无\n', [["名称,简称", "备注"], ["甲公司", "说明"], ["乙公司", "无"]]),
        ("企业名称\n甲公司\n", [["企业名称"], ["甲公司"]]),  # one column: no delimiter at all
    ],
)
def test_csv_delimiter_comes_from_the_header_or_the_rows(text, expected):
    assert list(open_table(text.encode()).rows()) == expected


def test_xlsb_yields_its_cells():
    data = xlsb_with_cells([(0, 0, "企业名称"), (0, 1, "从业人数"), (2, 0, "甲公司"), (2, 1, 12.0), (2, 2, 0.5)])
    table = open_table(data)
    assert (table.format, table.sheet_name, table.row_count) == ("xlsb", "名单", 3)
    assert list(table.rows()) == [["企业名称", "从业人数", None], [None, None, None], ["甲公司", 12, 0.5]]


def test_rows_can_be_read_twice():
    table = open_table(roster_xlsx())
    assert list(table.rows()) == list(table.rows()) == ROSTER


def test_a_closed_table_finishes_the_reading_under_way_and_no_other():
    table = open_table(roster_xlsx())
    rows = table.rows()
    first = next(rows)
    table.close()
    assert [first, *rows] == ROSTER
    with pytest.raises(ValueError, match="closed"):
        next(table.rows())


# --- Detection is by content --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (roster_xlsx, "xlsx"),
        (lambda: fixture("roster.xls"), "xls"),  # an .xls renamed .xlsx is still read as xls
        (lambda: fixture("roster.ods"), "ods"),
        (lambda: xlsb_with_cells([(0, 0, 1.0)]), "xlsb"),
        (lambda: ROSTER_CSV.encode("gbk"), "csv"),
    ],
    ids=["xlsx", "xls", "ods", "xlsb", "csv"],
)
def test_detect_format_reads_the_bytes(make, fmt):
    assert detect_format(make()) == fmt


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (random.Random(0).randbytes(4096), "not_spreadsheet"),
        (b"name,count\r\nfoo\x00bar,1\r\n", "not_spreadsheet"),
        (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "not_spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "damaged"),
    ],
    ids=["empty", "random", "nul-bytes", "html-saved-as-xls", "ole2-header-only"],
)
def test_detect_format_refuses(data, code):
    with pytest.raises(RosterReadError) as caught:
        detect_format(data)
    assert caught.value.code == code


def test_a_zip_that_is_no_spreadsheet():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert read_error(buffer.getvalue()) == "not_spreadsheet"


def test_unknown_error_codes_are_a_programming_error():
    with pytest.raises(ValueError):
        RosterReadError("nope")


# --- Row numbers, values and sheets -------------------------------------------------------------------


def test_blank_rows_and_columns_keep_spreadsheet_numbering():
    workbook = openpyxl.Workbook()
    workbook.active["C3"] = "统一社会信用代码"
    workbook.active["D6"] = 7
    rows = read(_save(workbook))
    assert len(rows) == 6
    assert rows[2] == [None, None, "统一社会信用代码", None]  # C3 is row index 2, column index 2
    assert rows[5] == [None, None, None, 7]
    assert rows[3] == rows[4] == [None] * 4


def test_values_keep_their_types():
    moment = dt.datetime(2024, 3, 5, 14, 30)
    rows = read(xlsx_with_rows([[13800138000, 0.1, 1e20, True, moment, dt.time(9, 15), " 甲 "]]))
    assert rows == [[13800138000, 0.1, 1e20, True, moment, dt.time(9, 15), " 甲 "]]
    assert type(rows[0][0]) is int  # a phone number typed as a number must not come back as 13800138000.0
    assert type(rows[0][2]) is float  # too large to be exact as an int


def test_the_first_visible_sheet_with_cells_is_read():
    workbook = openpyxl.Workbook()
    choices = workbook.active
    choices.title = "选项"
    choices.append(["高新", "制造"])
    choices.sheet_state = "hidden"  # templates keep drop-down choices on a hidden first sheet
    workbook.create_sheet("空白")
    workbook.create_sheet("名单").append(["企业名称"])
    table = open_table(_save(workbook))
    assert table.sheet_name == "名单"
    assert list(table.rows()) == [["企业名称"]]


def test_a_declared_dimension_of_a_million_rows_holds_three():
    data = patch_member(
        xlsx_with_rows([["a"], ["b"], ["c"]]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b'<dimension ref="A1:A3"', b'<dimension ref="A1:Z1048576"'),
    )
    started = time.monotonic()
    assert read(data) == [["a"], ["b"], ["c"]]
    assert time.monotonic() - started < 5  # a hang guard, not a benchmark


# --- Limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: xlsx_with_rows([[n] for n in range(10)]),
        lambda: "\n".join(str(n) for n in range(10)).encode(),
        lambda: ods_with_rows(f'<table:table-row table:number-rows-repeated="10">{ODS_CELL}</table:table-row>'),
    ],
    ids=["xlsx", "csv", "ods"],
)
def test_more_rows_than_allowed(make):
    assert read_error(make(), max_rows=5) == "too_many_rows"
    assert len(read(make(), max_rows=10)) == 10


def test_more_cells_than_allowed():
    data = xlsx_with_rows([list(range(10))] * 10)
    assert read_error(data, max_cells=99) == "too_large"
    assert len(read(data, max_cells=100)) == 10
    assert read_error(b"1,2,3\n" * 10, max_cells=29) == "too_large"


def test_empty_workbooks_and_files():
    assert read_error(_save(openpyxl.Workbook())) == "empty"
    assert read_error(b"\r\n\r\n  \r\n") == "empty"
    assert read_error(b"") == "empty"


# --- Damaged, encrypted and hostile files -----------------------------------------------------------


def test_truncated_xlsx_is_damaged():
    data = roster_xlsx()
    assert read_error(data[: len(data) // 2]) == "damaged"


def test_entity_declarations_are_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    data = patch_member(xlsx_with_rows([["a"]]), "xl/worksheets/sheet1.xml", lambda xml: bomb + xml.split(b"?>", 1)[-1])
    assert read_error(data) == "unsafe_xml"


def test_a_member_declaring_300_mb_is_a_zip_bomb():
    data = declare_size(xlsx_with_rows([["a"]]), "xl/worksheets/sheet1.xml", 300 * 1024 * 1024)
    assert read_error(data) == "zip_bomb"


def test_a_member_compressed_a_thousandfold_is_a_zip_bomb():
    buffer = io.BytesIO(xlsx_with_rows([["a"]]))
    with (
        zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w") as member,
    ):
        for _ in range(20):
            member.write(bytes(1024 * 1024))
    assert read_error(buffer.getvalue()) == "zip_bomb"


@pytest.mark.parametrize(
    "make",
    [
        lambda: patched(fixture("roster.xls"), XLS_CODEPAGE, struct.pack("<HHH", 0x002F, 2, 1200)),  # FILEPASS
        lambda: ods_with_rows(
            f"<table:table-row>{ODS_CELL}</table:table-row>", '<manifest:encryption-data manifest:checksum="x"/>'
        ),
    ],
    ids=["xls-filepass", "ods-manifest"],
)
def test_password_protected_workbooks(make):
    assert read_error(make()) == "encrypted"


def test_an_encrypted_ooxml_package():
    path = CORPUS / "qaxos__encryptAES.xlsx"
    if not path.is_file():
        pytest.skip(f"the shared spreadsheet corpus is not at {CORPUS}")
    assert read_error(path.read_bytes()) == "encrypted"


# Files that make a careless calamine caller allocate terabytes and abort: each is read in a child
# process with 1.5 GB of address space, which must come back with the code.
HOSTILE = {
    "xlsx cell at XFD1048576": (
        lambda: add_cells('<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'),
        "too_large",
    ),
    "xlsx cell given two r attributes": (
        lambda: add_cells('<row r="3"><c r="A3" r="XFD1048576"><v>1</v></c></row>'),
        "too_large",
    ),
    "xlsx r hidden behind a '>' in a value": (
        lambda: add_cells('<row r="3"><c s=">" r="XFD1048576"><v>1</v></c></row>'),
        "too_large",
    ),
    "xlsx lowercase prefixed cell": (
        lambda: add_cells("<x:row r=\"3\"><x:c r = 'xfd1048576'><x:v>1</x:v></x:c></x:row>"),
        "too_large",
    ),
    "xlsx 16384 cells without r, then row 1048576": (
        lambda: add_cells(
            "<row>" + "<c><v>1</v></c>" * 16384 + '</row><row r="1048576"><c r="A1048576"><v>1</v></c></row>'
        ),
        "too_large",
    ),
    "xlsx shared strings announcing 2e9": (
        lambda: with_shared_strings('<sst count="1" uniqueCount="2000000000"><si><t>a</t></si></sst>'),
        "damaged",
    ),
    "xls cell at column 65535": (lambda: xls_cell_at(0xFFFF, 0xFFFF), "too_large"),
    "xls DIMENSIONS of 2**32 rows": (
        lambda: patched(
            fixture("roster.xls"),
            XLS_DIMENSIONS + struct.pack("<IIHH", 0, 7, 0, 5),
            XLS_DIMENSIONS + struct.pack("<IIHH", 0, 0xFFFFFFFF, 0, 0xFFFF),
        ),
        "damaged",
    ),
    "ods cell repeated 16384 x 5000": (
        lambda: ods_with_rows(
            '<table:table-row table:number-rows-repeated="5000">'
            '<table:table-cell table:number-columns-repeated="16384" office:value-type="string">'
            "<text:p>X</text:p></table:table-cell></table:table-row>"
        ),
        "too_large",
    ),
    "ods repeat hidden behind a '>' in a value": (
        lambda: ods_with_rows(
            '<table:table-row table:number-rows-repeated="5000">'
            '<table:table-cell table:formula="of:=[.A1]>1" table:number-columns-repeated="16384"'
            ' office:value-type="string"><text:p>X</text:p></table:table-cell></table:table-row>'
        ),
        "too_large",
    ),
    # calamine 0.37 loops forever, holding the thread, on an ods table that never ends.
    "ods cut after its last row": (
        lambda: patch_member(
            fixture("roster.ods"), "content.xml", lambda xml: xml[: xml.rindex(b"</table:table-row>") + 18]
        ),
        "damaged",
    ),
    # calamine reads the row of an empty BrtRowHdr from the previous record's bytes: here column 131072.
    "xlsb row header without its row": (
        lambda: xlsb_with_cells(
            [(0, 0, 1.0)],
            _biff12(0x05, struct.pack("<IId", 0x20000, 0, 1.0)) + _biff12(0x00) + _biff12(0x05, bytes(16)),
        ),
        "damaged",
    ),
    "xlsb cell at column 2**32 - 16": (lambda: xlsb_with_cells([(0, 0, 1.0), (0, 0xFFFFFFF0, 2.0)]), "too_large"),
}


@pytest.mark.parametrize(("make", "code"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_grids_are_refused_in_bounded_memory(make, code):
    assert open_isolated(make()) == code


def test_the_hostile_xls_and_xlsb_fixtures_are_sound():
    """The HOSTILE variants differ from a readable file only in the patched bytes."""
    assert read(xls_cell_at(0, 0))[0][0] == TITLE
    assert read(xlsb_with_cells([(0, 0, 1.0), (0, 3, 2.0)])) == [[1, None, None, 2]]


def _guard_outcome(data: bytes) -> str:
    """What the zip guard alone says of an xlsx: "ok" or the error; calamine never sees the file."""
    from service_app.roster import guards

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        guards.guard_zip(archive, "xlsx", guards.Limits(200_000, 200_000 * 60, 200 * 1024 * 1024))
    except (RosterReadError, zipfile.BadZipFile) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def _xlsx_samples() -> list[bytes]:
    samples = [make() for make, _ in HOSTILE.values()] + [roster_xlsx(), xlsx_with_rows([["a"] * 30] * 120)]
    sheet = "xl/worksheets/sheet1.xml"
    samples += [  # what the scans look for, deep inside a part rather than in its first piece
        patch_member(roster_xlsx(), sheet, lambda xml: xml.replace(b"</sheetData>", b'<!ENTITY a "b"></sheetData>')),
        add_cells('<c r="B7" t="n"><v>1</v></c><c  r="C8"><v>2</v></c>'),
        add_cells('<c r="XFD1048576"><v>1</v></c>'),
        add_cells('<row r="9"><c><v>1</v></c><x:c r="AB12"><v>2</v></x:c></row>'),
        with_shared_strings('<sst count="1"><si><t>a</t></si><x uniqueCount="2000000000"/></sst>'),
    ]
    samples += [path.read_bytes() for path in sorted(CORPUS.glob("*.xlsx"))] if CORPUS.is_dir() else []
    found = []
    for data in samples:
        try:
            if detect_format(data) == "xlsx":
                found.append(data)
        except RosterReadError:
            pass
    return found


@pytest.mark.parametrize("piece", [3, 64, 4096])
def test_the_piecewise_guard_decides_as_the_whole_one(monkeypatch, piece):
    """Pieces of any size, cut anywhere: every sample is let through or refused exactly as when
    each member is checked whole (the piecewise scan turned off)."""
    from service_app.roster import guards

    samples = _xlsx_samples()
    with monkeypatch.context() as whole_only:
        whole_only.setattr(guards, "_plain_xlsx_part_cells", lambda *args: None)
        expected = [_guard_outcome(data) for data in samples]
    monkeypatch.setattr(guards, "_PIECE", piece)
    scanned = []
    piecewise = guards._plain_xlsx_part_cells

    def counting(*args):
        cells = piecewise(*args)
        scanned.append(cells is not None)
        return cells

    monkeypatch.setattr(guards, "_plain_xlsx_part_cells", counting)
    assert [_guard_outcome(data) for data in samples] == expected
    assert sum(scanned) > len(scanned) // 2  # most members really were scanned in pieces
    assert expected.count("ok") > 1 and len(set(expected)) > 3  # the samples cover both outcomes


# --- Large sheets, read in slices -----------------------------------------------------------------


def _trimmed(rows: list[list[object]]) -> list[list[object]]:
    """Rows without trailing blanks, and without trailing blank rows: slices may end rows earlier."""
    trimmed = [list(row) for row in rows]
    for row in trimmed:
        while row and row[-1] is None:
            row.pop()
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return trimmed


@pytest.fixture
def tiny_slices(monkeypatch):
    """Every plain worksheet is read in slices of a few rows, cut from pieces of a few hundred bytes."""
    from service_app.roster import guards, reading, slices

    monkeypatch.setattr(reading, "SLICE_ABOVE", 0)
    monkeypatch.setattr(slices, "SLICE_BYTES", 300)
    monkeypatch.setattr(guards, "_PIECE", 200)
    cut = []
    real = slices.slice_sheet

    def counting(*args):
        found = real(*args)
        cut.append(0 if found is None else len(found.cuts) - 1)
        return found

    monkeypatch.setattr(reading, "slice_sheet", counting)
    return cut


def _slice_samples() -> list[bytes]:
    workbook = openpyxl.Workbook()
    workbook.active["C3"] = "统一社会信用代码"
    workbook.active["D6"] = 7
    workbook.active["B40"] = "末行"
    samples = [
        roster_xlsx(),
        _save(workbook),
        xlsx_with_rows([[n, f"企业{n}", n * 1.5, None, "是"] for n in range(300)]),
    ]
    samples += [path.read_bytes() for path in sorted(FIXTURES.glob("*.xlsx"))]
    samples += [path.read_bytes() for path in sorted(CORPUS.glob("*.xlsx"))] if CORPUS.is_dir() else []
    return samples


def test_a_sheet_read_in_slices_gives_the_rows_of_the_whole(monkeypatch, tiny_slices):
    """Each slice is a workbook of its own, yet every cell comes out in its place, with its type."""
    expected = []
    for data in _slice_samples():
        with monkeypatch.context() as whole:
            whole.setattr("service_app.roster.reading.SLICE_ABOVE", 10**12)
            try:
                expected.append(_trimmed(read(data)))
            except RosterReadError as exc:
                expected.append(exc.code)
    tiny_slices.clear()
    got = []
    for data in _slice_samples():
        try:
            got.append(_trimmed(read(data)))
        except RosterReadError as exc:
            got.append(exc.code)
    assert got == expected
    assert max(tiny_slices) > 10  # the 300-row sheet really was cut into many slices
    assert tiny_slices.count(0) < len(tiny_slices)


def test_a_sliced_sheet_keeps_its_row_count_and_refuses_too_many_rows(tiny_slices):
    data = xlsx_with_rows([[n, "甲"] for n in range(50)])
    table = open_table(data)
    assert table.row_count == 50
    assert len(list(table.rows())) == 50
    assert read_error(data, max_rows=20) == "too_many_rows"  # decided on the whole sheet, as ever


def test_rows_out_of_order_are_not_sliced(tiny_slices):
    data = patch_member(
        xlsx_with_rows([[n] for n in range(1, 30)]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b'<row r="5">', b'<row r="50">').replace(b'<c r="A5"', b'<c r="A50"'),
    )
    rows = read(data)
    assert rows[49] == [5]
    assert tiny_slices == [0]  # read whole
