"""The school's status-change API (学籍变动): ask for a change, follow it, serve its proofs.

One endpoint for every change (suspension, resumption, dropout, death, grade skip …): the
body names the change and carries the fields that change needs. Thin: resolve the hosted
school, call the use case, shape the answer.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from datetime import date
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.school.adapters import status_repository
from services.school.config import PROOF_BODY_LIMIT
from services.school.entrypoints.http import (
    ObjectReader,
    ReaderOfSchool,
    RegistrarOfSchool,
    SchoolDep,
    SettingsDep,
    TodayDep,
)
from services.school.service_layer import status_changes
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.registration import ProofDocument
from shared.contracts.status import (
    REQUESTABLE,
    Ground,
    PlacementKind,
    StatusChangeFacts,
    StatusChangeKind,
)
from shared.db.types import SQL_INT_MAX
from shared.federation.config import Tier
from shared.rules import load_province_rules
from shared.runtime.app import ProofIndex, RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import NotFound
from shared.security.authz import OBJECT, READERS, Access, requires

# Proofs of a status change (a death certificate, a medical note) are not basic info.
ProofReader = Annotated[Access, requires(*READERS, unit=OBJECT, barred=[Tier.NATIONAL])]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["status changes"])

# Changes that place the student in a grade: the request must name it.
NEEDS_GRADE = frozenset({"resume", "return", "return_from_abroad", "skip_grade", "repeat_grade"})


class StatusChangeCreate(BaseModel):
    """A status change of a student on the roster, with its proof documents (base64)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_number: str = Field(min_length=2, max_length=19)
    change: StatusChangeKind = Field(description=", ".join(get_args(StatusChangeKind)))
    effective_on: date = Field(description="the day the change takes (took) effect")
    reason: str = Field(min_length=1, max_length=500, description="the application's reason")
    target_grade: int | None = Field(
        default=None,
        ge=1,
        le=12,
        description="resume, return, return_from_abroad: the grade the student joins; "
        "skip_grade, repeat_grade: the new grade",
    )
    ground: Ground | None = Field(
        default=None,
        description="suspend: illness | notifiable_disease | personal; decease: death "
        "(missing or detained students are not cancelled: HA art. 16)",
    )
    compulsory: bool = Field(
        default=False, description="suspend: ordered by the school (责令休学, ZJ art. 14)"
    )
    special_education: bool = Field(
        default=False, description="a special-education / inclusive student (N2025 art. 14)"
    )
    attending_school: str | None = Field(
        default=None,
        pattern=r"^[1-8][0-9]{9}$",
        description="place: the school the student attends while registered here "
        "(N2013 art. 17; HA art. 12; ZJ art. 13)",
    )
    placement: PlacementKind | None = Field(
        default=None, description="place: special_education | inclusive | reform_school"
    )
    proofs: list[ProofDocument] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _grade_named(self) -> StatusChangeCreate:
        if self.change in NEEDS_GRADE and self.target_grade is None:
            raise ValueError(f"{self.change} needs target_grade: the grade the student joins")
        return self

    def facts(self) -> StatusChangeFacts:
        return StatusChangeFacts(
            change=self.change,
            effective_on=self.effective_on,
            target_grade=self.target_grade,
            ground=self.ground,
            compulsory=self.compulsory,
            special_education=self.special_education,
            attending_school=self.attending_school,
            placement=self.placement,
        )


class StatusChangeAccepted(BaseModel):
    change_id: uuid.UUID
    status: Literal["submitted"] = "submitted"
    links: dict[str, str]


class StatusProofRead(BaseModel):
    index: int
    kind: str
    filename: str
    size: int


class StatusChangeRead(BaseModel):
    """A change and where it stands: ``submitted``, ``applied`` (with the status and grade
    before and after) or ``rejected`` (``rule``, ``article``, ``decision_reason``)."""

    change_id: uuid.UUID
    school_code: str
    student_number: str
    change: str
    status: Literal["submitted", "applied", "rejected"]
    effective_on: date
    facts: StatusChangeFacts
    reason: str
    proofs: list[StatusProofRead]
    outcome: dict[str, Any] | None = Field(
        None,
        description="from/to status and grade; suspended_until; report_due_on and "
        "reported_late for a death; stopped_transfer_id",
    )
    decision_reason: str | None
    rule: str | None
    article: str | None
    decided_by: str | None
    submitted_at: Timestamp
    decided_at: Timestamp | None


