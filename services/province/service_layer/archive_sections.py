"""Use case: a school writes archive sections 3-7 of its own students (N2013 art. 7; ZJ arts.
8, 21), one entry at a time or a class's sheet at once.

Entries are rows of ``archive_entry`` like every other section's, so they move with the
archive on a transfer or progression, go into the sending school's backup and across a border
in the hand-over (:mod:`.archive_transfer`), and never reach national (no contract carries
them). Each entry's data names who wrote it (``written_by``: account and unit) and the row's
``recorded_at`` when.

An upload (decision 0042) stores the good rows and reports every refused one (its row number
as a spreadsheet shows it, the column, the rule, the message in English and Chinese): one
class's sheet is mostly right, and a registrar fixes and re-uploads only the refused rows. A
term's results and conduct are one entry per student and term, so a re-upload of the same
rows refuses them (``archive_term_entry_exists``) instead of storing them twice.

Every function runs in the caller's transaction (the request's); none commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.orm import ArchiveEntry
from services.province.adapters.repository import ArchiveRepository
from services.province.adapters.section_repository import SectionRepository
from services.province.domain.archive import Section
from services.province.domain.archive_sections import (
    ARTICLE,
    PROVINCE_ITEM_PREFIX,
    EntryKindSpec,
    FieldSpec,
    FieldType,
    Refused,
    catalogue,
    occurred_on,
    result_value,
    term_reference,
    validate,
    validate_term,
)
from shared import i18n
from shared.db.engine import SessionFactory
from shared.rules import ArchiveItemRule, ArchiveRules
from shared.runtime.errors import Conflict, DomainError, NotFound
from shared.spreadsheet import Cell

log = logging.getLogger(__name__)

WRITABLE = (Section.QUALITY, Section.HEALTH, Section.AWARDS, Section.AID, Section.OTHER)
NUMBER_COLUMNS = ("学籍号", "student_number")
NAME_COLUMNS = ("姓名", "name")


@dataclass(frozen=True)
class Author:
    """Who wrote an entry: the account and its unit (ZJ art. 30: 谁使用、谁负责)."""

    account: str
    unit: str

    def as_data(self) -> dict[str, str]:
        return {"account": self.account, "unit": self.unit}


def province_item(rule: ArchiveItemRule) -> EntryKindSpec:
    """A section-7 item of the rules file as an entry kind."""
    return EntryKindSpec(
        Section.OTHER,
        PROVINCE_ITEM_PREFIX + rule.kind,
        rule.label,
        tuple(
            FieldSpec(
                f.name,
                FieldType(f.type),
                f.label,
                f.required,
                f.choices,
                None if f.minimum is None else Decimal(str(f.minimum)),
                None if f.maximum is None else Decimal(str(f.maximum)),
                f.max_length,
            )
            for f in rule.fields
        ),
        rule.dated_by,
        article=rule.article,
    )


def kinds(rules: ArchiveRules) -> dict[str, EntryKindSpec]:
    """Every kind a school of this province may write."""
    return catalogue(province_item(item) for item in rules.items)


def spec_of(rules: ArchiveRules, section: str, kind: str) -> EntryKindSpec:
    spec = kinds(rules).get(kind)
    if spec is None or spec.section != section:
        raise DomainError(
            f"section {section} has no entry kind {kind}",
            rule="archive_kind_unknown",
            article="N2013 art. 7",
        )
    return spec


def _row(
    archive_id: str,
    spec: EntryKindSpec,
    values: Mapping[str, Any],
    reference: str,
    author: Author,
    now: datetime,
    upload_id: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {**values, "label": spec.label, "written_by": author.as_data()}
    if upload_id is not None:
        data["upload_id"] = upload_id
    return {
        "archive_id": archive_id,
        "section": spec.section,
        "kind": spec.kind,
        "occurred_on": occurred_on(spec, values),
        "recorded_at": now,
        "reference": reference,
        "data": data,
    }


def _reference(spec: EntryKindSpec, values: Mapping[str, Any]) -> str:
    return term_reference(spec.kind, values["term"]) if spec.once_per_term else str(uuid.uuid4())


async def _live_archive_id(
    session: AsyncSession, province: str, school_code: str, student_number: str
) -> str:
    found = await SectionRepository(session, province).live_of(school_code, [student_number])
    if student_number in found:
        return found[student_number]
    if await ArchiveRepository(session, province).latest_backup(school_code, student_number):
        raise NotFound(
            "the archive moved with the student; this school keeps a read-only backup",
            rule="archive_transferred",
        )
    raise NotFound("no archive of this student at this school", rule="archive_not_found")


async def write(
    session: AsyncSession,
    province: str,
    school_code: str,
    student_number: str,
    spec: EntryKindSpec,
    fields: Mapping[str, Any],
    author: Author,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """Add one entry to the live archive of a student of ``school_code``; the row written."""
    checked = validate(spec, fields, today)
    if not checked.ok:
        first = checked.refusals[0]
        named = "; ".join(f"{r.field}: {r.message}" for r in checked.refusals)
        raise DomainError(named, rule=first.rule, article=spec.article)
    archive_id = await _live_archive_id(session, province, school_code, student_number)
    reference = _reference(spec, checked.values)
    repository = SectionRepository(session, province)
    if await repository.referenced([archive_id], spec.kind, reference):
        raise Conflict(
            f"this archive already holds {spec.kind} of term {checked.values['term']}",
            rule="archive_term_entry_exists",
            article=spec.article,
        )
    row = _row(archive_id, spec, checked.values, reference, author, now)
    await repository.add([row])
    log.info("archive %s: %s entry written by %s", archive_id, spec.kind, author.unit)
    return row


async def section_entries(
    sessions: SessionFactory, province: str, school_code: str, student_number: str, section: str
) -> list[ArchiveEntry]:
    """One section of the live archive of a student of ``school_code``."""
    async with sessions() as session:
        archive_id = await _live_archive_id(session, province, school_code, student_number)
        return await SectionRepository(session, province).section(archive_id, section)


# --- uploads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    rule: str
    message: str
    article: str | None

    @property
    def message_zh(self) -> str | None:
        return i18n.message(self.rule)


@dataclass
class UploadReport:
    upload_id: str
    kind: str
    rows: int = 0
    stored: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused_rows(self) -> int:
        return len({e.row for e in self.errors})


@dataclass(frozen=True)
class _Parsed:
    row: int
    student_number: str
    values: dict[str, Any]


class MissingColumns(DomainError):
    """The sheet's header lacks a required column: nothing is read (422)."""


