"""The national HTTP API: the basic registry and the dedup review queue.

Thin: validate, call the service layer, map errors. A registry entry is seen by its school
and the units above it; the review queue by national's staff.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.national.adapters.repository import NationalRepository
from services.national.entrypoints.schemas import (
    RegistryChangeList,
    RegistryChangeRead,
    RegistryEntryRead,
    RegistryPage,
    ReviewDecisionCreate,
    ReviewPage,
    ReviewRead,
    SupersededRead,
)
from services.national.service_layer import registry, reviews
from services.national.service_layer.change_log import changes_of
from services.national.service_layer.ports import division_of, in_yi_track
from shared.audit.recording import annotate, audited
from shared.db.types import SQL_INT_MAX
from shared.federation.config import Tier, UnitRef
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.security.authz import (
    NATIONAL_UNIT,
    OBJECT,
    READERS,
    Access,
    QueryUnit,
    Reach,
    requires,
)
from shared.security.principal import Role

SCHOOL_CODE = r"^[1-8][0-9]{9}$"
PROVINCE_CODE = r"^[1-8][0-9]$"

registry_router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
review_router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])

EntryReader = Annotated[Access, requires(*READERS, unit=OBJECT)]
NationalReader = requires(*READERS, unit=NATIONAL_UNIT, reach=Reach.OWN)
NationalApprover = requires(Role.APPROVER, unit=NATIONAL_UNIT, reach=Reach.OWN)


@registry_router.get(
    "/{student_number}",
    dependencies=[audited("read", "registry_entry")],
    response_model=RegistryEntryRead,
    summary="A student's basic registration",
    responses={308: {"model": SupersededRead, "description": "an old number; see Location"}},
)
async def read_entry(
    student_number: str, runtime: RuntimeDep, access: EntryReader
) -> RegistryEntryRead | JSONResponse:
    """Basic info of the student with this number (404 if none). An ``L`` number replaced by
    a ``G`` number answers ``308`` with ``Location`` and ``superseded_by``: the registration
    continues under the new number."""
    async with runtime.sessions() as session:
        found = await registry.look_up(NationalRepository(session), student_number)
    annotate(unit_kind="school", unit_code=found.entry.school_code)
    access.check(
        UnitRef(tier=Tier.SCHOOL, code=found.entry.school_code),
        not_found="no registration has this student number",
        rule="unknown_student_number",
    )
    if found.superseded:
        new = found.entry.student_number
        body = SupersededRead(student_number=student_number, superseded_by=new)
        return JSONResponse(
            body.model_dump(),
            status_code=308,
            headers={"Location": f"{registry_router.prefix}/{new}"},
        )
    return RegistryEntryRead.of(found.entry)


@registry_router.get(
    "/{student_number}/changes",
    dependencies=[audited("read", "registry_change")],
    response_model=RegistryChangeList,
    summary="Who decided each change of a student's registration",
)
async def read_changes(
    student_number: str, runtime: RuntimeDep, access: EntryReader
) -> RegistryChangeList:
    """The registration's change log, oldest first: each decision with the officer's
    account and unit, or ``system`` and the province rule it applied (decision 0043)."""
    async with runtime.sessions() as session:
        found = await registry.look_up(NationalRepository(session), student_number)
        access.check(
            UnitRef(tier=Tier.SCHOOL, code=found.entry.school_code),
            not_found="no registration has this student number",
            rule="unknown_student_number",
        )
        rows = await changes_of(session, found.entry.entry_id)
    annotate(unit_kind="school", unit_code=found.entry.school_code)
    items = [RegistryChangeRead.model_validate(row, from_attributes=True) for row in rows]
    return RegistryChangeList(student_number=found.entry.student_number, items=items)


@registry_router.get(
    "",
    dependencies=[
        audited("list", "registry_entry"),
        requires(*READERS, unit=QueryUnit("school_code", Tier.SCHOOL)),
    ],
    response_model=RegistryPage,
    summary="A school's registrations",
)
async def list_entries(
    runtime: RuntimeDep,
    school_code: Annotated[str, Query(pattern=SCHOOL_CODE)],
    after: Annotated[str | None, Query(description="the last student number seen")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RegistryPage:
    """Basic info of every student registered at a school, in student-number order."""
    async with runtime.sessions() as session:
        entries = await registry.school_page(
            NationalRepository(session), school_code, after=after, limit=limit
        )
    items = [RegistryEntryRead.of(entry) for entry in entries]
    last = items[-1].student_number if len(items) == limit else None
    return RegistryPage(items=items, next_after=last)


@review_router.get(
    "",
    dependencies=[audited("list", "review", object_id="province"), NationalReader],
    response_model=ReviewPage,
    summary="The dedup review queue",
)
async def list_reviews(
    runtime: RuntimeDep,
    province: Annotated[str | None, Query(pattern=PROVINCE_CODE)] = None,
    status: Annotated[str, Query(pattern="^(open|issued|rejected)$")] = "open",
    after: Annotated[
        int | None, Query(ge=0, le=SQL_INT_MAX, description="next_after of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ReviewPage:
    """Applicants held by a suspect dedup rule, oldest first, with the registered student
    each one resembles (student number, school, province)."""
    async with runtime.sessions() as session:
        rows = await reviews.list_reviews(
            NationalRepository(session), province=province, status=status, after=after, limit=limit
        )
    items = [ReviewRead.of(review, matched) for review, matched in rows]
    last = rows[-1][0].seq if len(rows) == limit else None
    return ReviewPage(items=items, next_after=last)


@review_router.get(
    "/{review_id}",
    dependencies=[audited("read", "review"), NationalReader],
    response_model=ReviewRead,
    summary="One review",
)
async def read_review(review_id: uuid.UUID, runtime: RuntimeDep) -> ReviewRead:
    async with runtime.sessions() as session:
        review, matched = await reviews.get_review(NationalRepository(session), review_id)
    return ReviewRead.of(review, matched)


@review_router.post(
    "/{review_id}/decision",
    dependencies=[audited("decide", "review"), NationalApprover],
    response_model=ReviewRead,
    summary="Decide a review",
)
async def decide_review(
    review_id: uuid.UUID, body: ReviewDecisionCreate, runtime: RuntimeDep, uow: UnitOfWorkDep
) -> ReviewRead:
    """``issue`` a student number (the exact dedup rules are checked again: if the document
    was registered meanwhile, the review closes as ``rejected`` with ``duplicate_registration``)
    or ``reject``. A decided review cannot be decided again (409). The school and its province
    are told either way."""
    decision = reviews.ReviewDecision(
        decision=body.decision,
        reason=body.reason,
        division_of=partial(division_of, runtime.federation),
        now=datetime.now(UTC),
        in_yi_track=partial(in_yi_track, runtime.federation),
    )
    review, matched = await reviews.decide_review(uow, review_id, decision)
    return ReviewRead.of(review, matched)
