"""The school's HTTP API: registration, the roster, key-field changes and bulk admission.

Routers are thin: resolve the hosted school, call one use case, shape the answer. Field rule
failures are answered 422 in FastAPI's own error shape (``detail[].loc / msg / type``, the
``type`` naming the rule), so a client handles one shape for every invalid field; other
refusals are ``{"detail", "rule"}`` with 404, 409, 413 or 415.
"""

from __future__ import annotations

import io
import mimetypes
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, Response, UploadFile
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters import repository
from services.school.config import PROOF_BODY_LIMIT, UPLOAD_BODY_LIMIT, SchoolSettings
from services.school.domain.graduation import LAST_GRADE, open_year
from services.school.domain.registration import RegistrationStatus
from services.school.domain.students import StudentStatus
from services.school.entrypoints.schemas import (
    AdmissionJobRead,
    DeparturePage,
    DepartureRead,
    KeyFieldChangeAccepted,
    KeyFieldChangeCreate,
    KeyFieldChangeRead,
    OutcomeCounts,
    ProofRead,
    RegistrationAccepted,
    RegistrationLine,
    RegistrationPage,
    RegistrationRead,
    RosterRead,
    RowCounts,
    StudentCreate,
    StudentRead,
)
from services.school.service_layer import admission, key_field_change, registration, roster
from services.school.service_layer.errors import InvalidInput
from services.school.service_layer.submission import AuthorityOf
from shared.audit.recording import annotate, audited
from shared.contracts.students import BasicInfo
from shared.db.types import SQL_INT_MAX
from shared.federation.config import School, Tier, UnitRef
from shared.rules import load_province_rules, registration_authority
from shared.runtime.app import (
    ProofIndex,
    RuntimeDep,
    UnitOfWorkDep,
    refusal,
    require_hosted,
    validation_refusal,
)
from shared.runtime.errors import NotFound
from shared.runtime.service import ServiceRuntime
from shared.security.authz import OBJECT, READERS, Access, PathUnit, Reach, requires
from shared.security.principal import Role

# Multipart framing around the file itself (boundaries, part headers).
_MULTIPART_OVERHEAD = 64 * 1024


async def today(runtime: RuntimeDep) -> date:
    """The date in China (``runtime.clock``, pinned by ``XUEJI_TODAY`` outside production):
    enrolment dates, transfer requests and due dates are compared with it."""
    return runtime.clock.today()


def school_settings(request: Request) -> SchoolSettings:
    settings: SchoolSettings = request.app.state.school_settings
    return settings


async def hosted_school(school_code: str, runtime: RuntimeDep) -> School:
    """The school named in the path, if this instance hosts it (404 otherwise)."""
    require_hosted(runtime, school_code, "school")
    school = runtime.federation.school(school_code)
    if school is None:
        raise NotFound(f"school {school_code} is not served here")
    return school


SchoolDep = Annotated[School, Depends(hosted_school)]

# Who may call what (shared/security/authz.py): the school's registrar acts for the school
# itself; its staff and the levels above read; objects are checked against their school.
THE_SCHOOL = PathUnit("school_code", Tier.SCHOOL)
RegistrarOfSchool = requires(Role.REGISTRAR, unit=THE_SCHOOL, reach=Reach.OWN)
ReaderOfSchool = requires(*READERS, unit=THE_SCHOOL)
ObjectReader = Annotated[Access, requires(*READERS, unit=OBJECT)]
# A key-field change's proofs (hukou booklet, birth certificate) are not basic info.
ProofReader = Annotated[Access, requires(*READERS, unit=OBJECT, barred=[Tier.NATIONAL])]
TodayDep = Annotated[date, Depends(today)]


async def _settings(request: Request) -> SchoolSettings:
    return school_settings(request)


SettingsDep = Annotated[SchoolSettings, Depends(_settings)]

router = APIRouter(prefix="/api/v1")


# --- registration ------------------------------------------------------------------------