def _header_map(spec: EntryKindSpec, header: Sequence[Cell]) -> tuple[int, dict[str, int], int]:
    """(student-number column, field → column, first column past them) from the header."""
    names = [str(c).strip() if c is not None else "" for c in header]
    number = next((i for i, n in enumerate(names) if n in NUMBER_COLUMNS), None)
    if number is None:
        raise MissingColumns("the sheet has no 学籍号 column", rule="missing_columns")
    columns: dict[str, int] = {}
    for f in spec.fields:
        at = next((i for i, n in enumerate(names) if n in (f.name, f.label)), None)
        if at is not None:
            columns[f.name] = at
    return number, columns, len(names)


def _subjects(header: Sequence[Cell], taken: Iterable[int]) -> dict[int, str]:
    """Term results: every other named column is a subject (语文, 数学 …)."""
    skip = set(taken)
    return {
        i: str(c).strip()
        for i, c in enumerate(header)
        if i not in skip and c is not None and str(c).strip() and str(c).strip() not in NAME_COLUMNS
    }


def _cell(cells: Sequence[Cell], at: int) -> Cell:
    return cells[at] if at < len(cells) else None


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number_text(value: Cell) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def parse_rows(
    spec: EntryKindSpec,
    rows: Iterator[tuple[int, Sequence[Cell]]],
    fixed: Mapping[str, Any],
    today: date,
    report: UploadReport,
) -> list[_Parsed]:
    """Check every row against the kind's fields; keep the good ones, report the others."""
    try:
        _, header = next(rows)
    except StopIteration:
        raise MissingColumns("the sheet is empty", rule="missing_columns") from None
    number_at, columns, _ = _header_map(spec, header)
    subjects = _subjects(header, [number_at, *columns.values()]) if _has_results(spec) else {}
    missing = [
        f.label
        for f in spec.fields
        if f.required
        and f.name not in columns
        and f.name not in fixed
        and f.type != FieldType.RESULTS
    ]
    if missing or (_has_results(spec) and not subjects):
        wanted = ", ".join(missing) or "科目"
        raise MissingColumns(f"the sheet lacks columns: {wanted}", rule="missing_columns")
    good: list[_Parsed] = []
    seen: set[str] = set()
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        report.rows += 1
        parsed = _parse_row(spec, number, cells, number_at, columns, subjects, fixed, today)
        if isinstance(parsed, list):
            report.errors.extend(parsed)
        elif parsed.student_number in seen:
            report.errors.append(
                RowError(number, "学籍号", "duplicate_in_file", "student twice in the file", None)
            )
        else:
            seen.add(parsed.student_number)
            good.append(parsed)
    return good


