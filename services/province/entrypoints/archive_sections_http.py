"""Archive sections 3-7 as a school writes them through the province's API (N2013 art. 7; ZJ
arts. 8, 21): one entry, a section's entries, the kinds it may write (with the province's own
items), and a class's sheet at once. Thin: resolve the school, call the use case, shape the
answer. Only the school holding a student's live archive writes (404 otherwise); national
never reads any of it (non-basic data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from services.province.domain.archive import Section
from services.province.domain.archive_sections import EntryKindSpec
from services.province.entrypoints.discipline_http import RegistrarOfSchool
from services.province.entrypoints.http import ArchiveOfSchool, hosted_school
from services.province.entrypoints.schemas import EntryRead
from services.province.service_layer import archive_sections
from shared.audit.recording import audited
from shared.rules import load_province_rules
from shared.runtime.app import UnitOfWorkDep
from shared.runtime.errors import DomainError
from shared.runtime.service import ServiceRuntime
from shared.security.principal import Principal
from shared.spreadsheet import UnreadableFile, detect_format, read_table

_ENTRIES = "/{school_code}/archives/{student_number}/sections/{section}/entries"


class UnsupportedFile(DomainError):
    status_code = 415


class SectionEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        max_length=40,
        description="an entry kind of the section (GET …/archive-kinds): conduct, "
        "term_results, sports, arts, community_service (quality); fitness_test, checkup, "
        "vaccination (health); award (awards); aid (aid); province.<item> (other)",
    )
    fields: dict[str, Any] = Field(description="the kind's fields, by name")


class FieldRead(BaseModel):
    name: str
    type: str
    label: str
    required: bool
    choices: list[str]
    minimum: float | None
    maximum: float | None


class KindRead(BaseModel):
    section: Section
    kind: str
    label: str
    article: str
    once_per_term: bool
    fields: list[FieldRead]

    @classmethod
    def of(cls, spec: EntryKindSpec) -> KindRead:
        return cls(
            section=spec.section,
            kind=spec.kind,
            label=spec.label,
            article=spec.article,
            once_per_term=spec.once_per_term,
            fields=[
                FieldRead(
                    name=f.name,
                    type=f.type,
                    label=f.label,
                    required=f.required,
                    choices=list(f.choices),
                    minimum=None if f.minimum is None else float(f.minimum),
                    maximum=None if f.maximum is None else float(f.maximum),
                )
                for f in spec.fields
            ],
        )


class RowErrorRead(BaseModel):
    row: int = Field(description="as a spreadsheet program numbers it: the header is row 1")
    column: str | None
    code: str
    message: str
    message_zh: str | None
    article: str | None


class UploadReportRead(BaseModel):
    """What an upload stored and every row it refused (good rows are stored: decision 0042)."""

    upload_id: str
    kind: str
    rows: int = Field(description="data rows read (blank rows are skipped)")
    stored: int
    refused_rows: int
    errors: list[RowErrorRead]

    @classmethod
    def of(cls, report: archive_sections.UploadReport) -> UploadReportRead:
        return cls(
            upload_id=report.upload_id,
            kind=report.kind,
            rows=report.rows,
            stored=report.stored,
            refused_rows=report.refused_rows,
            errors=[
                RowErrorRead(
                    row=e.row,
                    column=e.column,
                    code=e.rule,
                    message=e.message,
                    message_zh=e.message_zh,
                    article=e.article,
                )
                for e in report.errors
            ],
        )


def author_of(request: Request) -> archive_sections.Author:
    principal: Principal = request.state.principal  # RegistrarOfSchool authenticated it
    return archive_sections.Author(principal.username, principal.unit)


def build_archive_sections_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/schools", tags=["archive"])

    def rules_of(school_code: str) -> Any:
        return load_province_rules(runtime.settings.federation_config, school_code).archive

    @router.get(
        "/{school_code}/archive-kinds",
        response_model=list[KindRead],
        dependencies=[ArchiveOfSchool],
        summary="The entries a school may write in archive sections 3-7",
    )
    async def list_kinds(school_code: str) -> list[KindRead]:
        """Built-in kinds and the province's own items (section 7, its rules file), each with
        its typed fields."""
        hosted_school(runtime, school_code)
        return [
            KindRead.of(spec) for spec in archive_sections.kinds(rules_of(school_code)).values()
        ]

    @router.post(
        _ENTRIES,
        status_code=201,
        response_model=EntryRead,
        dependencies=[
            audited("record", "archive_entry", object_id="student_number"),
            RegistrarOfSchool,
        ],
        summary="Write an entry of archive sections 3-7 (综合素质、体质健康、获奖、资助、其他)",
    )
    async def write_entry(
        school_code: str,
        student_number: str,
        section: Section,
        body: SectionEntryCreate,
        request: Request,
        uow: UnitOfWorkDep,
    ) -> EntryRead:
        """Refused, with the field and the article: ``archive_kind_unknown``,
        ``archive_field_missing``, ``archive_field_unknown``, ``archive_date_in_future``,
        ``archive_number_out_of_range``, ``archive_choice_invalid``, ``archive_term_invalid``,
        ``archive_result_invalid`` (422); ``archive_term_entry_exists`` (409: one term's
        results or conduct once); 404 ``archive_not_found`` / ``archive_transferred``."""
        school = hosted_school(runtime, school_code)
        spec = archive_sections.spec_of(rules_of(school.code), section, body.kind)
        row = await archive_sections.write(
            uow.session,
            school.province,
            school.code,
            student_number,
            spec,
            body.fields,
            author_of(request),
            runtime.clock.today(),
            runtime.clock.now(),
        )
        return EntryRead.model_validate(row)

    @router.get(
        _ENTRIES,
        response_model=list[EntryRead],
        dependencies=[
            audited("list", "archive_entry", object_id="student_number"),
            ArchiveOfSchool,
        ],
        summary="One section of a student's live archive",
    )
    async def list_entries(
        school_code: str, student_number: str, section: Section
    ) -> list[EntryRead]:
        school = hosted_school(runtime, school_code)
        entries = await archive_sections.section_entries(
            runtime.sessions, school.province, school.code, student_number, section
        )
        return [EntryRead.model_validate(e) for e in entries]

    @router.post(
        "/{school_code}/archive-uploads",
        response_model=UploadReportRead,
        dependencies=[audited("upload", "archive_entry"), RegistrarOfSchool],
        responses={415: {"description": "Neither CSV (UTF-8) nor XLSX (unsupported_file)"}},
        summary="A class's term results or check-up from one sheet (成绩、体检批量录入)",
    )
    async def upload(
        school_code: str,
        file: Annotated[UploadFile, File(description=".csv (UTF-8) or .xlsx")],
        request: Request,
        uow: UnitOfWorkDep,
        kind: Annotated[str, Form(description="term_results, checkup, or another kind")],
        term: Annotated[str | None, Form(description="for term results: 2026-2027-1")] = None,
    ) -> UploadReportRead:
        """``multipart/form-data`` with ``file``, ``kind`` and (term results, conduct)
        ``term``. Row 1 is the header: ``学籍号`` (or ``student_number``), then the kind's
        fields by label or name (``体检日期``, ``身高（厘米）`` … for a check-up); for term
        results every other column is a subject (语文, 数学 …) holding a score (0-150) or a
        level (优秀/良好/合格/不合格), a blank cell a subject not taken. Good rows are stored;
        each refused row is reported with its row number, column, code and message
        (decision 0042). A missing column is 422 ``missing_columns``; a file that is neither
        CSV nor XLSX 415 ``unsupported_file``."""
        school = hosted_school(runtime, school_code)
        spec = archive_sections.kinds(rules_of(school.code)).get(kind)
        if spec is None:
            raise DomainError(f"no entry kind {kind}", rule="archive_kind_unknown")
        try:
            form = detect_format(file.file, file.filename)
            report = await archive_sections.upload(
                uow.session,
                school.province,
                school.code,
                spec,
                read_table(file.file, form),
                term,
                author_of(request),
                runtime.clock.today(),
                runtime.clock.now(),
            )
        except UnreadableFile as unreadable:
            raise UnsupportedFile(unreadable.message, rule="unsupported_file") from None
        return UploadReportRead.of(report)

    return router
