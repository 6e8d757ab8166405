"""Guards that stop a hostile workbook before python-calamine builds its grid.

python-calamine builds each sheet as a dense rows × columns grid and, when an allocation fails,
aborts the whole process — no exception, the worker just dies. A 5 KB xlsx naming cell
XFD1048576, an xls record at column 65535, an ods cell repeated 16384 × 5000 times or a
shared-string table announcing two billion entries is enough. So before calamine sees a workbook,
these cheap scans bound what it would allocate and refuse the file with a `RosterReadError` whose
`code` the caller turns into a translated message. `reading.open_table` runs them; this module
holds one guard per container: zip members (xlsx, xlsb, ods) and the OLE2 compound file (xls).

Plain Python: nothing here imports Flask or the app.
"""

from __future__ import annotations

import codecs
import itertools
import re
import struct
import sys
import zipfile
import zlib
from array import array
from collections.abc import Iterable, Iterator
from typing import NamedTuple
from xml.parsers import expat

#: Every `RosterReadError.code`, so callers can map each one to a message.
ERROR_CODES = frozenset(
    {
        "empty",  # 0 bytes, or no cell anywhere
        "not_spreadsheet",  # the bytes are no known format
        "damaged",  # truncated or corrupt zip, OLE2 or workbook; any parser error
        "encrypted",  # password-protected or encrypted workbook
        "unsafe_xml",  # DOCTYPE or ENTITY declarations in a workbook's XML
        "zip_bomb",  # declares too much uncompressed data, or compresses too well
        "too_many_rows",  # more than max_rows rows
        "too_large",  # more than max_cells cells
        "no_sheet",  # a workbook without sheets
    }
)


class RosterReadError(Exception):
    """The file cannot be read as a roster; `code` says why, for a translated message."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown roster read error code {code!r}")
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class Limits(NamedTuple):
    """What a file may hold: rows, cells and uncompressed bytes."""

    max_rows: int
    max_cells: int
    max_uncompressed: int


#: What zipfile and zlib raise on a broken archive.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)


# --- Zip containers: xlsx, xlsb, ods --------------------------------------------------------------

_MAX_MEMBERS = 10_000
_MAX_RATIO = 100  # deflate rarely beats 20:1 on a real sheet; bombs run at 1000:1
_RATIO_FLOOR = 1024 * 1024  # small members cannot hurt, whatever their ratio
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)""")
_UNIQUE_COUNT = re.compile(rb"""uniqueCount\s*=\s*["']\s*\+?(\d+)""")


