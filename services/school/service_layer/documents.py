"""Documents the school prints for its students (issue 17, decision 0036).

- 学籍证明 (registration proof; HA art. 11(二) asks for it in a cross-province transfer): who,
  which school, since when, in which status; issued by the school's registrar;
- 学生基本信息表 (basic-information sheet; LS 2(一): the sending school prints it for the
  guardian): the basic info on the roster; any reader of the school may print it, with the
  identity document masked as the API masks it;
- 写实性证明 (factual certificate, ZJ art. 27) of a foreign student who did not finish, and the
  辍学情况报告 (dropout report, N2013 art. 22) from a reported dropout (decision 0037).

The proof, the sheet and the factual certificate are proof-type documents: each carries a
signed statement (QR code) and a short code (``components/documents``). The data is the
roster's (the same rows the API serves); issuing records every document in the register in
the request's transaction, with its audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from components.documents.issuing import Documents, Draft, Issued
from services.school.adapters import repository, status_repository, transfer_repository
from services.school.domain.students import STUDENT_ACTIVE_STATUSES
from services.school.service_layer import duplicates, roster
from shared.federation.config import Federation, School, Tier, UnitRef
from shared.resident_id import InvalidResidentId, validate_resident_id
from shared.runtime.errors import Conflict, NotFound
from shared.security.masking import mask_id_number

_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "grade",
    "enrolled_on",
    "student_number",
    "status",
    "class_name",
)


class StudentDocument(StrEnum):
    """A document about one student, and its template in ``components/documents/templates``."""

    REGISTRATION_PROOF = "registration_proof"
    BASIC_INFO = "basic_info"

    @property
    def template(self) -> str:
        return f"{self.value}.html"


@dataclass(frozen=True)
class Request:
    """Who prints, why, and whether the identity document is masked for them."""

    issued_by: str
    purpose: str | None
    mask_id: bool
    now: datetime
    today: date


def student_facts(row: Row[Any], mask_id: bool) -> dict[str, Any]:
    """What a document prints of a roster row (masked like the API for those who must not
    see identity document numbers: shared/security/masking.py)."""
    facts = {name: getattr(row, name) for name in _FIELDS}
    if mask_id and facts["id_number"]:
        facts["id_number"] = mask_id_number(facts["id_number"])
    return facts


def draft(kind: StudentDocument, school: School, row: Row[Any], request: Request) -> Draft:
    return Draft(
        kind=kind.value,
        unit=UnitRef(tier=Tier.SCHOOL, code=school.code),
        unit_name=school.name,
        subject=row.student_number,
        subject_name=row.name,
        context={
            "student": student_facts(row, request.mask_id),
            "school": {"name": school.name, "code": school.code},
            "purpose": request.purpose,
        },
    )


async def issue_for_student(
    session: AsyncSession,
    documents: Documents,
    school: School,
    student_number: str,
    kind: StudentDocument,
    request: Request,
) -> list[Issued]:
    """Issue ``kind`` for one student on the roster (404 for anyone else)."""
    row = await roster.get_student(session, school.code, student_number)
    return await _issue(session, documents, school, [row], kind, request)


async def issue_for_class(
    session: AsyncSession,
    documents: Documents,
    school: School,
    class_name: str,
    kind: StudentDocument,
    request: Request,
) -> list[Issued]:
    """Issue ``kind`` for every student of a class still holding the school's registration,
    in student-number order; 404 if the class has none."""
    statuses = [str(status) for status in STUDENT_ACTIVE_STATUSES]
    rows = await repository.class_students(session, school.code, class_name, statuses)
    if not rows:
        raise NotFound(f"class {class_name} of school {school.code} has no students")
    return await _issue(session, documents, school, rows, kind, request)


async def _issue(
    session: AsyncSession,
    documents: Documents,
    school: School,
    rows: Sequence[Row[Any]],
    kind: StudentDocument,
    request: Request,
) -> list[Issued]:
    drafts = [draft(kind, school, row, request) for row in rows]
    return await documents.issue(
        session,
        drafts,
        issued_by=request.issued_by,
        purpose=request.purpose,
        now=request.now,
        today=request.today,
    )


# --- the Liangshan forms (附表1, 2, 4): application forms, without a signed statement -------

SUSPENSION_CHANGES = frozenset({"suspend", "extend_suspension", "resume"})


async def transfer_application(
    session: AsyncSession,
    documents: Documents,
    federation: Federation,
    school: School,
    transfer_id: uuid.UUID,
    request: Request,
) -> list[Issued]:
    """附表1 for a transfer this school (the receiving school) started: the student number,
    what the resident ID inside a G number says (birth date, sex), both schools, the grade
    and class asked for and the reason; the guardian fills in the rest by hand."""
    row = await transfer_repository.get_transfer_in(session, str(transfer_id))
    if row is None or row.school_code != school.code:
        raise NotFound(f"transfer {transfer_id} is not known here", rule="transfer_not_found")
    sending = federation.school(row.from_school)
    unknown = dict.fromkeys(("name", "gender", "birth_date", "ethnicity", "id_number"))
    student = {**unknown, "student_number": row.student_number, **_from_number(row.student_number)}
    if request.mask_id and student.get("id_number"):
        student["id_number"] = mask_id_number(student["id_number"])
    context = {
        "student": student,
        "transfer": {
            "from_school": sending.name if sending else row.from_school,
            "to_school": school.name,
            "grade": row.grade,
            "class_name": row.class_name,
            "reason": row.reason,
        },
    }
    return await _issue_form(
        "transfer_application", school, row.student_number, context, documents, session, request
    )


async def status_application(
    session: AsyncSession,
    documents: Documents,
    school: School,
    change_id: uuid.UUID,
    request: Request,
) -> list[Issued]:
    """附表2 for a suspension or resumption this school submitted (409
    ``document_not_applicable`` for another kind of change)."""
    change = await status_repository.get_change(session, str(change_id))
    if change is None or change.school_code != school.code:
        raise NotFound(f"status change {change_id} is not known here", rule="change_not_found")
    if change.change not in SUSPENSION_CHANGES:
        raise Conflict(
            f"the 休（复）学申请表 is for suspensions and resumptions, not {change.change}",
            rule="document_not_applicable",
        )
    row = await roster.get_student(session, school.code, change.student_number)
    facts = student_facts(row, request.mask_id)
    target_grade = (change.facts or {}).get("target_grade") or row.grade
    context = {
        "student": facts,
        "change": {
            "kind": change.change,
            "effective_on": change.effective_on,
            "reason": change.reason,
            "grade": target_grade,
            "class_name": row.class_name,
        },
    }
    return await _issue_form(
        "status_application", school, row.student_number, context, documents, session, request
    )


async def attendance_proof(
    session: AsyncSession,
    documents: Documents,
    school: School,
    resolution_id: uuid.UUID,
    request: Request,
) -> list[Issued]:
    """附表3 for a duplicate resolution this school asked for as the school the student really
    attends (404 for the other school's side, which deletes its record): the student as the
    refused registration recorded them."""
    resolution = await duplicates.read(session, school.code, resolution_id)
    if resolution.role != "real" or resolution.registration_id is None:
        raise NotFound(
            f"duplicate resolution {resolution_id} was not asked for by school {school.code}"
        )
    registration = await repository.get_registration(session, resolution.registration_id)
    if registration is None:
        raise NotFound(f"the registration of resolution {resolution_id} is gone")
    student = {name: getattr(registration, name) for name in _FIELDS if name in _REGISTERED}
    if request.mask_id and student["id_number"]:
        student["id_number"] = mask_id_number(student["id_number"])
    context = {
        "student": {**student, "class_name": None},
        "school": {"name": school.name, "code": school.code},
    }
    return await _issue_form(
        "attendance_proof", school, resolution.student_number, context, documents, session, request
    )


async def factual_certificate(
    session: AsyncSession, documents: Documents, school: School, number: str, request: Request
) -> list[Issued]:
    """写实性证明 (ZJ art. 27) for a foreign student of the school who did not finish the
    planned studies: where and from when they studied, their last grade and status; the
    authority's 核定 is a blank seal box. 409 ``not_a_foreign_student`` for a Chinese
    national, ``still_studying`` for a student still enrolled."""
    row = await roster.get_student(session, school.code, number)
    if row.nationality in ("CHN", "CN", "中国"):
        raise Conflict(
            f"{number} is not a foreign student",
            rule="not_a_foreign_student",
            article=FACTUAL_ARTICLE,
        )
    if row.status == "enrolled":
        raise Conflict(
            f"{number} is still studying", rule="still_studying", article=FACTUAL_ARTICLE
        )
    left_on = await status_repository.last_effective_on(session, school.code, number)
    context = {
        "student": student_facts(row, request.mask_id),
        "school": {"name": school.name, "code": school.code},
        "study": {"left_on": left_on, "last_grade": row.grade, "status": row.status},
    }
    unit = UnitRef(tier=Tier.SCHOOL, code=school.code)
    draft = Draft("factual_certificate", unit, school.name, row.student_number, row.name, context)
    return await documents.issue(
        session,
        [draft],
        issued_by=request.issued_by,
        purpose=request.purpose,
        now=request.now,
        today=request.today,
    )


FACTUAL_ARTICLE = "浙江省中小学学籍管理办法第二十七条"
DROPOUT_CHANGES = frozenset({"report_dropout"})


async def dropout_report(
    session: AsyncSession,
    documents: Documents,
    federation: Federation,
    school: School,
    change_id: uuid.UUID,
    request: Request,
) -> list[Issued]:
    """辍学情况报告 (N2013 art. 22) to the township government and the county's education
    bureau, from a dropout the school reported (409 ``document_not_applicable`` for another
    kind of change); the township is written by hand (the system does not know it)."""
    change = await status_repository.get_change(session, str(change_id))
    if change is None or change.school_code != school.code:
        raise NotFound(f"status change {change_id} is not known here", rule="change_not_found")
    if change.change not in DROPOUT_CHANGES:
        raise Conflict(
            f"the dropout report is for a reported dropout, not {change.change}",
            rule="document_not_applicable",
        )
    row = await roster.get_student(session, school.code, change.student_number)
    county = federation.county(school.county)
    context = {
        "student": student_facts(row, request.mask_id),
        "school": {"name": school.name, "code": school.code},
        "report": {
            "township": None,
            "county_name": county.name if county else school.county,
            "effective_on": change.effective_on,
            "reason": change.reason,
            "grade": row.grade,
            "class_name": row.class_name,
        },
    }
    return await _issue_form(
        "dropout_report", school, row.student_number, context, documents, session, request
    )


_REGISTERED = frozenset({"name", "gender", "birth_date", "id_number", "grade"})


async def security_pledge(
    session: AsyncSession, documents: Documents, school: School, account: str, request: Request
) -> list[Issued]:
    """附表4 for the school (its data manager's account named on it)."""
    context = {"unit": {"name": school.name, "code": school.code}, "account": account}
    return await _issue_form("security_pledge", school, None, context, documents, session, request)


async def _issue_form(
    kind: str,
    school: School,
    subject: str | None,
    context: dict[str, Any],
    documents: Documents,
    session: AsyncSession,
    request: Request,
) -> list[Issued]:
    unit = UnitRef(tier=Tier.SCHOOL, code=school.code)
    draft = Draft(kind, unit, school.name, subject, None, context, signed=False)
    return await documents.issue(
        session,
        [draft],
        issued_by=request.issued_by,
        purpose=request.purpose,
        now=request.now,
        today=request.today,
    )


def _from_number(student_number: str) -> dict[str, Any]:
    """What a G student number says (G + the resident ID, decision 0004): the ID, birth date
    and sex; an L number says nothing."""
    if not student_number.startswith("G"):
        return {}
    try:
        resident = validate_resident_id(student_number[1:])
    except InvalidResidentId:
        return {}
    return {"id_number": resident.number, "birth_date": resident.birth_date, "gender": resident.sex}
