"""The transfer endpoints of national: read a transfer, a student's transfers, a unit's
overdue steps; a national officer's intervention; the operator's deadline sweep.

Thin: validate, call the service layer, map errors. Dates default to the runtime's Beijing
"today" (``runtime.clock``); the sweep takes any date so that operators and tests drive time.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.national.adapters.transfer_repository import LoadedTransfer, TransferRepository
from services.national.entrypoints.transfer_schemas import (
    UNIT_REF,
    InterventionCreate,
    OverdueList,
    OverdueStepRead,
    SweepCreate,
    SweepRead,
    TermReportsCreate,
    TermReportsRead,
    TransferList,
    TransferRead,
)
from services.national.service_layer.transfer_reports import send_term_reports
from services.national.service_layer.transfers import queries
from services.national.service_layer.transfers.context import SagaContext, TransferDeps
from services.national.service_layer.transfers.deadlines import sweep_deadlines
from services.national.service_layer.transfers.decisions import intervene
from services.national.service_layer.transfers.notices import Outbox
from shared.audit.recording import audited
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.runtime.app import RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import NotFound
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

TRANSFER_DEPS = "transfers"

transfer_router = APIRouter(prefix="/api/v1/transfers", tags=["transfers"])
operations_router = APIRouter(prefix="/api/v1/operations", tags=["operations"])


async def get_deps(request: Request) -> TransferDeps:
    deps: TransferDeps = request.app.state.runtime.extras[TRANSFER_DEPS]
    return deps


DepsDep = Annotated[TransferDeps, Depends(get_deps)]

# A transfer is seen by its two schools and the units above them (both counties, both
# provinces, national); national's officers intervene, its operators sweep.
TransferReader = Annotated[Access, requires(*READERS, unit=OBJECT)]
NationalApprover = requires(Role.APPROVER, unit=NATIONAL_UNIT, reach=Reach.OWN)
NationalOperator = requires(Role.OPERATOR, unit=NATIONAL_UNIT, reach=Reach.OWN)


def parties(loaded: LoadedTransfer) -> list[UnitRef]:
    record = loaded.record
    return [
        UnitRef(tier=Tier.SCHOOL, code=record.from_school),
        UnitRef(tier=Tier.SCHOOL, code=record.to_school),
    ]


@transfer_router.get(
    "/overdue",
    dependencies=[
        audited("list", "transfer_step", object_id="unit"),
        requires(*READERS, unit=QueryUnit("unit")),
    ],
    response_model=OverdueList,
    summary="A unit's overdue steps",
)
async def list_overdue(
    runtime: RuntimeDep,
    deps: DepsDep,
    unit: Annotated[str, Query(pattern=UNIT_REF, examples=["county:410102"])],
    as_of: Annotated[date | None, Query(description="default: today (Beijing)")] = None,
) -> OverdueList:
    """Open steps past their due date on ``as_of`` whose party or whose superior is
    ``unit`` — the superior's list of late parties (``national:CN`` for province steps)."""
    day = as_of or deps.clock.today()
    async with runtime.sessions() as session:
        rows = await queries.overdue_steps(TransferRepository(session), unit, day)
    return OverdueList(unit=unit, as_of=day, items=[OverdueStepRead.of(r) for r in rows])


@transfer_router.get(
    "",
    dependencies=[audited("list", "transfer", object_id="student_number")],
    response_model=TransferList,
    summary="A student's transfers",
)
async def list_transfers(
    runtime: RuntimeDep,
    access: TransferReader,
    student_number: Annotated[str, Query(min_length=2, max_length=19)],
) -> TransferList:
    """Every transfer of the student the caller may see (a party's, or above a party), newest
    first, refused ones included; 404 when there is none the caller may see."""
    async with runtime.sessions() as session:
        found = await queries.transfers_of_student(TransferRepository(session), student_number)
    visible = [TransferRead.of(t) for t in found if access.visible(parties(t))]
    if not visible:  # none, or none of the caller's: the same answer
        raise NotFound("no transfers of this student", rule="unknown_transfer")
    return TransferList(items=visible)


