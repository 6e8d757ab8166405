"""A large xlsx worksheet handed to python-calamine a slice of rows at a time.

calamine builds a whole sheet as one grid before it gives back a row: for a 200,000-row roster
that is ≈300 MB, ≈440 MB at its peak. A large worksheet part the guards found plain (every cell
tag `<c r="B7"`, so each cell says where it goes) is cut instead into slices of whole rows, each
put into a workbook of its own — the original's other parts copied as they are, still
compressed — which calamine reads alone. Every cell keeps its place, so the rows come out as
they would from the whole sheet.

Plain Python: nothing here imports Flask or the app.
"""

from __future__ import annotations

import io
import itertools
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from .guards import member_pieces

#: Worksheet parts larger than this (XML bytes) are read in slices: ≈35,000 rows of a 17-column roster.
SLICE_ABOVE = 32 * 1024 * 1024
#: About how much XML goes into one slice: ≈2,200 rows of a 17-column roster, ≈15 MB of
#: calamine's and Python's at a time. Each slice's workbook repeats the shared strings, which
#: calamine reads again for every slice, so slices are never smaller than that part.
SLICE_BYTES = 2 * 1024 * 1024
#: What stands in for a large worksheet while the workbook is opened for its list of sheets.
EMPTY_SHEET = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>'

_SHEET_DATA = re.compile(rb"<sheetData\s*>")
_ROOT = re.compile(rb"<((?:[\w.-]+:)?worksheet)[\s>]")
_DIMENSION = re.compile(rb"<dimension\b[^>]*>")  # calamine would size each slice's grid by the whole sheet
_ROW_START = re.compile(rb"<row[\s>/]")
_ROW_NUMBER = re.compile(rb'<row r="(\d{1,7})"')
_LAST_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}(\d{1,7})"')
_VALUE = re.compile(rb"<v>|<is>")
_WORKBOOK_SHEET = re.compile(rb"<sheet\s[^>]*>")
_RELATIONSHIP = re.compile(rb"<Relationship\s[^>]*>")
_ATTRIBUTE = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass(frozen=True)
class SheetSlices:
    """Where a worksheet part is cut: its head, the offsets where slices begin, where its rows end."""

    member: str
    head: bytes  #: the part up to its <sheetData> tag, without <dimension>
    tail: bytes  #: what closes a slice: </sheetData> and the root's end tag
    cuts: tuple[int, ...]  #: offsets in the part: each slice's start, then the end of the rows
    last_row: int  #: 1-based number of the last row holding a cell tag

    def workbooks(self, data: bytes) -> Iterator[io.BytesIO]:
        """Each slice, in order, as a workbook of its own."""
        archive = zipfile.ZipFile(io.BytesIO(data))
        part = _Stream(member_pieces(archive, archive.getinfo(self.member)))
        for start, stop in zip(self.cuts, self.cuts[1:], strict=False):
            yield workbook_with(data, archive, {self.member: self.head + part.take(start, stop) + self.tail})


def worksheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str | None]]:
    """Each sheet of xl/workbook.xml in order (calamine's order too): its name, and its part when it
    is a worksheet; empty when the workbook is laid out otherwise."""
    try:
        workbook = archive.read("xl/workbook.xml")
        relationships = archive.read("xl/_rels/workbook.xml.rels")
    except (KeyError, zipfile.BadZipFile, zlib.error, OSError):
        return []
    targets = {}
    for tag in _RELATIONSHIP.findall(relationships):
        attributes = _attributes(tag)
        if attributes.get(b"Type", b"").endswith(b"/worksheet"):
            target = attributes.get(b"Target", b"").decode("utf-8", "replace")
            targets[attributes.get(b"Id")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    sheets = []
    for tag in _WORKBOOK_SHEET.findall(workbook):
        attributes = _attributes(tag)
        relationship = next((v for k, v in attributes.items() if k.endswith(b":id")), None)
        sheets.append((attributes.get(b"name", b"").decode("utf-8", "replace"), targets.get(relationship)))
    return sheets


def slice_sheet(archive: zipfile.ZipFile, member: str) -> SheetSlices | None:
    """Find where to cut a plain worksheet part into slices of about SLICE_BYTES of whole rows (or
    the shared strings' size, if larger);
    None when it is not laid out as expected (rows out of order, no cell holding a value, …)."""
    shared = next((i.file_size for i in archive.infolist() if i.filename.endswith("sharedStrings.xml")), 0)
    slice_bytes = max(SLICE_BYTES, shared)
    head: bytes | None = None
    tail = b""
    cuts: list[int] = []
    offset = end = last_row = last_numbered = 0
    has_value = False
    before = b""  # the pieces before <sheetData>
    for piece in member_pieces(archive, archive.getinfo(member)):  # no tag spans two pieces
        begin = 0
        if head is None:
            piece, offset = before + piece, offset - len(before)
            opening, root = _SHEET_DATA.search(piece), _ROOT.search(piece)
            if opening is None or root is None:
                before = piece
                offset += len(piece)
                if len(before) > SLICE_BYTES:
                    return None
                continue
            head = _DIMENSION.sub(b"", piece[: opening.end()])
            tail = b"</sheetData></" + root[1] + b">"
            begin = opening.end()
            cuts.append(offset + begin)
        closing = piece.find(b"</sheetData>", begin)
        rows = piece[begin : closing if closing >= 0 else len(piece)]
        numbers = [int(n) for n in _ROW_NUMBER.findall(rows)]
        if numbers and (numbers[0] <= last_numbered or any(a >= b for a, b in itertools.pairwise(numbers))):
            return None  # rows out of order could not be cut apart
        last_numbered = numbers[-1] if numbers else last_numbered
        cell = rows.rfind(b'<c r="')
        found = _LAST_CELL_ROW.match(rows, cell) if cell >= 0 else None
        last_row = max(last_row, int(found[1])) if found else last_row
        has_value = has_value or _VALUE.search(rows) is not None
        if offset + begin - cuts[-1] >= slice_bytes and (row := _ROW_START.search(rows)) is not None:
            cuts.append(offset + begin + row.start())
        if closing >= 0:
            end = offset + closing
            break
        offset += len(piece)
    if head is None or not end or not has_value:
        return None
    return SheetSlices(member, head, tail, (*cuts, end), last_row)


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    return {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTRIBUTE.finditer(tag)}


class _Stream:
    """A member's pieces read once, front to back, handed out by offset."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces
        self.buffer = b""
        self.offset = 0  # the part's offset of buffer[0]

    def take(self, start: int, stop: int) -> bytes:
        parts, have = [self.buffer], self.offset + len(self.buffer)
        while have < stop:
            piece = next(self.pieces)
            parts.append(piece)
            have += len(piece)
        joined = b"".join(parts)
        taken = joined[start - self.offset : stop - self.offset]
        self.buffer, self.offset = joined[stop - self.offset :], stop
        return taken


def workbook_with(data: bytes, archive: zipfile.ZipFile, replaced: dict[str, bytes]) -> io.BytesIO:
    """The workbook with some parts replaced (stored uncompressed), every other part copied raw."""
    out = io.BytesIO()
    directory = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename.encode("utf-8")
        part = replaced.get(info.filename)
        if part is not None:
            payload, method, crc, size = part, zipfile.ZIP_STORED, zlib.crc32(part), len(part)
        else:
            payload, method, crc, size = _raw_member(data, info), info.compress_type, info.CRC, info.file_size
        offset = out.tell()
        # version 2.0, UTF-8 names, 1980-01-01 00:00; sizes known up front (no data descriptor)
        common = (20, 0x800, method, 0, 0x21, crc, len(payload), size, len(name))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *common, 0) + name)
        out.write(payload)
        directory.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *common, 0, 0, 0, 0, 0, offset) + name)
    start = out.tell()
    out.write(b"".join(directory))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(directory), len(directory), out.tell() - start, start, 0))
    out.seek(0)
    return out


def _raw_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes as stored in the archive (compressed), found through its local header."""
    header = data[info.header_offset : info.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    return data[start : start + info.compress_size]