def guard_zip(archive: zipfile.ZipFile, fmt: str, limits: Limits) -> frozenset[str]:
    """Check every member of an xlsx, xlsb or ods; return the xlsx parts found plain (every cell tag
    `<c r="A1"`, see `_plain_xlsx_part_cells`), which may be handed to calamine in slices."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    _check_zip_sizes(infos, limits)
    infos.sort(key=lambda info: info.filename != "META-INF/manifest.xml")  # an encrypted ods says so there
    guard_member = {"xlsx": _guard_xlsx_member, "xlsb": _guard_xlsb_member, "ods": _guard_ods_member}[fmt]
    return frozenset(info.filename for info in infos if guard_member(archive, info, limits))


def _check_zip_sizes(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > _MAX_MEMBERS:
        raise RosterReadError("zip_bomb", f"{len(infos)} members")
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed:
        raise RosterReadError("zip_bomb", f"declares {total} bytes uncompressed")
    for info in infos:
        if info.flag_bits & 0x1:
            raise RosterReadError("encrypted", f"zip member {info.filename} is encrypted")
        if info.file_size > _RATIO_FLOOR and info.file_size > _MAX_RATIO * info.compress_size:
            ratio = f"{info.file_size} bytes to {info.compress_size}"
            raise RosterReadError("zip_bomb", f"{info.filename} compresses {ratio}")


def _guard_xlsx_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bool:
    """Every member, not only those named like sheets: calamine follows relationships, which may point anywhere.

    A plain part is scanned a piece at a time (a 200,000-row sheet is ≈180 MB of XML); anything
    the piecewise scan cannot vouch for — an error, odd markup, a lying size — is checked again
    whole, so a refused file is refused with the same code and detail as ever. True for a plain part.
    """
    try:
        cells = _plain_xlsx_part_cells(archive, info, limits.max_cells)
    except ZIP_ERRORS:
        cells = None
    if cells is None:
        _guard_xlsx_member_whole(archive, info, limits)
        return False
    if cells > limits.max_cells:
        raise RosterReadError("too_large", f"{info.filename} spans {cells} cells")
    return True


def _guard_xlsx_member_whole(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> None:
    data = _member_data(archive, info)
    _check_xml_part(data, info.filename)
    _check_unique_count(data, info)
    cells = _xlsx_part_cells(data, limits.max_cells)
    if cells > limits.max_cells:
        raise RosterReadError("too_large", f"{info.filename} spans {cells} cells")


def _guard_ods_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> None:
    data = _member_data(archive, info)
    _check_xml_part(data, info.filename)
    if info.filename == "META-INF/manifest.xml" and b"encryption-data" in data:
        raise RosterReadError("encrypted", "ods with an encryption manifest")
    if info.filename == "content.xml":
        _check_well_formed(data, info.filename)
        _check_ods_content(data, limits)


def _check_well_formed(data: bytes, name: str) -> None:
    """calamine 0.37 loops forever on an ods table whose end tag never comes (cut after a row, or
    misspelt); in well-formed XML every table ends. expat without handlers runs at C speed, and
    _check_xml_part has already refused DTDs, so it expands no entity and fetches nothing."""
    try:
        expat.ParserCreate().Parse(data, True)
    except expat.ExpatError as exc:
        raise RosterReadError("damaged", f"{name} is not well-formed XML: {exc}") from None


def _member_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Decompress a whole member, whose declared size _check_zip_sizes has bounded.

    zipfile stops at the declared size and checks the CRC, so a member lying about its size fails
    here. Whole rather than in chunks: a tag cut at a chunk boundary could hide an attribute.
    """
    try:
        with archive.open(info) as member:
            return member.read()
    except ZIP_ERRORS as exc:
        raise RosterReadError("damaged", f"zip member {info.filename}: {exc}") from None


def _check_xml_part(data: bytes, name: str) -> None:
    """Refuse DTDs (entity bombs, external entities) and encodings the byte-level scans cannot read."""
    if data.removeprefix(codecs.BOM_UTF16_LE).removeprefix(codecs.BOM_UTF16_BE).startswith((b"<\x00", b"\x00<")):
        raise RosterReadError("damaged", f"{name} is UTF-16 XML")
    body = data.removeprefix(codecs.BOM_UTF8)
    if not body.lstrip().startswith(b"<"):
        return  # not XML: an image, a printer setting, a VBA project
    declared = _XML_ENCODING.match(body)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise RosterReadError("damaged", f"{name} declares encoding {declared.group(1)!r}")
    if _DTD.search(data):
        raise RosterReadError("unsafe_xml", f"{name} declares a DOCTYPE or ENTITY")


def _check_unique_count(data: bytes, info: zipfile.ZipInfo) -> None:
    """calamine reserves room for `uniqueCount` strings before reading one; each takes at least 5 bytes."""
    if b"uniqueCount" not in data:
        return
    for value in _UNIQUE_COUNT.findall(data):
        if len(value) > 12 or int(value) > info.file_size // 4 + 1:
            raise RosterReadError("damaged", f"{info.filename} announces {value.decode()} shared strings")


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + char - 64
    return number


