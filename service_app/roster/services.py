"""The import workflow: upload → preview → confirm → result, undo; shared by the web and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from ..audit import record_event
from ..bulk import collector_paused
from ..database import begin_writing
from ..domain.tiers import Role
from ..extensions import db
from ..models import ImportBatch, ImportMapping, ImportStatus, ImportUpload, User
from ..models.types import utcnow
from .apply import ImportConflictError, apply_plan, undo_batch
from .columns import HEADER_SEARCH_ROWS, HeaderRow, find_header
from .plan import ImportOptions, ImportPermissionError, ImportPlan, RosterFormatError, RosterPlanner
from .reading import RosterReadError, Table, open_table
from .xlsx import error_report

log = logging.getLogger(__name__)

SAME_FILE_WINDOW = dt.timedelta(minutes=1)
#: A batch applying for longer than this is taken as interrupted, whichever machine wrote it.
APPLYING_TIMEOUT = dt.timedelta(hours=1)
UNDO_WINDOW = dt.timedelta(days=30)
MAX_STORED_ERRORS = 5000
#: 200,000 data rows, with room for title, header, notes and totals rows around them.
MAX_SHEET_ROWS = 200_000 + HEADER_SEARCH_ROWS + 20

READ_ERRORS = {
    "empty": _l("The file is empty. Check that you chose the right file."),
    "not_spreadsheet": _l("The file is not a spreadsheet. Upload an .xlsx, .xls, .ods or .csv file."),
    "damaged": _l("The file is damaged or is not a spreadsheet. Open it in Excel or WPS, save it again and upload it."),
    "encrypted": _l("The workbook is password-protected. Save it without a password and upload it again."),
    "unsafe_xml": _l("The workbook contains unsafe XML and was refused. Save it again from Excel or WPS."),
    "zip_bomb": _l("The workbook expands to an unreasonable size and was refused."),
    "too_many_rows": _l("The file has more than 200,000 rows. Split it into smaller files."),
    "too_large": _l("The sheet is too large to import. Split it into smaller files."),
    "no_sheet": _l("The workbook has no worksheet with data."),
}


class ImportError_(Exception):
    """An import step that cannot go ahead; `message` is for the user."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def read_error_message(error: RosterReadError) -> str:
    """The user-facing message for a file that cannot be read."""
    return str(READ_ERRORS.get(error.code, READ_ERRORS["damaged"]))


def roster_sheets(tables: list[Table]) -> Table:
    """The first sheet with a roster header, continued by later sheets under the same header.

    An export puts a 说明 cover and a 汇总 summary before one sheet per tier, all tier sheets
    under one header; it imports as one table. A workbook without a recognisable header gives
    its first sheet, so the planner says what is missing. Rows of continuation sheets are
    numbered on from the first sheet's (error rows name the first sheet's numbering).
    """
    found = [(table, header) for table in tables if (header := find_header(table.rows())) is not None]
    if not found:
        return tables[0]
    first, header = found[0]
    more = [(table, h.index) for table, h in found[1:] if h.headers == header.headers]
    if not more:
        return first
    row_count = first.row_count + sum(table.row_count - index - 1 for table, index in more)
    if row_count > MAX_SHEET_ROWS:
        raise RosterReadError("too_many_rows", f"{row_count} rows, more than {MAX_SHEET_ROWS}")

    def rows() -> Iterator[list[object]]:
        yield from first.raw_rows()
        for table, index in more:
            yield from itertools.islice(table.raw_rows(), index + 1, None)

    names = "、".join([first.sheet_name, *(table.sheet_name for table, _ in more)])
    return Table(first.format, names, None, row_count, rows)


def _plan(data: bytes, user: User | None, options: ImportOptions, mapping: dict[int, str] | None = None) -> ImportPlan:
    try:
        table = open_table(data, max_rows=MAX_SHEET_ROWS, pick=roster_sheets)
        with collector_paused():
            return RosterPlanner(user, options, remembered_mapping).plan(table, mapping=mapping)
    except RosterReadError as exc:
        raise ImportError_(read_error_message(exc), "unreadable") from exc
    except RosterFormatError as exc:
        raise ImportError_(str(exc), "no_header") from exc
    except ImportPermissionError as exc:
        raise ImportError_(str(_l("Street office viewers cannot import rosters.")), "forbidden") from exc