class StatusChangePage(BaseModel):
    items: list[StatusChangeRead]
    total: int
    limit: int
    offset: int


class ProofRequirementRead(BaseModel):
    """Proof kinds a change must carry, on one ground or every ground (``ground`` null)."""

    change: str
    ground: str | None = Field(
        description="the change's ground; for resume / extend_suspension, the ground of the "
        "suspension it ends or continues; null: every ground"
    )
    kinds: list[str]
    article: str
    note: str = Field(description="what the proof must say, in Chinese, where the rule says")


class StatusChangeKindRead(BaseModel):
    """One change a school may ask for, as its province handles it."""

    change: str
    required_proofs: list[str] = Field(
        description="proof kinds the province requires whatever the ground"
    )
    proofs_by_ground: list[ProofRequirementRead] = Field(
        description="proof kinds required on a ground, each with its article (HA art. 13, "
        "LS 2(二), ZJ art. 14); for resume / extend_suspension the suspension's ground"
    )
    needs_grade: bool = Field(description="the request names target_grade")
    recorded_by_authority: bool = Field(
        description="the authority records it (登记 / 备案) instead of an officer deciding"
    )


class StatusChangeRulesRead(BaseModel):
    province: str
    kinds: list[StatusChangeKindRead]
    suspension_months: int


@router.get(
    "/schools/{school_code}/status-change-rules",
    response_model=StatusChangeRulesRead,
    summary="The changes a school may ask for and the proofs its province requires for each",
    dependencies=[ReaderOfSchool],
)
async def status_change_rules(school: SchoolDep, runtime: RuntimeDep) -> StatusChangeRulesRead:
    """From the province's rules file (``config/provinces/<code>.toml``, ``[status_change]``):
    what ``POST .../status-changes`` refuses with ``proof_required`` (and the article) when
    missing — the proofs of every ground, and those of each ground (``proofs_by_ground``)."""
    rules = load_province_rules(runtime.settings.federation_config, school.code)
    changes = rules.status_change
    return StatusChangeRulesRead(
        province=school.province,
        kinds=[
            StatusChangeKindRead(
                change=kind,
                required_proofs=list(changes.required_proofs.get(kind, ())),
                proofs_by_ground=[
                    ProofRequirementRead(
                        change=r.change,
                        ground=r.ground,
                        kinds=list(r.kinds),
                        article=r.article,
                        note=r.note,
                    )
                    for r in changes.proofs
                    if r.change == kind
                ],
                needs_grade=kind in NEEDS_GRADE,
                recorded_by_authority=kind in changes.recorded_by_authority,
            )
            for kind in get_args(StatusChangeKind)
            if kind in REQUESTABLE
        ],
        suspension_months=changes.suspension.months,
    )