_ODD_CELL = re.compile(rb"<c[^ \w]")
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_SPACED_R = re.compile(rb"r\s+=")
_LONGER_NAME_R = re.compile(rb"r=(?<=[\w.:-]r=)")
# Grids small enough to accept without reading every reference: (columns, row digits, a reference outside).
_SMALL_GRIDS = (
    (26, 5, re.compile(rb'<c r="(?![A-Z]\d{1,5}")')),
    (702, 4, re.compile(rb'<c r="(?![A-Z]{1,2}\d{1,4}")')),
)
_CANON_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})\d{1,7}"')
_CANON_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}(\d{1,7})"')
_QUOTED_ATTRIBUTES = rb"""((?:[^<>"']|"[^"]*"|'[^']*')*)"""
_ANY_START = re.compile(rb"<(?:[\w.-]+:)?(c|row)(?=[\s/>])" + _QUOTED_ATTRIBUTES + rb">")
_ATTRIBUTE = re.compile(rb"""([^\s=/>"']+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_REFERENCE = re.compile(rb"([A-Za-z]{1,4})(\d{1,10})")
_ROW_REFERENCE = re.compile(rb"\d{1,10}")


def _xlsx_part_cells(data: bytes, max_cells: int) -> int:
    """Upper bound of the rows × columns grid calamine would build from this part.

    A cell's place is its `r` attribute (`<c r="B7">`; calamine takes the last one and accepts
    lowercase and four letters); a cell or row without one sits just after the previous one.
    Fast path for what Excel, WPS, LibreOffice and openpyxl write: each cell tag opens with its
    only r attribute. The counts prove the fast regexes saw every cell tag and every r.
    """
    if b"<c " not in data and not _ODD_CELL.search(data) and not _PREFIXED_CELL.search(data):
        return 0  # no cell tag, prefixed or not: shared strings, styles, themes
    cells = data.count(b'<c r="')
    r_attributes = data.count(b' r="')
    if (
        data.count(b"<c ") != cells
        or r_attributes != cells + data.count(b'<row r="')
        or data.count(b"r=") != r_attributes + len(_LONGER_NAME_R.findall(data))  # header=, footer=, operator=
        or _SPACED_R.search(data)
        or _ODD_CELL.search(data)
        or _PREFIXED_CELL.search(data)
    ):
        return _xlsx_cells_thoroughly(data)
    if not cells:
        return 0
    for columns, digits, outside in _SMALL_GRIDS:
        bound = columns * (10**digits - 1)
        if bound <= max_cells and not outside.search(data):
            return bound
    letters = _CANON_CELL_COLUMN.findall(data)
    if len(letters) != cells:
        return _xlsx_cells_thoroughly(data)
    return max(map(_column_number, set(letters))) * max(map(int, set(_CANON_CELL_ROW.findall(data))))


def _xlsx_cells_thoroughly(data: bytes) -> int:
    """Any prefix, quoting, spacing or attribute order, tag by tag; every r attribute of a tag counts."""
    max_row = max_column = implicit_rows = implicit_columns = 0
    for tag in _ANY_START.finditer(data):
        is_row = tag[1] == b"row"
        references = [a[2] if a[2] is not None else a[3] for a in _ATTRIBUTE.finditer(tag[2]) if a[1] == b"r"]
        if not references:
            implicit_rows += is_row
            implicit_columns += not is_row
        for reference in references:
            match = (_ROW_REFERENCE if is_row else _CELL_REFERENCE).fullmatch(reference)
            if match is None:
                raise RosterReadError("damaged", f"{'row' if is_row else 'cell'} reference {reference[:20]!r}")
            if not is_row:
                max_column = max(max_column, _column_number(match[1]))
            max_row = max(max_row, int(match[0] if is_row else match[2]))
    return (max_row + implicit_rows) * (max_column + implicit_columns)


_PIECE = 1024 * 1024


def member_pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Decompress a member about 1 MB at a time, each piece but the last ending with a '>' followed by a '<'.

    None of the patterns the plain-part scan counts or searches for can hold "><", so none spans
    two pieces. Markup without "><" for megabytes comes as one larger piece. zipfile still stops
    at the declared size and checks the CRC at the end.
    """
    with archive.open(info) as member:
        parts: list[bytes] = []
        previous = b""
        while chunk := member.read(_PIECE):
            probe = previous[-1:] + chunk
            found = probe.rfind(b"><")
            if found < 0:
                parts.append(chunk)
            else:
                cut = found + 1 - len(previous[-1:])  # where the '<' sits in chunk
                parts.append(chunk[:cut])
                yield b"".join(parts)
                parts = [chunk[cut:]]
            previous = chunk
        if any(parts):
            yield b"".join(parts)