@transfer_router.get(
    "/{transfer_id}",
    dependencies=[audited("read", "transfer")],
    response_model=TransferRead,
    summary="One transfer",
)
async def read_transfer(
    transfer_id: uuid.UUID, runtime: RuntimeDep, access: TransferReader
) -> TransferRead:
    """State, parties and every step (due dates, who decided, interventions), the closing
    rule and reason, the archive hand-over deadline; ``waiting_for`` names the open step."""
    async with runtime.sessions() as session:
        loaded = await queries.get_transfer(TransferRepository(session), transfer_id)
    access.check(*parties(loaded), not_found=f"no transfer {transfer_id}", rule="unknown_transfer")
    return TransferRead.of(loaded)


@transfer_router.post(
    "/{transfer_id}/steps/{step_id}/intervention",
    dependencies=[audited("intervene", "transfer", object_id="transfer_id"), NationalApprover],
    response_model=TransferRead,
    summary="A national officer decides an overdue province step",
)
async def intervene_in_step(
    transfer_id: uuid.UUID,
    step_id: uuid.UUID,
    body: InterventionCreate,
    uow: UnitOfWorkDep,
    deps: DepsDep,
    request: Request,
) -> TransferRead:
    """National is the superior of a province's step: once that step is overdue a national
    officer may approve or reject it (HA art. 11(三)); it is recorded as an intervention and
    the saga goes on as if the province had decided. 422 ``not_entitled`` when national is
    not the step's superior or the step is not overdue; 409 ``step_not_open`` when it is
    decided or void already."""
    ctx = SagaContext(
        uow.session, deps.rulebook, Outbox(uow.session), deps.clock.today(), deps.clock.now()
    )
    await intervene(
        ctx,
        transfer_id,
        step_id,
        approve=body.decision == "approve",
        decided_by=request.state.principal.username,  # NationalApprover authenticated it
        reason=body.reason,
    )
    loaded = await queries.get_transfer(ctx.transfers, transfer_id)
    return TransferRead.of(loaded)


@operations_router.post(
    "/deadline-sweep",
    dependencies=[audited("sweep", "transfer_deadlines", object_id=None), NationalOperator],
    response_model=SweepRead,
    summary="Run the transfer deadline sweep",
)
async def run_deadline_sweep(body: SweepCreate, uow: UnitOfWorkDep, deps: DepsDep) -> SweepRead:
    """Send the reminders and overdue reports due on ``as_of`` (default today). Each step is
    reminded and reported at most once, however often this runs."""
    as_of = body.as_of or deps.clock.today()
    report = await sweep_deadlines(
        TransferRepository(uow.session),
        Outbox(uow.session),
        deps.rulebook,
        as_of,
        deps.clock.now(),
    )
    return SweepRead(
        as_of=report.as_of,
        reminders=report.reminders,
        overdue=report.overdue,
        overdue_at_national=report.overdue_at_national,
    )


@operations_router.post(
    "/transfer-term-reports",
    dependencies=[audited("send", "transfer_term_reports", object_id=None), NationalOperator],
    response_model=TermReportsRead,
    summary="Send the term's transfer reports of province-direct and city-run schools",
)
async def run_term_reports(
    body: TermReportsCreate, uow: UnitOfWorkDep, deps: DepsDep
) -> TermReportsRead:
    """N2013 art. 18: the transfers in and out each province-direct or city-run school
    completed in the term ending on ``term_end``, to the county it is in — one
    ``transfer.term_report`` per school (also when it has none). Provinces whose term does
    not end that day send nothing. Running it again re-sends the same reports."""
    sent = await send_term_reports(uow.session, uow.emitter(NATIONAL), deps.rulebook, body.term_end)
    return TermReportsRead(
        term_end=sent.term_end,
        reports=sent.reports,
        transfers=sent.transfers,
        provinces=list(sent.provinces),
    )
