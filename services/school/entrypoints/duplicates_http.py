"""The school's duplicate admission resolutions (重复招生处理, LS 2(三)). Thin routers;
refusals are ``{"detail", "rule"}`` (404, 409, 413, 422)."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from services.school.config import PROOF_BODY_LIMIT
from services.school.entrypoints.http import (
    ReaderOfSchool,
    RegistrarOfSchool,
    SchoolDep,
    SettingsDep,
)
from services.school.service_layer import duplicates
from shared.audit.recording import audited
from shared.clock import Timestamp
from shared.contracts.registration import ProofDocument
from shared.federation.config import Tier, UnitRef
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.security.authz import OBJECT, READERS, Access, requires

ProofReader = Annotated[Access, requires(*READERS, unit=OBJECT, barred=[Tier.NATIONAL])]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["duplicates"])


class DuplicateResolutionCreate(BaseModel):
    """The school the student really attends asks national to resolve a duplicate."""

    model_config = ConfigDict(extra="forbid")

    registration_id: uuid.UUID = Field(
        description="this school's registration refused as a duplicate"
    )
    student_number: str = Field(min_length=19, max_length=19)
    other_school: str = Field(
        pattern=r"^[1-8][0-9]{9}$",
        description="the school the refusal named: its record is deleted",
    )
    reason: str = Field(min_length=1, max_length=500)
    proofs: list[ProofDocument] = Field(
        min_length=1,
        max_length=5,
        description="must include kind attendance_proof (学生实际就读证明表, LS 附表3)",
    )


class DuplicateResolutionAccepted(BaseModel):
    resolution_id: uuid.UUID
    status: str = "requested"


class DuplicateResolutionRead(BaseModel):
    resolution_id: uuid.UUID
    school_code: str
    role: str = Field(description="real: this school asked; other: its registration was deleted")
    student_number: str
    registration_id: uuid.UUID | None
    status: str = Field(description="requested | resolved | rejected | refused")
    reason: str
    rule: str | None
    decision_reason: str | None
    requested_at: Timestamp
    decided_at: Timestamp | None


@router.post(
    "/schools/{school_code}/duplicate-resolutions",
    max_body_size=PROOF_BODY_LIMIT,  # base64 proofs (decision 0026)
    status_code=202,
    response_model=DuplicateResolutionAccepted,
    responses={413: {"description": "The proofs are too large together (proofs_too_large)"}},
    summary="Resolve a duplicate admission in favour of this school (重复招生处理)",
    dependencies=[
        audited("request_resolution", "duplicate_resolution", object_id=None),
        RegistrarOfSchool,
    ],
)
async def request_resolution(
    school: SchoolDep,
    body: DuplicateResolutionCreate,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> DuplicateResolutionAccepted:
    """Refused: ``not_a_refused_duplicate``, ``student_number_mismatch``,
    ``attendance_proof_required`` (422), ``duplicate_resolution_pending`` (409)."""
    resolution_id = await duplicates.request_resolution(
        uow,
        school,
        body.registration_id,
        body.student_number,
        body.other_school,
        body.reason,
        body.proofs,
        max_proof_bytes=settings.max_proof_bytes,
        now=runtime.clock.now(),
    )
    return DuplicateResolutionAccepted(resolution_id=resolution_id)


@router.get(
    "/schools/{school_code}/duplicate-resolutions/{resolution_id}",
    response_model=DuplicateResolutionRead,
    summary="Where a duplicate resolution stands",
    dependencies=[audited("read", "duplicate_resolution"), ReaderOfSchool],
)
async def read_resolution(
    school: SchoolDep, resolution_id: uuid.UUID, runtime: RuntimeDep
) -> DuplicateResolutionRead:
    async with runtime.sessions() as session:
        row = await duplicates.read(session, school.code, resolution_id)
    return DuplicateResolutionRead.model_validate(row, from_attributes=True)


@router.get(
    "/duplicate-resolutions/{resolution_id}/proofs/{index}",
    response_class=Response,
    summary="Download an attendance proof (for the deciding authorities)",
    dependencies=[audited("read", "duplicate_proof", object_id="resolution_id")],
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def read_proof(
    resolution_id: uuid.UUID, index: int, runtime: RuntimeDep, access: ProofReader
) -> Response:
    """For both schools and the units above them (the two authorities decide)."""

    def may_read(real_school: str, other_school: str | None) -> bool:
        schools = [real_school, *([other_school] if other_school else [])]
        return runtime.hosts(real_school) and access.visible(
            UnitRef(tier=Tier.SCHOOL, code=code) for code in schools
        )

    async with runtime.sessions() as session:
        found = await duplicates.proof(session, resolution_id, index, may_read)
    log.info("proof %d of duplicate resolution %s downloaded", index, resolution_id)
    media_type = mimetypes.guess_type(found.filename)[0] or "application/octet-stream"
    disposition = f"attachment; filename*=UTF-8''{quote(found.filename)}"
    return Response(
        found.content, media_type=media_type, headers={"Content-Disposition": disposition}
    )