def _plain_xlsx_part_cells(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_cells: int) -> int | None:
    """What `_xlsx_part_cells` says of a member that passes every check, read in pieces; None when
    the member needs the whole check: a DTD, an odd encoding or shared-string count, odd cell markup.

    Counts and searches add up piece by piece because no match spans two pieces (see
    `member_pieces`); the head checks see the first piece, which ends after a '>' like the
    encoding declaration does.
    """
    pieces = member_pieces(archive, info)
    first = next(pieces, b"")
    try:
        _check_xml_part(first, info.filename)
    except RosterReadError:
        return None
    body = first.removeprefix(codecs.BOM_UTF8)
    is_xml = body.lstrip().startswith(b"<")
    declared = _XML_ENCODING.match(body) if is_xml else None
    if declared and declared.end() == len(body):
        return None  # the declared encoding might run on into the next piece
    counts = dict.fromkeys(("cells", "r_attributes", "spaced_cells", "rows", "r_equals", "longer_names"), 0)
    odd = False
    outside = [False] * len(_SMALL_GRIDS)
    for piece in itertools.chain((first,), pieces):
        if (is_xml and b"<!" in piece and _DTD.search(piece)) or not _unique_counts_fit(piece, info):
            return None
        if _ODD_CELL.search(piece) or _PREFIXED_CELL.search(piece) or _SPACED_R.search(piece):
            odd = True
        counts["cells"] += piece.count(b'<c r="')
        r_attributes = piece.count(b' r="')
        counts["r_attributes"] += r_attributes
        counts["spaced_cells"] += piece.count(b"<c ")
        counts["rows"] += piece.count(b'<row r="')
        r_equals = piece.count(b"r=")
        counts["r_equals"] += r_equals
        if r_equals != r_attributes:  # else every r= is an r attribute, and none ends a longer name
            counts["longer_names"] += len(_LONGER_NAME_R.findall(piece))
        for index, (_, _, pattern) in enumerate(_SMALL_GRIDS):
            outside[index] = outside[index] or pattern.search(piece) is not None
    if not counts["spaced_cells"] and not odd:
        return 0  # no cell tag, prefixed or not: shared strings, styles, themes
    if (
        odd
        or counts["spaced_cells"] != counts["cells"]
        or counts["r_attributes"] != counts["cells"] + counts["rows"]
        or counts["r_equals"] != counts["r_attributes"] + counts["longer_names"]
    ):
        return None
    if not counts["cells"]:
        return 0
    for (columns, digits, _), outside_small in zip(_SMALL_GRIDS, outside, strict=True):
        bound = columns * (10**digits - 1)
        if bound <= max_cells and not outside_small:
            return bound
    return _canonical_grid(archive, info, counts["cells"])


def _canonical_grid(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cells: int) -> int | None:
    """Largest column × largest row of a part whose every cell tag opens with `<c r="A1"`, read again in pieces."""
    letters: set[bytes] = set()
    rows: set[bytes] = set()
    found = 0
    for piece in member_pieces(archive, info):
        piece_letters = _CANON_CELL_COLUMN.findall(piece)
        found += len(piece_letters)
        letters.update(piece_letters)
        rows.update(_CANON_CELL_ROW.findall(piece))
    if found != cells:
        return None
    return max(map(_column_number, letters)) * max(map(int, rows))


def _unique_counts_fit(piece: bytes, info: zipfile.ZipInfo) -> bool:
    """`_check_unique_count` for one piece, as a verdict."""
    if b"uniqueCount" not in piece:
        return True
    return all(len(value) <= 12 and int(value) <= info.file_size // 4 + 1 for value in _UNIQUE_COUNT.findall(piece))


_GT_IN_VALUE = re.compile(rb"""=\s*(?:"[^"<>]*|'[^'<>]*)>""")
_ODS_TABLE_START = re.compile(rb"<table:table(?=[\s/>])")
_ODS_ROW_START = re.compile(rb"<table:table-row(?=[\s/>])")
_ODS_TAG = re.compile(
    rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])" + _QUOTED_ATTRIBUTES + rb">"
)
_ODS_COLUMNS_REPEATED = re.compile(rb"""number-columns-repeated\s*=\s*["']\s*(\d+)""")