def remembered_mapping(header: HeaderRow) -> dict[int, str] | None:
    """The mapping last confirmed for this set of headers, if any."""
    saved = db.session.scalars(sa.select(ImportMapping).where(ImportMapping.signature == header.signature)).first()
    return {int(k): v for k, v in saved.mapping.items()} if saved else None


def _remember_mapping(plan: ImportPlan, user: User | None) -> None:
    """Keep the confirmed mapping for the next file with these headers. One statement inserts or
    replaces it, so two imports of a new header confirmed at once both succeed (reading first and
    then inserting, the second failed on the unique signature); the last one confirmed is kept."""
    if plan.header is None:
        return
    signature = plan.header.signature
    table: sa.Table = ImportMapping.__table__  # type: ignore[assignment]
    before = db.session.scalar(sa.select(table.c.mapping).where(table.c.signature == signature))
    mapping = {str(k): v for k, v in plan.mapping.items()}
    if before == mapping:
        return
    values = {"mapping": mapping, "user_id": user.id if user else None, "updated_at": utcnow()}
    insert: Any = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    saved_id = db.session.execute(
        insert(table)
        .values(signature=signature, headers=list(plan.header.headers), **values)
        .on_conflict_do_update(index_elements=[table.c.signature], set_=values)
        .returning(table.c.id)
    ).scalar_one()
    record_event("import.mapping", "import_mapping", saved_id, before=before, after=mapping, user=user)


def _record_counts(batch: ImportBatch, plan: ImportPlan) -> None:
    batch.total_rows = plan.total_rows
    batch.created_count = plan.count("created")
    batch.updated_count = plan.count("updated")
    batch.unchanged_count = plan.count("unchanged")
    batch.skipped_count = len(plan.invalid_rows)
    batch.error_count = len(plan.errors)
    batch.errors = [e.as_dict() for e in plan.errors[:MAX_STORED_ERRORS]]
    batch.file_format = plan.table_format
    batch.mapping = {str(k): v for k, v in plan.mapping.items()}


def upload_roster(
    data: bytes, file_name: str, user: User | None, options: ImportOptions, *, dedupe: bool = True
) -> tuple[ImportBatch, ImportPlan | None]:
    """Store an upload as a batch and plan it. The same file with the same options twice within a
    minute (a double submit) returns the first batch and no plan."""
    digest = hashlib.sha256(data).hexdigest()
    recent = (
        dedupe
        and db.session.scalars(
            sa.select(ImportBatch)
            .where(ImportBatch.sha256 == digest, ImportBatch.user_id == (user.id if user else None))
            .where(ImportBatch.mode == options.mode, ImportBatch.overwrite_blanks.is_(options.overwrite_blanks))
            .where(ImportBatch.skip_invalid.is_(options.skip_invalid))
            .where(
                ImportBatch.default_quarter == options.default_quarter
                if options.default_quarter
                else ImportBatch.default_quarter.is_(None)
            )
            .where(ImportBatch.created_at >= utcnow() - SAME_FILE_WINDOW)
            .where(ImportBatch.status.in_((ImportStatus.PREVIEWED, ImportStatus.APPLIED)))
            .order_by(ImportBatch.id.desc())
        ).first()
    )
    if recent:
        return recent, None
    batch = ImportBatch(
        file_name=file_name[:255] or "roster",
        sha256=digest,
        user_id=user.id if user else None,
        mode=options.mode,
        overwrite_blanks=options.overwrite_blanks,
        skip_invalid=options.skip_invalid,
        default_quarter=options.default_quarter,
        upload=ImportUpload(data=data),
    )
    db.session.add(batch)
    try:
        plan = _plan(data, user, options)
    except ImportError_ as exc:
        batch.status, batch.failure = ImportStatus.FAILED, exc.message
        db.session.flush()
        record_event(
            "import.upload",
            "import_batch",
            batch.id,
            after={"file": batch.file_name, "failure": exc.message},
            user=user,
        )
        raise
    _record_counts(batch, plan)
    db.session.flush()
    record_event(
        "import.upload", "import_batch", batch.id, after={"file": batch.file_name, "sha256": digest}, user=user
    )
    return batch, plan


def _upload_bytes(batch: ImportBatch) -> bytes:
    """The batch's uploaded file, in one query (through `batch.upload` it takes two: the row, then
    its deferred bytes)."""
    data = db.session.scalar(sa.select(ImportUpload.data).where(ImportUpload.batch_id == batch.id))
    if data is None:
        raise ImportError_(str(_l("The uploaded file is no longer kept. Upload it again.")), "state")
    return data


