"""Open an uploaded roster (xlsx, xls, ods, xlsb or CSV) as rows of cell values, refusing hostile files.

Every uploaded roster comes through `open_table`. Before python-calamine sees a workbook, the
guards in `guards.py` bound what it would allocate (calamine aborts the whole process when an
allocation fails) and refuse a hostile file with a `RosterReadError` whose `code` the caller
turns into a translated message.

Plain Python: nothing here imports Flask or the app.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import python_calamine

from .guards import ERROR_CODES, ZIP_ERRORS, Limits, Ole, RosterReadError, guard_xls, guard_zip
from .slices import EMPTY_SHEET, SLICE_ABOVE, slice_sheet, workbook_with, worksheet_parts

__all__ = ["ERROR_CODES", "FORMATS", "RosterReadError", "Table", "detect_format", "normalise_row", "open_table"]

FORMATS = ("xlsx", "xls", "ods", "xlsb", "csv")


@dataclass(frozen=True)
class Table:
    """The first non-empty sheet of a workbook, or a CSV file, ready to be read row by row."""

    format: str  #: one of FORMATS
    sheet_name: str  #: "" for CSV
    encoding: str | None  #: CSV only: "utf-8-sig", "utf-8", "gb18030" or "utf-16"
    #: How many rows `rows()` yields: the last non-empty row's number (for a large sheet read in
    #: slices, the last row holding a cell at all).
    row_count: int
    _source: Callable[[], Iterator[list[object]]] = field(repr=False, compare=False)
    _release: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)

    def rows(self) -> Iterator[list[object]]:
        """Yield every row top to bottom, blank ones included, so row i (0-based) is spreadsheet row i + 1.

        Column j is spreadsheet column j + 1. Values are str, int, float, bool, date, datetime,
        time (timedelta for durations) or None for an empty cell; CSV values are str or None.
        """
        return map(normalise_row, self._source())

    def raw_rows(self) -> Iterator[list[object]]:
        """The rows as the spreadsheet library gives them, for readers that normalise a column at a
        time: a whole number may still be a float, an empty cell "" or missing at a row's end.
        `normalise_row` turns one into what `rows()` yields."""
        return self._source()

    def close(self) -> None:
        """Let go of the parsed sheet (≈260 MB at 200,000 rows) once no more rows are needed;
        an iteration under way finishes, and `rows()` may not be called again."""
        self._release()


_EXACT_FLOAT = 2.0**53


def normalise_cell(value: object) -> object:
    """A cell as `rows()` gives it: whole floats as int, "" as None."""
    if value.__class__ is float and value.is_integer() and -_EXACT_FLOAT < value < _EXACT_FLOAT:  # type: ignore[attr-defined,operator]
        return int(value)  # type: ignore[call-overload]
    return None if value == "" else value


def normalise_row(row: list[object]) -> list[object]:
    """A raw row as `rows()` gives it."""
    return [
        int(v) if type(v) is float and v.is_integer() and -_EXACT_FLOAT < v < _EXACT_FLOAT else (None if v == "" else v)
        for v in row
    ]


def detect_format(data: bytes) -> str:
    """Name the format of `data` from its bytes, never its file name; raise RosterReadError if it has none."""
    with _read_errors():
        return _identify(data)[0]


def open_table(
    data: bytes,
    *,
    max_rows: int = 200_000,
    max_cells: int = 200_000 * 60,
    max_uncompressed: int = 200 * 1024 * 1024,
    pick: Callable[[list[Table]], Table] | None = None,
) -> Table:
    """Detect the format, check the file cannot exhaust memory or time, and open its first non-empty sheet.

    With `pick`, every non-empty sheet is opened (visible ones first) and `pick` chooses or joins them.
    """
    limits = Limits(max_rows, max_cells, max_uncompressed)
    plain: frozenset[str] = frozenset()
    with _read_errors():
        fmt, container = _identify(data)
        if isinstance(container, _Text):
            return _open_csv(container, limits)
        if isinstance(container, zipfile.ZipFile):
            plain = guard_zip(container, fmt, limits)
        else:
            guard_xls(container, limits)
    sheets: list[tuple[str, str | None]] = []
    if fmt == "xlsx" and isinstance(container, zipfile.ZipFile):
        sheets = [(name, part) for name, part in worksheet_parts(container) if part in plain]
        sheets = [(name, part) for name, part in sheets if container.getinfo(part).file_size > SLICE_ABOVE]  # type: ignore[arg-type]
    large = {part: name for name, part in sheets if part is not None}
    return _open_workbook(data, fmt, limits, pick, container if large else None, large)  # type: ignore[arg-type]


@contextlib.contextmanager
def _read_errors() -> Iterator[None]:
    """Whatever a hostile file trips in the checks, the caller gets a RosterReadError, never a traceback."""
    try:
        yield
    except RosterReadError:
        raise
    except MemoryError:
        raise RosterReadError("too_large", "out of memory while checking the file") from None
    except Exception as exc:
        raise RosterReadError("damaged", f"{type(exc).__name__}: {exc}"[:200]) from None


# --- Identification -------------------------------------------------------------------------------

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@dataclass(frozen=True)
class _Text:
    text: str
    encoding: str


def _identify(data: bytes) -> tuple[str, zipfile.ZipFile | Ole | _Text]:
    if not data:
        raise RosterReadError("empty", "0 bytes")
    if data.startswith(_ZIP_MAGIC):
        archive = _open_zip(data)
        return _zip_format(archive), archive
    if data.startswith(_OLE_MAGIC):
        ole = Ole(data)
        names = {entry.name.lower() for entry in ole.entries}
        if {"encryptedpackage", "encryptioninfo"} & names:
            raise RosterReadError("encrypted", "OLE2 EncryptedPackage")
        if not {"workbook", "book"} & names:
            raise RosterReadError("not_spreadsheet", "OLE2 file without a workbook stream")
        return "xls", ole
    text = _decode_text(data)
    if text is None:
        raise RosterReadError("not_spreadsheet")
    return "csv", text


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise RosterReadError("damaged", f"zip: {exc}") from None
    names = [info.filename for info in archive.infolist()]
    if len(names) != len(set(names)):
        raise RosterReadError("damaged", "zip lists a member twice")
    return archive


def _zip_format(archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    if "mimetype" in names and _read_head(archive, "mimetype", 200).strip().startswith(_ODS_MIMETYPE):
        return "ods"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "[Content_Types].xml" in names:
        content_types = _read_head(archive, "[Content_Types].xml", 64 * 1024)
        if b"sheet.binary" in content_types:
            return "xlsb"
        if b"spreadsheetml" in content_types:
            return "xlsx"
    raise RosterReadError("not_spreadsheet", "zip without a spreadsheet inside")


def _read_head(archive: zipfile.ZipFile, name: str, size: int) -> bytes:
    info = archive.getinfo(name)
    if info.flag_bits & 0x1:
        raise RosterReadError("encrypted", f"zip member {name} is encrypted")
    try:
        with archive.open(info) as member:
            return member.read(size)
    except ZIP_ERRORS as exc:
        raise RosterReadError("damaged", f"zip member {name}: {exc}") from None


# --- CSV ------------------------------------------------------------------------------------------

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MARKUP_STARTS = ("<!doctype", "<html", "<?xml", "<table", "<head", "<body", "<meta")


def _decode_text(data: bytes) -> _Text | None:
    """Decode bytes that read as text; None for binary. Excel saves CSV as GBK or UTF-8 with BOM."""
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)  # Excel's "Unicode text" export
    else:
        encodings = ("utf-8", "gb18030")  # GB18030 is a superset of GBK and GB2312
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16":
            text = text.removeprefix("\ufeff")
        if _CONTROL_CHARS.search(text):
            return None
        if text.lstrip()[:20].lower().startswith(_MARKUP_STARTS):
            return None  # an HTML page or XML saved as .xls or .csv by some export tools
        return _Text(text, encoding)
    return None


def _open_csv(source: _Text, limits: Limits) -> Table:
    delimiter = _sniff_delimiter(source.text)
    row_count = _count_csv_rows(source.text, delimiter, limits)
    if row_count == 0:
        raise RosterReadError("empty", "no cells")

    def rows() -> Iterator[list[object]]:
        reader = csv.reader(io.StringIO(source.text, newline=""), delimiter=delimiter)
        for row in itertools.islice(reader, row_count):
            yield [cell if cell else None for cell in row]

    return Table("csv", "", source.encoding, row_count, rows)


#: The delimiters a roster's CSV may use.
_DELIMITERS = ",;\t|"


def _sniff_delimiter(text: str) -> str:
    """The CSV's delimiter: the only one its header line holds, else csv.Sniffer's guess, else a comma."""
    header = text[: text.find("\n")] if "\n" in text else text
    present = [d for d in _DELIMITERS if d in header]
    if len(present) == 1 and '"' not in header:
        return present[0]  # the usual roster: Sniffer's frequency tables cost more than the import's other reading
    sample = text[:8192]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _count_csv_rows(text: str, delimiter: str, limits: Limits) -> int:
    """Number of the last row holding more than blanks, checked against the limits as it goes."""
    last = cells = 0
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if any(cell.strip() for cell in row):
                last = number
                cells += len(row)
            if last > limits.max_rows:
                raise RosterReadError("too_many_rows", f"more than {limits.max_rows} rows")
            if cells > limits.max_cells:
                raise RosterReadError("too_large", f"more than {limits.max_cells} cells")
    except csv.Error as exc:
        raise RosterReadError("damaged", f"csv: {exc}") from None
    return last


# --- Workbooks through python-calamine --------------------------------------------------------------


def _open_workbook(
    data: bytes,
    fmt: str,
    limits: Limits,
    pick: Callable[[list[Table]], Table] | None,
    archive: zipfile.ZipFile | None,
    large: dict[str, str],
) -> Table:
    """Open the first non-empty worksheet (or all, for `pick`). `large` names the worksheet parts
    (part → sheet name) to read in slices: they stand empty while calamine lists the sheets."""
    try:
        opened = workbook_with(data, archive, dict.fromkeys(large, EMPTY_SHEET)) if archive is not None else None
        workbook = python_calamine.CalamineWorkbook.from_filelike(opened or io.BytesIO(data))
        metadata = workbook.sheets_metadata
        if not metadata:
            raise RosterReadError("no_sheet", "the workbook has no sheets")
        parts: dict[int, str] = {}
        for index, listed in enumerate(metadata):
            part = next((p for p, name in large.items() if name == listed.name), None)
            if part is not None:
                parts[index] = part
        if len(parts) != len(large):  # a sheet calamine names otherwise: read them all whole
            workbook, parts, large = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)), {}, {}
        worksheet = python_calamine.SheetTypeEnum.WorkSheet
        visible = python_calamine.SheetVisibleEnum.Visible
        # Visible worksheets first: templates often hide a sheet of drop-down choices in front.
        worksheets = [i for i, sheet in enumerate(metadata) if sheet.typ == worksheet]
        order = sorted(worksheets, key=lambda i: metadata[i].visible != visible)
        tables = []
        for index in order:
            table = None
            if index in parts and archive is not None:
                table = _sliced_table(data, archive, parts[index], index, metadata[index].name, limits)
            if table is None:
                if index in parts:  # a large sheet that cannot be sliced: read whole after all
                    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
                    parts = {}
                sheet = workbook.get_sheet_by_index(index)
                if sheet.height and sheet.start is not None and sheet.end is not None:
                    table = _sheet_table(fmt, sheet, sheet.start, sheet.end, limits)
            if table is not None:
                tables.append(table)
                if pick is None:
                    break
        if tables:
            return pick(tables) if pick is not None else tables[0]
    except RosterReadError:
        raise
    except BaseException as exc:  # pyo3 reports a Rust panic as PanicException, a BaseException
        _raise_read_error(exc)
    raise RosterReadError("empty", "no sheet holds a cell")


def _raise_read_error(exc: BaseException) -> None:
    """What calamine raised (or a zip error while slicing), as a RosterReadError."""
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc
    if isinstance(exc, python_calamine.PasswordError):
        raise RosterReadError("encrypted", str(exc)) from None
    raise RosterReadError("damaged", f"{type(exc).__name__}: {str(exc)[:200]}") from None


def _sheet_table(
    fmt: str, sheet: python_calamine.CalamineSheet, start: tuple[int, int], end: tuple[int, int], limits: Limits
) -> Table:
    row_count, column_count = end[0] + 1, end[1] + 1
    if row_count > limits.max_rows:
        raise RosterReadError("too_many_rows", f"{row_count} rows, more than {limits.max_rows}")
    if row_count * column_count > limits.max_cells:
        raise RosterReadError("too_large", f"{row_count} × {column_count} cells, more than {limits.max_cells}")
    padding: list[object] = [None] * start[1]
    held = [sheet]

    def rows() -> Iterator[list[object]]:
        if not held:
            raise ValueError("the table is closed")
        # iter_rows() already starts at spreadsheet row 1, but at the first used column.
        for raw in held[0].iter_rows():
            yield padding + raw if padding else raw  # type: ignore[operator,misc]

    return Table(fmt, sheet.name, None, row_count, rows, held.clear)


def _sliced_table(
    data: bytes, archive: zipfile.ZipFile, part: str, index: int, name: str, limits: Limits
) -> Table | None:
    """A large worksheet read a slice of rows at a time (see slices.py); None when it cannot be cut,
    or has more rows than allowed (the whole sheet then decides, as for any other)."""
    with _read_errors():
        cut = slice_sheet(archive, part)
    if cut is None or cut.last_row > limits.max_rows:
        return None

    def rows() -> Iterator[list[object]]:
        done = 0  # rows yielded so far
        try:
            for workbook in cut.workbooks(data):
                sheet = python_calamine.CalamineWorkbook.from_filelike(workbook).get_sheet_by_index(index)
                del workbook
                if not sheet.height or sheet.start is None:
                    continue
                (first, column), _ = sheet.start, sheet.end
                if first < done:
                    raise RosterReadError("damaged", f"{part} has cells outside their rows")
                yield from itertools.repeat([], first - done)
                padding: list[object] = [None] * column
                for raw in sheet.to_python(skip_empty_area=True):
                    yield padding + raw if padding else raw  # type: ignore[operator,misc]
                done = sheet.end[0] + 1  # type: ignore[index]
        except RosterReadError:
            raise
        except BaseException as exc:
            _raise_read_error(exc)

    return Table("xlsx", name, None, cut.last_row, rows)