def _check_ods_content(data: bytes, limits: Limits) -> None:
    """Bound the grids calamine builds from well-formed content.xml, row by row when the markup is plain."""
    box = _OdsCellBox(limits)
    if _GT_IN_VALUE.search(data):
        box.feed(data)  # a '>' inside an attribute value: cutting tags at '>' is unsafe
        box.end_table()
        return
    for table in _ODS_TABLE_START.split(data)[1:]:
        if table.count(b"</table:table>") > 1:
            raise RosterReadError("damaged", "ods table inside a table")
        for part in _ODS_ROW_START.split(table)[1:]:
            box.plain_row(part)
        box.end_table()


class _OdsCellBox:
    """Grid calamine builds from an ods content.xml, summed over its tables (all are read at once).

    A cell or row may repeat itself (`table:number-columns-repeated="16384"`); empty repeats only
    move the position — LibreOffice pads every row to column XFD and every sheet to row 1048576
    that way — while a repeated cell with content really is that many cells.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.cell_depth = 0  # inside a cell with content, which calamine reads past as a whole
        self.in_row = False
        self._start_table()

    def _start_table(self) -> None:
        self.row = self.height = self.width = 0
        self.row_repeat = 1
        self.column = self.row_width = 0

    def plain_row(self, part: bytes) -> None:
        """One row, from just after its tag name to the next row, in markup known to be plain."""
        head, _, rest = part.partition(b">")
        self.row_repeat = _ods_repeat(head, b"number-rows-repeated") if b"repeated" in head else 1
        body = b"" if head.endswith(b"/") else rest[: rest.rfind(b"</table:table-row>")]
        while (last := body.rfind(b"<table:")) >= 0:  # trailing empty cells only pad the row
            tail = body[last:]
            if tail.count(b"<") != 1 or not tail.rstrip().endswith(b"/>") or b"value" in tail:
                break
            body = body[:last]
        cells = body.count(b"<table:table-cell")
        if b"covered" in body:
            cells += body.count(b"<table:covered-table-cell")
        if body.count(b"<table:") != cells:  # something else than cells, say a nested table
            self.row_repeat = 1
            self.feed(b"<table:table-row" + part)
            return
        repeats = _ODS_COLUMNS_REPEATED.findall(body) if b"repeated" in body else ()
        self.row_width = cells + sum(_repeat_count(value) - 1 for value in repeats)
        self._end_row()

    def feed(self, data: bytes) -> None:
        """Tag by tag, for markup with a '>' inside an attribute value."""
        for tag in _ODS_TAG.finditer(data):
            closing, name, attributes = tag[1] == b"/", tag[2], tag[3]
            self_closing = attributes.endswith(b"/")
            if name in (b"table-cell", b"covered-table-cell"):
                if closing:
                    self.cell_depth = max(self.cell_depth - 1, 0)
                    continue
                if self.cell_depth == 0:
                    self._cell(attributes, self_closing)
                self.cell_depth += 0 if self_closing else 1
            elif self.cell_depth:
                continue
            elif name == b"table":
                if self.in_row:
                    raise RosterReadError("damaged", "ods table inside a row")
                if closing or not self_closing:
                    self.end_table()
            elif closing:
                self._end_row()
            else:
                if self.in_row:
                    raise RosterReadError("damaged", "ods row inside a row")
                self.in_row, self.row_repeat = True, _ods_repeat(attributes, b"number-rows-repeated")
                if self_closing:
                    self._end_row()

    def _cell(self, attributes: bytes, self_closing: bool) -> None:
        repeat = _ods_repeat(attributes, b"number-columns-repeated")
        if not self_closing or b"value" in attributes:
            self.row_width = max(self.row_width, self.column + repeat)
        self.column += repeat

    def _end_row(self) -> None:
        if self.row_width:
            self.height = self.row + self.row_repeat
            self.width = max(self.width, self.row_width)
            if self.total + self.height * self.width > self.limits.max_cells:
                raise RosterReadError("too_large", f"ods table spans {self.height} × {self.width} cells")
            if self.height > self.limits.max_rows:
                raise RosterReadError("too_many_rows", f"ods table has {self.height} rows")
        self.row += self.row_repeat
        self.in_row, self.row_repeat, self.column, self.row_width = False, 1, 0, 0

    def end_table(self) -> None:
        self.total += self.height * self.width
        self._start_table()


def _ods_repeat(attributes: bytes, name: bytes) -> int:
    """The largest `…:<name>` attribute of a tag."""
    if name not in attributes:
        return 1
    values = (a[2] if a[2] is not None else a[3] for a in _ATTRIBUTE.finditer(attributes) if a[1].endswith(name))
    return max(map(_repeat_count, values), default=1)


def _repeat_count(value: bytes) -> int:
    """A repeat attribute's value; past 10**12 it is as good as infinite, and nonsense counts as 1."""
    value = value.strip()
    if not value.isdigit():
        return 1
    return 10**12 if len(value) > 12 else max(int(value), 1)