def batch_options(batch: ImportBatch) -> ImportOptions:
    """The options a batch was uploaded with."""
    return ImportOptions(batch.mode, batch.overwrite_blanks, batch.skip_invalid, batch.default_quarter)


def batch_mapping(batch: ImportBatch) -> dict[int, str] | None:
    return {int(k): v for k, v in batch.mapping.items()} if batch.mapping else None


def preview_batch(batch: ImportBatch, mapping: dict[int, str] | None = None) -> ImportPlan:
    """Plan the stored upload again, as its uploader (with a changed mapping, if given)."""
    if batch.status != ImportStatus.PREVIEWED:
        raise ImportError_(str(_l("This import is no longer waiting for confirmation.")), "state")
    plan = _plan(_upload_bytes(batch), batch.user, batch_options(batch), mapping or batch_mapping(batch))
    _record_counts(batch, plan)
    return plan


def change_mapping(batch: ImportBatch, mapping: dict[int, str], user: User) -> ImportPlan:
    """Preview again with the user's mapping, and record the change."""
    before = batch.mapping
    plan = preview_batch(batch, mapping)
    record_event("import.remap", "import_batch", batch.id, before=before, after=batch.mapping, user=user)
    return plan


def _claim(batch: ImportBatch, expected: ImportStatus, new: ImportStatus, **values: Any) -> None:
    """Move a batch from one status to another atomically: of two requests at once, one wins."""
    table: sa.Table = ImportBatch.__table__  # type: ignore[assignment]
    result: Any = db.session.execute(
        sa.update(table)
        .where(table.c.id == batch.id, table.c.status == expected.value)
        .values(status=new.value, **values)
    )
    if result.rowcount != 1:
        raise ImportError_(str(_l("Someone else changed this import just now. Reload the page.")), "state")
    db.session.refresh(batch)


def confirm_batch(batch: ImportBatch, user: User | None, source: str, plan: ImportPlan | None = None) -> ImportPlan:
    """Apply a previewed batch: all rows, or none when any is invalid (unless the batch skips
    invalid rows). The web plans again, since the roster may have changed since the preview; the CLI
    passes the plan it has just made.

    Two transactions, not one: the claim (previewed → applying, with this process's `host:pid`) is
    committed first, so a process killed while writing leaves a batch that says so
    (`recover_interrupted_imports` marks it failed). The rows and applied status go in the caller's
    transaction; when applying raises, the batch is put back to previewed and committed."""
    if batch.status != ImportStatus.PREVIEWED:
        raise ImportError_(str(_l("This import has already been applied, undone or discarded.")), "state")
    if plan is None:
        plan = _plan(_upload_bytes(batch), batch.user, batch_options(batch), batch_mapping(batch))
    _record_counts(batch, plan)
    if plan.errors and not batch.skip_invalid:
        message = _l(
            "Nothing was imported: %(n)s rows have errors. Correct them, or choose to skip invalid rows.",
            n=len(plan.invalid_rows) or len(plan.errors),
        )
        raise ImportError_(str(message), "invalid")
    _claim(batch, ImportStatus.PREVIEWED, ImportStatus.APPLYING, applied_at=utcnow(), applying_owner=process_owner())
    db.session.commit()
    try:
        begin_writing()
        _claim(batch, ImportStatus.APPLYING, ImportStatus.APPLIED, applying_owner=None)
        with collector_paused():
            counts = apply_plan(plan, batch, user.id if user else None, source)
        _remember_mapping(plan, user)
        record_event("import.apply", "import_batch", batch.id, after={"file": batch.file_name, **counts}, user=user)
    except BaseException as exc:
        db.session.rollback()
        _claim(batch, ImportStatus.APPLYING, ImportStatus.PREVIEWED, applied_at=None, applying_owner=None)
        db.session.commit()
        if isinstance(exc, ImportConflictError):
            message = _l("Nothing was imported: some firms were saved by someone else while importing. Preview again.")
            raise ImportError_(str(message), "conflict") from exc
        raise
    return plan


def process_owner() -> str:
    """This process, as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _owner_is_dead(owner: str | None) -> bool:
    """True when `owner` (`host:pid`) is a process of this machine that no longer runs."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def is_interrupted(batch: ImportBatch, now: dt.datetime | None = None) -> bool:
    """A batch left applying by a process that died (on this machine), or applying for too long."""
    if batch.status != ImportStatus.APPLYING:
        return False
    started = batch.applied_at or batch.created_at
    started = started if started.tzinfo else started.replace(tzinfo=dt.UTC)  # SQLite drops the zone
    return _owner_is_dead(batch.applying_owner) or (now or utcnow()) - started > APPLYING_TIMEOUT