@router.post(
    "/schools/{school_code}/status-changes",
    max_body_size=PROOF_BODY_LIMIT,  # base64 proofs (decision 0026)
    status_code=202,
    response_model=StatusChangeAccepted,
    responses={413: {"description": "The proofs are too large together (proofs_too_large)"}},
    summary="Ask for a change of a student's status (学籍变动)",
    dependencies=[audited("request_status_change", "student", object_id=None), RegistrarOfSchool],
)
async def submit_status_change(
    school: SchoolDep,
    body: StatusChangeCreate,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> StatusChangeAccepted:
    """Send a status change to the school's registry authority; the proofs stay here.

    404 when the student is not on the roster; 409 ``student_transferred_out`` or
    ``change_pending`` (one change per student at a time); 422 ``proof_required`` when a proof
    the province requires for this change is missing (e.g. ``hospital_certificate`` for a
    suspension, ``death_certificate`` for a death), a field error when ``target_grade`` is
    missing for a change that places the student in a grade; 413 when the proofs are too
    large. The authority decides (or records it, where the province says so), national checks
    the registry and answers: poll ``self``.
    """
    rules = load_province_rules(runtime.settings.federation_config, school.code)
    change_id = await status_changes.submit_change(
        uow,
        school,
        body.student_number.strip().upper(),
        body.facts(),
        body.reason,
        body.proofs,
        rules.status_change,
        max_proof_bytes=settings.max_proof_bytes,
    )
    return StatusChangeAccepted(
        change_id=change_id, links={"self": f"/api/v1/status-changes/{change_id}"}
    )


@router.get(
    "/schools/{school_code}/status-changes",
    response_model=StatusChangePage,
    summary="A school's status changes, newest first",
    dependencies=[audited("list", "status_change", object_id="student_number"), ReaderOfSchool],
)
async def list_status_changes(
    school: SchoolDep,
    runtime: RuntimeDep,
    student_number: Annotated[str | None, Query(max_length=19)] = None,
    status: Annotated[Literal["submitted", "applied", "rejected"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> StatusChangePage:
    async with runtime.sessions() as session:
        rows, total = await status_repository.list_changes(
            session,
            school.code,
            student_number=student_number,
            status=status,
            limit=limit,
            offset=offset,
        )
        proofs = await status_repository.proofs(session, [r.change_id for r in rows])
    return StatusChangePage(
        items=[_read(row, proofs) for row in rows], total=total, limit=limit, offset=offset
    )


class ExpiredSuspensionRead(BaseModel):
    student_number: str
    name: str
    grade: int
    class_name: str | None
    suspended_until: date


class ExpiredSuspensionPage(BaseModel):
    """Students still suspended after their suspension ended: the school asks them back or
    files an extension (HA art. 13(三): 督促学生复学; LS 2(二)3; ZJ art. 14)."""

    as_of: date
    items: list[ExpiredSuspensionRead]
    total: int
    limit: int
    offset: int


@router.get(
    "/schools/{school_code}/status-changes/expired-suspensions",
    response_model=ExpiredSuspensionPage,
    summary="Students still suspended after their suspension ended",
    dependencies=[audited("list", "student", object_id=None), ReaderOfSchool],
)
async def expired_suspensions(
    school: SchoolDep,
    runtime: RuntimeDep,
    today: TodayDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> ExpiredSuspensionPage:
    """Each student on the roster still ``suspended`` whose suspension ended before today
    (Beijing date), longest over first."""
    async with runtime.sessions() as session:
        rows, total = await status_repository.expired_suspensions(
            session, school.code, today, limit=limit, offset=offset
        )
    return ExpiredSuspensionPage(
        as_of=today,
        items=[ExpiredSuspensionRead.model_validate(row._mapping) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/status-changes/{change_id}",
    response_model=StatusChangeRead,
    summary="Where a status change stands",
    dependencies=[audited("read", "status_change")],
)
async def read_status_change(
    change_id: uuid.UUID, runtime: RuntimeDep, access: ObjectReader
) -> StatusChangeRead:
    async with runtime.sessions() as session:
        row = await status_changes.get_change(
            session, change_id, access.sees(Tier.SCHOOL, runtime.hosts)
        )
        proofs = await status_repository.proofs(session, [row.change_id])
    return _read(row, proofs)


@router.get(
    "/status-changes/{change_id}/proofs/{index}",
    summary="Download one proof of a status change (for the authority and the archive)",
    dependencies=[audited("read", "status_change_proof", object_id="change_id")],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def read_status_proof(
    change_id: uuid.UUID, index: ProofIndex, runtime: RuntimeDep, access: ProofReader
) -> Response:
    """The ``index``-th proof document of a status change of a school hosted here."""
    async with runtime.sessions() as session:
        row = await status_changes.get_change(
            session, change_id, access.sees(Tier.SCHOOL, runtime.hosts)
        )
        proof = await status_repository.proof(session, row.change_id, index)
    if proof is None:
        raise NotFound(f"status change {change_id} has no proof {index}", rule="proof_not_found")
    # Whoever reads registration data is accountable (ZJ art. 30): log the access.
    log.info("proof %d of status change %s downloaded", index, change_id)
    media_type = mimetypes.guess_type(proof.filename)[0] or "application/octet-stream"
    disposition = f"attachment; filename*=UTF-8''{quote(proof.filename)}"
    return Response(
        proof.content, media_type=media_type, headers={"Content-Disposition": disposition}
    )


def _read(row: Any, proofs: list[Any]) -> StatusChangeRead:
    return StatusChangeRead(
        change_id=row.change_id,
        school_code=row.school_code,
        student_number=row.student_number,
        change=row.change,
        status=row.status,
        effective_on=row.effective_on,
        facts=row.facts,
        reason=row.reason,
        proofs=[
            StatusProofRead(index=p.position, kind=p.kind, filename=p.filename, size=p.size)
            for p in proofs
            if p.change_id == row.change_id
        ],
        outcome=row.outcome,
        decision_reason=row.decision_reason,
        rule=row.rule,
        article=row.article,
        decided_by=row.decided_by,
        submitted_at=row.submitted_at,
        decided_at=row.decided_at,
    )