def _authority_of(runtime: ServiceRuntime) -> AuthorityOf:
    """Who approves a batch: the school's authority, or its city for a Yi-track senior
    school's first-year list (LS 6; shared.rules.registration_authority)."""

    def authority_of(school: School, grades: Sequence[int]) -> UnitRef:
        config = runtime.settings.federation_config
        return registration_authority(runtime.federation, config, school, grades)

    return authority_of


@router.post(
    "/schools/{school_code}/students",
    max_body_size=PROOF_BODY_LIMIT,  # base64 proofs (decision 0026)
    dependencies=[audited("register", "student"), RegistrarOfSchool],
    status_code=202,
    response_model=RegistrationAccepted,
    responses={413: {"description": "The proofs are too large together (proofs_too_large)"}},
    tags=["registration"],
    summary="Register a newly enrolled student (学籍建立)",
)
async def register_student(
    school: SchoolDep,
    body: StudentCreate,
    uow: UnitOfWorkDep,
    on: TodayDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> RegistrationAccepted:
    """Check the student and apply for a student number.

    Rules (422, ``type`` names the rule): a resident ID must pass GB 11643-1999
    (``resident_id.length`` / ``charset`` / ``division_code`` / ``birth_date`` /
    ``check_character``) and agree with ``birth_date`` (``birth_date_mismatch``) and ``gender``
    (``gender_mismatch``); other document types need an ``id_number``
    (``id_number_required``), ``none`` must not have one (``id_number_unexpected``);
    ``enrolled_on`` is not in the future (``enrolled_on_future``); the grade is taught at the
    school's stage (``grade_stage``). A document number already pending or registered at this
    school is refused with 409 (``duplicate_registration``). Where the province opens new
    registrations in some grades only (LS 1(二): grade 1), another grade is refused 422
    ``new_registration_grade`` with the article: later grades come by progression or transfer.
    Late registrations (N2013 art. 7; LS 1(三)) and under-age first-graders (HA art. 4) are
    flagged on the authority's task, which then waits for an officer. Where the province names
    the proof an under-age first-grader needs (``[registration] under_age_proof``, HA art. 4:
    未经主管教育行政部门批准…), a registration without a proof of that kind is refused 422
    ``under_age_proof_required`` with the article; ``proofs`` (base64, at most 5, together at
    most ``XUEJI_SCHOOL_MAX_PROOF_BYTES`` decoded, else 413) travel to the authority's task,
    which lists them (``GET /api/v1/tasks/{id}``, each item's ``proofs``) and serves them.

    The registration is stored ``pending``: the extended info is filed with the province and
    the basic info sent to the school's registry authority. Poll the ``self`` link.
    """
    basic = BasicInfo.model_validate(body.model_dump(exclude={"extended", "proofs"}))
    rules = load_province_rules(runtime.settings.federation_config, school.code)
    registration_id = await registration.register_student(
        uow,
        school,
        basic,
        body.extended,
        today=on,
        authority_of=_authority_of(runtime),
        rules=rules.registration,
        proofs=body.proofs,
        max_proof_bytes=settings.max_proof_bytes,
    )
    return RegistrationAccepted(
        registration_id=registration_id, links={"self": _registration_link(registration_id)}
    )


@router.get(
    "/registrations/{registration_id}",
    dependencies=[audited("read", "registration")],
    response_model=RegistrationRead,
    tags=["registration"],
    summary="Where a registration stands",
)
async def read_registration(
    registration_id: uuid.UUID, runtime: RuntimeDep, access: ObjectReader
) -> RegistrationRead:
    """``pending``, ``held_for_review`` (national duplicate review), ``approved`` with the
    ``student_number``, or ``rejected`` with ``reason`` and ``rule``."""
    visible = access.sees(Tier.SCHOOL, runtime.hosts)
    async with runtime.sessions() as session:
        row = await registration.get_registration(session, registration_id, visible)
    annotate(unit_kind="school", unit_code=row.school_code)
    return RegistrationRead(
        registration_id=row.registration_id,
        school_code=row.school_code,
        status=row.status,
        student_number=row.student_number,
        reason=row.reason,
        rule=row.rule,
        decided_by=row.decided_by,
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        links={"self": _registration_link(registration_id)},
    )


def _registration_link(registration_id: uuid.UUID) -> str:
    return f"/api/v1/registrations/{registration_id}"


# --- roster ------------------------------------------------------------------------------


@router.get(
    "/schools/{school_code}/students",
    dependencies=[audited("list", "student"), ReaderOfSchool],
    response_model=RosterRead,
    tags=["roster"],
    summary="The roster: students registered at the school",
)
async def list_students(
    school: SchoolDep,
    runtime: RuntimeDep,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    status: StudentStatus | None = None,
    class_name: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=50,
            description="a student number or ID number (exact), or a part of the name",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> RosterRead:
    """Students on the roster, ordered by grade and student number, one page at a time."""
    async with runtime.sessions() as session:
        page = await roster.list_roster(
            session,
            school.code,
            grade=grade,
            status=status,
            limit=limit,
            offset=offset,
            class_name=class_name,
            search=q.strip() if q else None,
        )
    return RosterRead(
        items=[StudentRead.model_validate(row) for row in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


class GradeCountRead(BaseModel):
    grade: int
    enrolled: int


class RosterSummaryRead(BaseModel):
    """The roster at a glance: enrolled students per grade, the school's last grade and the
    class year whose graduating list is open (LS 3(一): until July 30)."""

    enrolled: int
    by_grade: list[GradeCountRead]
    graduating_grade: int
    graduation_year: int


@router.get(
    "/schools/{school_code}/roster-summary",
    dependencies=[audited("summary", "student", object_id=None), ReaderOfSchool],
    response_model=RosterSummaryRead,
    tags=["roster"],
    summary="Enrolled students per grade (one grouped count), for the home page's chart",
)
async def roster_summary(school: SchoolDep, runtime: RuntimeDep, on: TodayDep) -> RosterSummaryRead:
    async with runtime.sessions() as session:
        counts = await repository.enrolled_by_grade(session, school.code)
    return RosterSummaryRead(
        enrolled=sum(counts.values()),
        by_grade=[GradeCountRead(grade=g, enrolled=n) for g, n in counts.items()],
        graduating_grade=LAST_GRADE.get(school.stage, 12),
        graduation_year=open_year(on),
    )


@router.get(
    "/schools/{school_code}/registrations",
    dependencies=[audited("list", "registration"), ReaderOfSchool],
    response_model=RegistrationPage,
    tags=["registration"],
    summary="The school's registrations, newest first",
)
async def list_registrations(
    school: SchoolDep,
    runtime: RuntimeDep,
    status: RegistrationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> RegistrationPage:
    """Registrations of the school (``status=pending`` for those awaiting the authority),
    each with its student's name, grade and where it stands."""
    async with runtime.sessions() as session:
        page = await roster.list_registrations(
            session, school.code, status=status, limit=limit, offset=offset
        )
    return RegistrationPage(
        items=[
            RegistrationLine(
                registration_id=row.registration_id,
                name=row.name,
                grade=row.grade,
                status=row.status,
                student_number=row.student_number,
                rule=row.rule,
                reason=row.reason,
                submitted_at=row.submitted_at,
                links={"self": _registration_link(uuid.UUID(row.registration_id))},
            )
            for row in page.items
        ],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/schools/{school_code}/students/{student_number}",
    dependencies=[audited("read", "student"), ReaderOfSchool],
    response_model=StudentRead,
    tags=["roster"],
    summary="One student on the roster",
)
async def read_student(school: SchoolDep, student_number: str, runtime: RuntimeDep) -> StudentRead:
    async with runtime.sessions() as session:
        row = await roster.get_student(session, school.code, student_number)
    return StudentRead.model_validate(row)


@router.get(
    "/schools/{school_code}/departures",
    dependencies=[audited("list", "departure"), ReaderOfSchool],
    response_model=DeparturePage,
    tags=["roster"],
    summary="The history list: who left for another school, to where and when",
)
async def list_departures(
    school: SchoolDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> DeparturePage:
    """Students who left by a transfer, a progression or a merger, newest first. They are no
    longer on the roster (its single read answers 404 ``student_left_school``); the school
    keeps the province's read-only backup (decision 0043)."""
    async with runtime.sessions() as session:
        page = await roster.departed(session, school.code, limit=limit, offset=offset)
    federation = runtime.federation
    items = []
    for row in page.items:
        to = federation.school(row.to_school)
        backup = f"/api/v1/schools/{school.code}/archive-backups/{row.student_number}"
        items.append(
            DepartureRead(
                student_number=row.student_number,
                name=row.name,
                grade=row.grade,
                kind=row.kind,
                subject_id=row.subject_id,
                to_school=row.to_school,
                to_school_name=to.name if to is not None else None,
                left_on=row.left_on,
                links={"backup": backup},
            )
        )
    return DeparturePage(items=items, total=page.total, limit=limit, offset=offset)


# --- key-field changes -------------------------------------------------------------------


@router.post(
    "/schools/{school_code}/students/{student_number}/key-field-changes",
    max_body_size=PROOF_BODY_LIMIT,  # base64 proofs (decision 0026)
    dependencies=[
        audited("request_change", "student", object_id="student_number"),
        RegistrarOfSchool,
    ],
    status_code=202,
    response_model=KeyFieldChangeAccepted,
    responses={413: {"description": "The proofs are too large together (proofs_too_large)"}},
    tags=["key-field changes"],
    summary="Ask to change a student's key fields: name, identity document, … (关键信息变更)",
)
async def submit_key_field_change(
    school: SchoolDep,
    student_number: str,
    body: KeyFieldChangeCreate,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    on: TodayDep,
) -> KeyFieldChangeAccepted:
    """Send a key-field change with its proof to the school's registry authority.

    The body is JSON; each proof document travels base64-encoded in ``content_base64`` (1-5
    documents, together at most ``XUEJI_SCHOOL_MAX_PROOF_BYTES`` decoded, else 413). A new
    resident ID must pass the registration rules against the recorded birth date and gender
    (422 at ``changes.id_number``); at least one field must really change (``no_change``). One
    change per student at a time (409 ``change_pending``). Poll the ``self`` link: once
    applied, a temporary L number becomes the G number of a newly recorded resident ID.
    Gender, birth date, nationality and ethnicity change the same way where the province's
    rules list them as key fields (``[key_fields] fields``; else 422 ``not_a_key_field``); a
    new gender or birth date must agree with the recorded resident ID. ``hukou_region`` (户籍
    所在地) where the rules list ``hukou_place``: alone (``changes`` empty, else 422
    ``hukou_place_alone``); the authority's approval applies it at the province, national
    never sees it. The proofs stay here, linked from the archive's section 2.
    """
    rules = load_province_rules(runtime.settings.federation_config, school.code)
    change_id = await key_field_change.submit_change(
        uow,
        school,
        student_number.strip().upper(),
        body.changes,
        body.reason,
        body.proofs,
        today=on,
        max_proof_bytes=settings.max_proof_bytes,
        key_fields=rules.key_fields.fields,
        hukou_region=body.hukou_region,
    )
    return KeyFieldChangeAccepted(
        change_id=change_id, links={"self": f"/api/v1/key-field-changes/{change_id}"}
    )


@router.get(
    "/key-field-changes/{change_id}",
    dependencies=[audited("read", "key_field_change")],
    response_model=KeyFieldChangeRead,
    tags=["key-field changes"],
    summary="Where a key-field change stands",
)
async def read_key_field_change(
    change_id: uuid.UUID, runtime: RuntimeDep, access: ObjectReader
) -> KeyFieldChangeRead:
    """``submitted``, ``applied`` (with ``new_student_number``) or ``rejected`` (with
    ``decision_reason`` and ``rule``)."""
    visible = access.sees(Tier.SCHOOL, runtime.hosts)
    async with runtime.sessions() as session:
        row = await key_field_change.get_change(session, change_id, visible)
    annotate(unit_kind="school", unit_code=row.school_code)
    return KeyFieldChangeRead(
        change_id=row.change_id,
        school_code=row.school_code,
        student_number=row.student_number,
        status=row.status,
        changes=row.changes,
        reason=row.reason,
        proofs=[ProofRead(**proof) for proof in row.proofs],
        new_student_number=row.new_student_number,
        decision_reason=row.decision_reason,
        rule=row.rule,
        decided_by=row.decided_by,
        submitted_at=row.submitted_at,
        decided_at=row.decided_at,
    )


@router.get(
    "/key-field-changes/{change_id}/proofs/{index}",
    dependencies=[audited("read", "key_field_change_proof", object_id="change_id")],
    tags=["key-field changes"],
    summary="Download one proof of a key-field change (for the archive's section 2)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def read_key_field_proof(
    change_id: uuid.UUID, index: ProofIndex, runtime: RuntimeDep, access: ProofReader
) -> Response:
    """The ``index``-th proof document of a key-field change of a school hosted here; 404
    ``proof_not_found``. National is barred: proofs are not basic info."""
    async with runtime.sessions() as session:
        proof = await key_field_change.get_proof(
            session, change_id, index, access.sees(Tier.SCHOOL, runtime.hosts)
        )
    media_type = mimetypes.guess_type(proof.filename)[0] or "application/octet-stream"
    disposition = f"attachment; filename*=UTF-8''{quote(proof.filename)}"
    return Response(
        proof.content, media_type=media_type, headers={"Content-Disposition": disposition}
    )


# --- bulk admission ----------------------------------------------------------------------


class UploadLimitRoute(APIRoute):
    """Refuses an upload whose declared length is over the cap before its body is parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            limit = school_settings(request).max_upload_bytes + _MULTIPART_OVERHEAD
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                return refusal(
                    request, 413, "the upload is too large: split the intake", rule="file_too_large"
                )
            return await handler(request)

        return guarded


uploads = APIRouter(prefix="/api/v1", route_class=UploadLimitRoute)


@uploads.post(
    "/schools/{school_code}/admission-jobs",
    max_body_size=UPLOAD_BODY_LIMIT,  # the intake file (decision 0026)
    dependencies=[audited("admit", "student"), RegistrarOfSchool],
    status_code=202,
    response_model=AdmissionJobRead,
    responses={
        413: {"description": "The file is too large or has too many rows"},
        415: {"description": "Neither CSV nor XLSX (unsupported_file)"},
    },
    tags=["bulk admission"],
    summary="Register an intake from a CSV or XLSX file (批量招生导入)",
)
async def create_admission_job(
    school: SchoolDep,
    file: Annotated[UploadFile, File(description="the intake: .csv (UTF-8) or .xlsx")],
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    on: TodayDep,
) -> AdmissionJobRead:
    """Upload the intake as ``multipart/form-data`` with one part ``file``.

    **Formats**: CSV in UTF-8 (a BOM is fine; GBK is refused, save as "CSV UTF-8"), or XLSX
    (first worksheet). Anything else is 415; a file over ``XUEJI_SCHOOL_MAX_UPLOAD_BYTES``
    (32 MB by default) or ``XUEJI_SCHOOL_MAX_UPLOAD_ROWS`` rows is 413.

    **Columns** (row 1 is the header; Chinese or English names; other columns are ignored;
    a missing required column is 422 ``missing_columns`` naming it):

    | 中文 | English | required | values |
    | --- | --- | --- | --- |
    | 姓名 | name | yes | |
    | 性别 | gender | yes | 男/女, male/female |
    | 出生日期 | birth_date | yes | 2015-09-01, 2015/9/1, 20150901, 2015年9月1日, an Excel date |
    | 证件类型 | id_type | no (blank = 居民身份证) | see below |
    | 证件号码 | id_number | yes (may be blank for 无) | |
    | 国籍 | nationality | no (blank = CN) | |
    | 民族 | ethnicity | no | |
    | 年级 | grade | yes | 1-12 or 一年级 … 九年级, 初一 … 初三, 高一 … 高三 |
    | 入学日期 | enrolled_on | yes | as birth_date |
    | 监护人 | guardian_name | no | |
    | 监护人关系 | guardian_relation | with a guardian | |
    | 监护人电话 | guardian_phone | no | |
    | 住址 | address | no | |
    | 户籍地 | hukou_region | no | 6-digit division code |

    ``id_type``: 居民身份证, 护照, 港澳居民来往内地通行证, 台湾居民来往大陆通行证 or 无
    (or resident_id, passport, hk_macao_permit, taiwan_permit, none).

    Every row is checked like the single form, and a document number may appear once in the
    file (``duplicate_in_file``). Good rows are registered in batches; refused rows are listed
    in ``errors.csv`` (row number as shown in a spreadsheet program, the column as written in
    the file, the rule, the reason and the row's name). The job's counts follow the approvals.
    """
    # the spooled file is parsed where it is (on disk past 1 MiB), never read whole into memory
    size = file.file.seek(0, io.SEEK_END)
    upload = admission.Upload(file.filename, file.file, size)
    rules = load_province_rules(runtime.settings.federation_config, school.code)
    job_id = await admission.admit_file(
        uow,
        runtime.sessions,
        school,
        upload,
        settings=settings,
        today=on,
        authority_of=_authority_of(runtime),
        rules=rules.registration,
    )
    return await _admission_job(job_id, uow.session, runtime.hosts)


@router.get(
    "/admission-jobs/{job_id}",
    dependencies=[audited("read", "admission_job")],
    response_model=AdmissionJobRead,
    tags=["bulk admission"],
    summary="An admission job and how its registrations stand",
)
async def read_admission_job(
    job_id: uuid.UUID, runtime: RuntimeDep, access: ObjectReader
) -> AdmissionJobRead:
    async with runtime.sessions() as session:
        return await _admission_job(job_id, session, access.sees(Tier.SCHOOL, runtime.hosts))


async def _admission_job(
    job_id: uuid.UUID, session: AsyncSession, visible: Callable[[str], bool]
) -> AdmissionJobRead:
    view = await admission.get_job(session, job_id, visible)
    job = view.job
    base = f"/api/v1/admission-jobs/{job_id}"
    return AdmissionJobRead(
        job_id=job.job_id,
        school_code=job.school_code,
        filename=job.filename,
        file_format=job.file_format,
        created_at=job.created_at,
        rows=RowCounts(
            total=job.total_rows, accepted=job.accepted_rows, rejected=job.rejected_rows
        ),
        registrations=OutcomeCounts(**view.statuses),
        links={"self": base, "errors": f"{base}/errors.csv"},
    )


@router.get(
    "/admission-jobs/{job_id}/errors.csv",
    dependencies=[audited("read", "admission_job", object_id="job_id")],
    response_class=Response,
    tags=["bulk admission"],
    summary="The refused rows of an admission job, as CSV",
    responses={200: {"content": {"text/csv": {}}}},
)
async def download_admission_errors(
    job_id: uuid.UUID, runtime: RuntimeDep, access: ObjectReader
) -> Response:
    """Columns ``row, column, rule, reason, name``; UTF-8 with BOM (opens in Excel)."""
    visible = access.sees(Tier.SCHOOL, runtime.hosts)
    async with runtime.sessions() as session:
        report = await admission.error_report(session, job_id, visible)
    return Response(
        report,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="admission-{job_id}-errors.csv"'},
    )


# --- errors ------------------------------------------------------------------------------


def install_error_handlers(app: FastAPI) -> None:
    """Answer :class:`InvalidInput` like an invalid body (422 ``validation_failed``)."""

    async def invalid_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidInput)
        errors = [
            {"loc": ("body", *_path(v.field)), "msg": v.message, "type": v.rule}
            for v in exc.violations
        ]
        return validation_refusal(request, errors)

    app.add_exception_handler(InvalidInput, invalid_input)


def _path(field: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in field.split(".")]


routers = [router, uploads]