# xlsb: BIFF12 records, each a 1-2 byte type and a 1-4 byte size, both 7 bits a byte.
_XLSB_ROW, _XLSB_BEGIN_SHEET_DATA, _XLSB_END_SHEET_DATA, _XLSB_BEGIN_SST = 0x0000, 0x0091, 0x0092, 0x009F
_XLSB_CELLS = range(0x0002, 0x000C)  # BrtCellRk … BrtFmlaError: column u32 first
_XLSB_MAX_ROW = 0x100000  # calamine stops reading a sheet at a row past this


def _guard_xlsb_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> None:
    """Walk a member as BIFF12 records; calamine reads cells only between BrtBeginSheetData and its end."""
    data = _member_data(archive, info)
    _check_xml_part(data, info.filename)
    in_sheet_data, row, max_row, max_column = False, 0, -1, -1
    for typ, start, size in _biff12_records(data):
        if typ == _XLSB_BEGIN_SHEET_DATA:
            in_sheet_data = True
        elif typ == _XLSB_END_SHEET_DATA:
            in_sheet_data = False
        elif typ == _XLSB_BEGIN_SST and size >= 8:
            if struct.unpack_from("<I", data, start + 4)[0] > info.file_size // 4 + 1:
                raise RosterReadError("damaged", f"{info.filename} announces too many shared strings")
        elif in_sheet_data and (typ == _XLSB_ROW or typ in _XLSB_CELLS):
            if size < (4 if typ == _XLSB_ROW else 8):  # calamine would read the previous record's bytes
                raise RosterReadError("damaged", f"{info.filename} has a truncated cell record")
            value = struct.unpack_from("<I", data, start)[0]
            if typ == _XLSB_ROW:
                row = value
                if row > _XLSB_MAX_ROW:
                    in_sheet_data = False
            else:
                max_row, max_column = max(max_row, row), max(max_column, value)
        if (max_row + 1) * (max_column + 1) > limits.max_cells:
            raise RosterReadError("too_large", f"{info.filename} spans more than {limits.max_cells} cells")


