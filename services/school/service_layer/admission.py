"""Bulk admission (批量招生导入): a September intake uploaded as one CSV or XLSX file.

Each row is checked with the single form's rules (and against the other rows: one document
number once). The good rows are registered in batches of ``batch_size`` (one ``ArchiveFiled``
and one ``RegistrationBatchSubmitted`` per batch), the bad ones are kept as the job's error
report; the job, its registrations, its errors and its messages commit together, so an upload
either counts entirely or not at all. Reading and checking run in a worker thread: the event
loop keeps serving while a 100,000-row file is parsed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import IO, Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository
from services.school.config import SchoolSettings
from services.school.domain.admission_file import Cell, Header, HeaderProblem, read_header
from services.school.domain.students import Violation
from services.school.service_layer.admission_rows import CheckedRows, RowError, check_rows
from services.school.service_layer.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from services.school.service_layer.registration import (
    DUPLICATE_RULE,
    new_registration_refusal,
    under_age_refusal,
)
from services.school.service_layer.submission import (
    AuthorityOf,
    Submission,
    prepare_batches,
    store_batches,
)
from shared.audit.recording import annotate
from shared.db.engine import SessionFactory
from shared.federation.config import School
from shared.messaging.uow import UnitOfWork
from shared.rules import RegistrationRules
from shared.runtime.errors import Conflict, NotFound
from shared.spreadsheet import (
    FileFormat,
    UnreadableFile,
    detect_format,
    read_table,
)

REPORT_COLUMNS = ("row", "column", "rule", "reason", "name")


@dataclass(frozen=True)
class Upload:
    """An uploaded intake: read from ``file`` as it is parsed, never held whole in memory."""

    filename: str | None
    file: IO[bytes]
    size: int


@dataclass(frozen=True)
class ParsedFile:
    file_format: FileFormat
    header: Header
    rows: CheckedRows


@dataclass(frozen=True)
class JobView:
    job: Row[Any]
    statuses: dict[str, int]


def parse_upload(upload: Upload, stage: str, today: date, max_rows: int) -> ParsedFile:
    """Read and check the whole file (synchronous: run it in a thread)."""
    try:
        file_format = detect_format(upload.file, upload.filename)
        table = read_table(upload.file, file_format)
        header = read_header(_first_row(table))
        rows = check_rows(header, _capped(table, max_rows), stage, today)  # reads the rest
    except UnreadableFile as error:
        raise UnsupportedMediaType(error.message, rule="unsupported_file") from None
    except HeaderProblem as problem:
        raise InvalidInput([Violation("file", problem.rule, problem.message)]) from None
    if rows.total == 0:
        raise InvalidInput([Violation("file", "empty_file", "the file has no student rows")])
    return ParsedFile(file_format, header, rows)


async def admit_file(
    uow: UnitOfWork,
    reads: SessionFactory,
    school: School,
    upload: Upload,
    *,
    settings: SchoolSettings,
    today: date,
    authority_of: AuthorityOf | None = None,
    rules: RegistrationRules | None = None,
) -> uuid.UUID:
    """Register every good row of ``upload``; return the job id.

    The slow parts (reading, checking, building the messages) run in a worker thread and
    outside any transaction (the look-up of taken numbers reads through ``reads``, a short
    transaction of its own); ``uow``'s transaction starts with the first insert, so a big file
    holds the database (a single connection on SQLite) for the inserts alone, until the
    request commits. A concurrent registration of the same student is still caught by the
    open-registration unique index (409).
    """
    if upload.size > settings.max_upload_bytes:
        raise _too_large(settings)
    parsed = await asyncio.to_thread(
        parse_upload, upload, school.stage, today, settings.max_upload_rows
    )
    async with reads() as session:
        accepted, errors = await _without_taken(session, school.code, parsed)
    accepted, errors = _by_registration_rules(parsed, accepted, errors, rules)
    job_id, now = uuid.uuid4(), datetime.now(UTC)
    batches = await asyncio.to_thread(
        partial(
            prepare_batches,
            batch_size=settings.batch_size,
            now=now,
            job_id=job_id,
            authority_of=authority_of,
        ),
        school,
        accepted,
    )
    await repository.insert_job(
        uow.session, _job_row(job_id, school, upload, parsed, len(accepted), errors, now)
    )
    await repository.insert_job_errors(uow.session, [_error_row(job_id, e) for e in errors])
    try:
        await store_batches(uow.session, batches)
    except repository.DuplicateOpenRegistration:
        raise Conflict(
            "a student of this file was registered at the same time elsewhere; upload again",
            rule=DUPLICATE_RULE,
        ) from None
    return job_id


async def get_job(
    session: AsyncSession, job_id: uuid.UUID, hosts: Callable[[str], bool]
) -> JobView:
    """The job and how its registrations stand now."""
    job = await repository.get_job(session, str(job_id))
    if job is None or not hosts(job.school_code):
        raise NotFound(f"admission job {job_id} is not known here")
    annotate(unit_kind="school", unit_code=job.school_code)
    return JobView(job, await repository.job_statuses(session, str(job_id)))


async def error_report(
    session: AsyncSession, job_id: uuid.UUID, hosts: Callable[[str], bool]
) -> str:
    """The job's refused rows as CSV (UTF-8 with BOM, so spreadsheet programs read Chinese)."""
    await get_job(session, job_id, hosts)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for error in await repository.job_errors(session, str(job_id)):
        writer.writerow(
            [error.row_number, error.column, error.rule, _cell(error.reason), _cell(error.name)]
        )
    return out.getvalue()