def _has_results(spec: EntryKindSpec) -> bool:
    return any(f.type == FieldType.RESULTS for f in spec.fields)


def _parse_row(
    spec: EntryKindSpec,
    number: int,
    cells: Sequence[Cell],
    number_at: int,
    columns: Mapping[str, int],
    subjects: Mapping[int, str],
    fixed: Mapping[str, Any],
    today: date,
) -> _Parsed | list[RowError]:
    errors: list[RowError] = []
    student_number = _number_text(_cell(cells, number_at))
    if not student_number:
        errors.append(
            RowError(number, "学籍号", "archive_field_missing", "no student number", None)
        )
    raw: dict[str, Any] = dict(fixed)
    for name, at in columns.items():
        value = _cell(cells, at)
        raw[name] = None if _blank(value) else value
    if subjects:
        raw["results"], result_errors = _row_results(number, cells, subjects, spec.article)
        errors.extend(result_errors)
    checked = validate(spec, raw, today)
    labels = {f.name: f.label for f in spec.fields}
    errors.extend(
        RowError(number, labels.get(r.field, r.field), r.rule, r.message, spec.article)
        for r in checked.refusals
        if not (r.field == "results" and any(e.column in subjects.values() for e in errors))
    )
    return errors or _Parsed(number, student_number, checked.values)


def _row_results(
    number: int, cells: Sequence[Cell], subjects: Mapping[int, str], article: str
) -> tuple[dict[str, Any], list[RowError]]:
    """One row's subject columns: blank cells are subjects the student did not take."""
    results: dict[str, Any] = {}
    errors: list[RowError] = []
    for at, subject in subjects.items():
        value = _cell(cells, at)
        if _blank(value):
            continue
        try:
            results[subject] = result_value(value)
        except Refused as refused:
            errors.append(RowError(number, subject, refused.rule, refused.message, article))
    return results, errors


async def store_upload(
    session: AsyncSession,
    province: str,
    school_code: str,
    spec: EntryKindSpec,
    parsed: Sequence[_Parsed],
    author: Author,
    now: datetime,
    report: UploadReport,
) -> None:
    """Store the parsed rows of students whose live archive is with ``school_code`` (one
    look-up, one insert); report the others."""
    repository = SectionRepository(session, province)
    live = await repository.live_of(school_code, [p.student_number for p in parsed])
    for p in parsed:
        if p.student_number not in live:
            report.errors.append(
                RowError(
                    p.row,
                    "学籍号",
                    "archive_not_found",
                    "no archive of this student at this school",
                    None,
                )
            )
    mine = [p for p in parsed if p.student_number in live]
    held: set[str] = set()
    if spec.once_per_term and mine:
        term = mine[0].values["term"]  # one term per upload (``fixed``)
        held = await repository.referenced(
            [live[p.student_number] for p in mine], spec.kind, term_reference(spec.kind, term)
        )
    rows = []
    for p in mine:
        archive_id = live[p.student_number]
        if archive_id in held:
            report.errors.append(
                RowError(
                    p.row,
                    "学籍号",
                    "archive_term_entry_exists",
                    "this student's entry of the term is already in the archive",
                    spec.article,
                )
            )
            continue
        reference = _reference(spec, p.values)
        rows.append(_row(archive_id, spec, p.values, reference, author, now, report.upload_id))
    await repository.add(rows)
    report.stored = len(rows)
    report.errors.sort(key=lambda e: e.row)
    log.info(
        "archive upload %s at school %s: %d stored, %d rows refused",
        report.upload_id,
        school_code,
        report.stored,
        report.refused_rows,
    )


async def upload(
    session: AsyncSession,
    province: str,
    school_code: str,
    spec: EntryKindSpec,
    rows: Iterator[tuple[int, Sequence[Cell]]],
    term: str | None,
    author: Author,
    today: date,
    now: datetime,
) -> UploadReport:
    """Read a class's sheet of ``spec`` entries; store the good rows, report the others.

    A once-per-term kind (term results, conduct) takes its term from ``term``, one per upload.
    """
    fixed: dict[str, Any] = {}
    if spec.field("term") is not None:
        if not term:
            raise DomainError(
                "name the term the sheet is for", rule="archive_term_required", article=ARTICLE
            )
        if not validate_term(term):
            raise DomainError(
                "a term is like 2026-2027-1", rule="archive_term_invalid", article=ARTICLE
            )
        fixed["term"] = term
    report = UploadReport(str(uuid.uuid4()), spec.kind)
    parsed = parse_rows(spec, rows, fixed, today, report)
    await store_upload(session, province, school_code, spec, parsed, author, now, report)
    return report