def _biff12_records(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (type, payload offset, payload size); stop quietly at a truncated record."""
    position, end = 0, len(data)
    while position < end:
        typ = data[position] & 0x7F
        if data[position] & 0x80:
            if position + 1 >= end:
                return
            typ |= (data[position + 1] & 0x7F) << 7
            position += 1
        position += 1
        size = shift = 0
        for _ in range(4):
            if position >= end:
                return
            byte = data[position]
            position += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if position + size > end:
            return
        yield typ, position, size
        position += size


# --- xls: OLE2 compound file holding a BIFF workbook stream -----------------------------------------

_END_OF_CHAIN = 0xFFFFFFFA  # and above: the special values that end a chain (MS-CFB 2.1)
_BIFF_EOF, _BIFF_FILEPASS, _BIFF_BOUNDSHEET, _BIFF_SST, _BIFF_DIMENSIONS = 0x000A, 0x002F, 0x0085, 0x00FC, 0x0200
_BIFF_MULRK = 0x00BD
# Records calamine turns into cells (plus older BIFF variants, to be safe); all start row u16, col u16.
# BLANK and MULBLANK are left out: calamine skips them, and formatted sheets are full of them.
_BIFF_CELLS = frozenset({0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x00BD, 0x00D6, 0x00FD, 0x0203, 0x0204, 0x0205})
_BIFF_CELLS |= {0x0206, 0x0406, 0x027E}
_BIFF8_ROWS, _BIFF8_COLUMNS = 65536, 256


class OleEntry(NamedTuple):
    name: str
    kind: int
    start: int
    size: int


class Ole:
    """Just enough of an OLE2 compound file reader to list streams and read one (MS-CFB)."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise RosterReadError("damaged", "OLE2 file shorter than its header")
        sector_shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if sector_shift not in (9, 12) or mini_shift != 6:
            raise RosterReadError("damaged", "OLE2 header with odd sector sizes")
        self.data = data
        self.sector_size = 1 << sector_shift
        self.sector_count = len(data) // self.sector_size - 1
        first_directory = struct.unpack_from("<I", data, 48)[0]
        self.cutoff, first_minifat, _, first_difat, _ = struct.unpack_from("<5I", data, 56)
        self.fat = self._load_fat(first_difat)
        directory = self._read_chain(first_directory, self.fat, self.sector_size, None)
        self.entries = [self._entry(directory, offset) for offset in range(0, len(directory) - 127, 128)]
        if not self.entries:
            raise RosterReadError("damaged", "OLE2 file without a directory")
        root = self.entries[0]
        self.mini_stream = self._read_chain(root.start, self.fat, self.sector_size, root.size)
        self.minifat = self._table(self._read_chain(first_minifat, self.fat, self.sector_size, None))

    def read(self, entry: OleEntry) -> bytes:
        """The bytes of one stream, from the mini stream when it is small."""
        if entry.size < self.cutoff:
            return self._read_chain(entry.start, self.minifat, 64, entry.size, self.mini_stream, 0)
        return self._read_chain(entry.start, self.fat, self.sector_size, entry.size)

    def _load_fat(self, first_difat: int) -> array[int]:
        per_sector = self.sector_size // 4
        locations = list(struct.unpack_from("<109I", self.data, 76))
        sector = first_difat
        for _ in range(self.sector_count):
            if sector >= self.sector_count:
                break
            listed = struct.unpack_from(f"<{per_sector}I", self.data, (sector + 1) * self.sector_size)
            locations.extend(listed[:-1])
            sector = listed[-1]
        fat = self._table(
            b"".join(
                self._sector(s, self.data, self.sector_size, self.sector_size)
                for s in locations
                if s < self.sector_count
            )
        )
        if not fat:
            raise RosterReadError("damaged", "OLE2 file without an allocation table")
        return fat

    @staticmethod
    def _table(raw: bytes) -> array[int]:
        table = array("I")
        table.frombytes(raw[: len(raw) // 4 * 4])
        if sys.byteorder == "big":
            table.byteswap()
        return table

    @staticmethod
    def _sector(number: int, source: bytes, size: int, base: int) -> bytes:
        return source[base + number * size : base + (number + 1) * size]

    def _read_chain(
        self, start: int, table: array[int], size: int, length: int | None, source: bytes | None = None, base: int = -1
    ) -> bytes:
        source = self.data if source is None else source
        base = self.sector_size if base < 0 else base
        parts: list[bytes] = []
        sector = start
        while sector < _END_OF_CHAIN and (length is None or len(parts) * size < length):
            if sector >= len(table) or len(parts) > len(table):
                raise RosterReadError("damaged", f"OLE2 sector chain broken at {sector}")
            parts.append(self._sector(sector, source, size, base))
            sector = table[sector]
        joined = b"".join(parts)
        if length is not None and len(joined) < length:
            raise RosterReadError("damaged", "OLE2 stream shorter than its directory entry says")
        return joined if length is None else joined[:length]

    @staticmethod
    def _entry(directory: bytes, offset: int) -> OleEntry:
        name_size = min(struct.unpack_from("<H", directory, offset + 64)[0], 64)
        name = directory[offset : offset + max(name_size - 2, 0)].decode("utf-16-le", "replace")
        kind = directory[offset + 66]
        start, size = struct.unpack_from("<II", directory, offset + 116)
        return OleEntry(name, kind, start, size)


def guard_xls(ole: Ole, limits: Limits) -> None:
    """Check every workbook stream calamine might read ("Workbook", else "Book")."""
    for entry in ole.entries:
        if entry.kind == 2 and entry.name.lower() in ("workbook", "book"):
            _check_biff(ole.read(entry), limits)


def _check_biff(stream: bytes, limits: Limits) -> None:
    sheet_offsets = []
    for typ, start, size in _biff_records(stream, 0):
        if typ == _BIFF_FILEPASS:
            raise RosterReadError("encrypted", "xls with a password")
        if typ == _BIFF_BOUNDSHEET and size >= 4:
            sheet_offsets.append(struct.unpack_from("<I", stream, start)[0])
        elif typ == _BIFF_SST and size >= 8 and not 0 <= struct.unpack_from("<i", stream, start + 4)[0] <= len(stream):
            raise RosterReadError("damaged", "xls announces an impossible number of strings")
        elif typ == _BIFF_EOF:
            break
    total = 0
    for offset in sheet_offsets:
        if offset >= len(stream):
            raise RosterReadError("damaged", "xls sheet starts past the end of the workbook stream")
        total += _biff_sheet_cells(stream, offset)
        if total > limits.max_cells:
            raise RosterReadError("too_large", f"xls sheets span more than {limits.max_cells} cells")


def _biff_sheet_cells(stream: bytes, offset: int) -> int:
    """Size of the grid calamine will build for the sheet at `offset`, reading up to its EOF record."""
    max_row = max_column = -1
    for typ, start, size in _biff_records(stream, offset):
        if typ in _BIFF_CELLS and size >= 4:
            row, column = struct.unpack_from("<HH", stream, start)
            if typ == _BIFF_MULRK:
                column += max((size - 6) // 6 - 1, 0)
            max_row, max_column = max(max_row, row), max(max_column, column)
        elif typ == _BIFF_DIMENSIONS:
            _check_biff_dimensions(stream, start, size)
        elif typ == _BIFF_EOF:
            break
    return (max_row + 1) * (max_column + 1)


def _check_biff_dimensions(stream: bytes, start: int, size: int) -> None:
    """calamine reserves (last row - first row) × (last column - first column) cells up front.

    A first past its last is fine (calamine 0.37 saturates; tafia__OOM_alloc2.xls), but a grid past
    BIFF8's 65536 × 256 makes it ask for terabytes and abort.
    """
    if size == 14:
        _, last_row, _, last_column = struct.unpack_from("<IIHH", stream, start)
    elif size == 10:
        _, last_row, _, last_column = struct.unpack_from("<HHHH", stream, start)
    else:
        return  # calamine rejects the record itself
    if last_row > _BIFF8_ROWS or last_column > _BIFF8_COLUMNS:
        raise RosterReadError("damaged", f"xls DIMENSIONS record declares {last_row} × {last_column} cells")


def _biff_records(stream: bytes, position: int) -> Iterable[tuple[int, int, int]]:
    """Yield (type, payload offset, payload size) from `position`; stop quietly at a truncated record."""
    end = len(stream)
    while position + 4 <= end:
        typ, size = struct.unpack_from("<HH", stream, position)
        position += 4
        if position + size > end:
            return
        yield typ, position, size
        position += size