def _too_large(settings: SchoolSettings) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the file is larger than {settings.max_upload_bytes} bytes: split the intake",
        rule="file_too_large",
    )


def _first_row(table: Iterator[tuple[int, Sequence[Cell]]]) -> Sequence[Cell]:
    for _number, row in table:
        return row
    raise InvalidInput([Violation("file", "empty_file", "the file is empty")])


def _capped(
    table: Iterator[tuple[int, Sequence[Cell]]], max_rows: int
) -> Iterator[tuple[int, Sequence[Cell]]]:
    for number, row in table:
        if number > max_rows + 1:
            raise PayloadTooLarge(
                f"the file has more than {max_rows} rows: split the intake", rule="too_many_rows"
            )
        yield number, row


async def _without_taken(
    session: AsyncSession, school_code: str, parsed: ParsedFile
) -> tuple[list[Submission], list[RowError]]:
    """Refuse the accepted rows whose document number already holds a place at the school."""
    rows = parsed.rows
    numbers = [s.basic.id_number for s in rows.accepted if s.basic.id_number]
    taken = await repository.taken_id_numbers(session, school_code, numbers)
    if not taken:
        return rows.accepted, rows.errors
    kept = [s for s in rows.accepted if s.basic.id_number not in taken]
    refused = [
        RowError(
            s.source_row or 0,
            parsed.header.label("id_number"),
            DUPLICATE_RULE,
            "already has a pending or approved registration at this school",
            s.basic.name,
        )
        for s in rows.accepted
        if s.basic.id_number in taken
    ]
    return kept, sorted([*rows.errors, *refused], key=lambda e: e.row_number)


def _by_registration_rules(
    parsed: ParsedFile,
    accepted: list[Submission],
    errors: list[RowError],
    rules: RegistrationRules | None,
) -> tuple[list[Submission], list[RowError]]:
    """Refuse the rows in a grade a new registration may not be made in (LS 1(二)) and the
    under-age first-graders whose province asks for a proof (HA art. 4): a file carries no
    proofs, so such a child is registered with the single form, which takes the proof."""
    rules = rules or RegistrationRules()
    refused: list[RowError] = []
    kept: list[Submission] = []
    for submission in accepted:
        basic = submission.basic
        found, column = new_registration_refusal(basic.grade, rules), "grade"
        if found is None:
            found, column = under_age_refusal(basic, rules), "birth_date"
        if found is None:
            kept.append(submission)
            continue
        refused.append(
            RowError(
                submission.source_row or 0,
                parsed.header.label(column),
                found.rule or "",
                found.detail[:500],
                basic.name,
            )
        )
    if not refused:
        return accepted, errors
    return kept, sorted([*errors, *refused], key=lambda e: e.row_number)


def _job_row(
    job_id: uuid.UUID,
    school: School,
    upload: Upload,
    parsed: ParsedFile,
    accepted: int,
    errors: Sequence[RowError],
    now: datetime,
) -> dict[str, Any]:
    return {
        "job_id": str(job_id),
        "school_code": school.code,
        "filename": (upload.filename or "")[:200] or None,
        "file_format": parsed.file_format,
        "total_rows": parsed.rows.total,
        "accepted_rows": accepted,
        "rejected_rows": len({e.row_number for e in errors}),
        "created_at": now,
    }


def _error_row(job_id: uuid.UUID, error: RowError) -> dict[str, Any]:
    return {
        "job_id": str(job_id),
        "row_number": error.row_number,
        "column": error.column[:60],
        "rule": error.rule[:60],
        "reason": error.reason[:500],
        "name": error.name,
    }


def _cell(value: str | None) -> str:
    """Neutralise text a spreadsheet program would run as a formula (CSV injection)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value or ""
