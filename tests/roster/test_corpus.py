"""Every file of the shared spreadsheet corpus opens, or is refused with a known code: never a
traceback, a hang or unbounded memory. Files built to exhaust a parser also run in a child process
with a capped address space, so a guard that lets one through fails the test instead of killing pytest.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest

from service_app.roster.reading import ERROR_CODES, RosterReadError, open_table

from .test_reading import open_isolated

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "xlsx-corpus"
TIME_LIMIT = 10  # seconds; a hang guard, not a benchmark

#: Outcomes that matter for safety or for the message the user sees; other files may open or not.
EXPECTED = {
    "apache__poc-xmlbomb.xlsx": "unsafe_xml",
    "apache__poc-xmlbomb-empty.xlsx": "unsafe_xml",
    "apache__protected_passtika.xlsx": "encrypted",
    "apache__crash-9bf3cd4bd6f50a8a9339d363c2c7af14b536865c.xlsx": "encrypted",
    "qaxos__encryptAES.xlsx": "encrypted",
    "qaxos__encryptSHA512.xlsx": "encrypted",
    "tafia__pass_protected.xlsx": "encrypted",
    "tafia__pass_protected.ods": "encrypted",
    "tafia__issue_594_dos.ods": "too_large",
    "qaxos__BadWorkbook.xlsx": "no_sheet",
    "tafia__empty_sheet.xlsx": "empty",
    "apache__xxe_in_schema.xlsx": "rows 10",  # the schema's URL is never fetched
    "tafia__OOM_alloc.xls": "rows 28",
    "tafia__OOM_alloc2.xls": "rows 192",
    "tafia__date_1904.xlsx": "rows 3",
    "tafia__header-row.xlsx": "rows 10",  # starts at row 3: two blank rows keep the numbering
}
#: Built to exhaust memory in a careless reader: also checked in a child process.
HOSTILE = {
    "tafia__issue_594_dos.ods",
    "tafia__OOM_alloc.xls",
    "tafia__OOM_alloc2.xls",
    "apache__poc-xmlbomb.xlsx",
    "apache__poc-xmlbomb-empty.xlsx",
    "apache__poc-shared-strings.xlsx",
    "apache__MalformedSSTCount.xlsx",
}


def corpus_files() -> list[str]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as lines:
        return [row["file"] for row in csv.DictReader(lines, delimiter="\t")]


FILES = corpus_files()
pytestmark = pytest.mark.skipif(not FILES, reason=f"the shared spreadsheet corpus is not at {CORPUS}")


def outcome(data: bytes) -> str:
    """'rows N' for a file that opens, else its RosterReadError code; any other exception propagates."""
    try:
        table = open_table(data)
        return f"rows {sum(1 for _ in table.rows())}"
    except RosterReadError as exc:
        assert exc.code in ERROR_CODES
        return exc.code


def outcome_within(data: bytes, seconds: float) -> str:
    """outcome() in a worker thread, failing the test if it is still running after `seconds`."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["outcome"] = outcome(data)
        except BaseException as exc:  # handed to the test thread below
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"open_table still running after {seconds} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return str(result["outcome"])


@pytest.mark.parametrize("name", FILES or ["(none)"])
def test_corpus_file_opens_or_is_refused(name):
    got = outcome_within((CORPUS / name).read_bytes(), TIME_LIMIT)
    assert got.startswith("rows ") or got in ERROR_CODES
    if name in EXPECTED:
        assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_corpus_file_in_bounded_memory(name):
    data = (CORPUS / name).read_bytes()
    assert open_isolated(data) == outcome(data)