def recover_interrupted_imports(now: dt.datetime | None = None) -> int:
    """Mark failed the batches left applying by a process that died: on this machine at once, from
    any machine after APPLYING_TIMEOUT. Nothing of theirs was written (their transaction died with
    them); the file can be imported again. Commits; returns how many."""
    applying = db.session.scalars(sa.select(ImportBatch).where(ImportBatch.status == ImportStatus.APPLYING)).all()
    recovered = 0
    for batch in applying:
        if is_interrupted(batch, now):
            batch.status, batch.applied_at, batch.applying_owner = ImportStatus.FAILED, None, None
            batch.failure = str(
                _l("The import was interrupted (its process stopped) and nothing was written. Import the file again.")
            )
            record_event("import.interrupted", "import_batch", batch.id, after={"file": batch.file_name}, user=None)
            log.warning("import batch %s was interrupted while applying; marked failed", batch.id)
            recovered += 1
    db.session.commit()
    return recovered


def undo_import(batch: ImportBatch, user: User | None, source: str) -> int:
    """Restore what an applied batch created or changed, within 30 days."""
    if batch.status != ImportStatus.APPLIED:
        raise ImportError_(str(_l("Only an applied import can be undone.")), "state")
    applied_at = batch.applied_at or batch.created_at
    applied_at = applied_at if applied_at.tzinfo else applied_at.replace(tzinfo=dt.UTC)  # SQLite drops the zone
    if utcnow() - applied_at > UNDO_WINDOW:
        raise ImportError_(str(_l("Imports can be undone within 30 days; this one is older.")), "state")
    _claim(batch, ImportStatus.APPLIED, ImportStatus.UNDONE, undone_at=utcnow())
    try:
        count = undo_batch(batch, user.id if user else None, source)
    except ImportConflictError as exc:
        names = "、".join(exc.firm_names[:5])
        message = _l(
            "Cannot undo: %(n)s firms were changed after this import (%(names)s). "
            "Undo those changes first or edit the firms by hand.",
            n=len(exc.firm_names),
            names=names,
        )
        raise ImportError_(str(message), "conflict") from exc
    record_event("import.undo", "import_batch", batch.id, after={"firms": count}, user=user)
    return count


def discard_batch(batch: ImportBatch, user: User | None) -> None:
    """Drop a batch that was never applied."""
    if batch.status != ImportStatus.PREVIEWED:
        raise ImportError_(str(_l("Only an import waiting for confirmation can be discarded.")), "state")
    _claim(batch, ImportStatus.PREVIEWED, ImportStatus.DISCARDED)
    record_event("import.discard", "import_batch", batch.id, user=user)


def visible_batches(user: User) -> sa.Select[ImportBatch]:
    """Batches a user may see: its own; admins and supervisors see all."""
    query = sa.select(ImportBatch).order_by(ImportBatch.id.desc())
    if user.role not in (Role.ADMIN, Role.SUPERVISOR):
        query = query.where(ImportBatch.user_id == user.id)
    return query


def may_act_on(batch: ImportBatch, user: User) -> bool:
    """Only the uploader confirms, discards or undoes a batch (and an admin)."""
    return batch.user_id == user.id or user.role == Role.ADMIN


def import_counts(batch: ImportBatch) -> dict[str, Any]:
    """The counts as the result page and the CLI report them."""
    return {
        "created": batch.created_count,
        "updated": batch.updated_count,
        "unchanged": batch.unchanged_count,
        "skipped": batch.skipped_count if batch.skip_invalid else 0,
    }


def build_error_report(batch: ImportBatch) -> bytes:
    """The uploaded rows with a 错误说明 column and every bad cell highlighted (all errors,
    planned again as the uploader, not only those kept on the batch)."""
    data = _upload_bytes(batch)
    try:
        rows = list(open_table(data, max_rows=MAX_SHEET_ROWS, pick=roster_sheets).rows())
    except RosterReadError as exc:
        raise ImportError_(read_error_message(exc), "unreadable") from exc
    header = find_header(rows)
    header_index = header.index if header else 0
    errors = batch.errors
    if batch.error_count > len(errors):
        errors = [e.as_dict() for e in _plan(data, batch.user, batch_options(batch), batch_mapping(batch)).errors]
    return error_report(rows, header_index, errors)
