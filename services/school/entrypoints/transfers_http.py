"""The school's transfer API: transfers in (receiving school) and their proofs (for the
deciding parties). The sending school's steps are tasks on its approval desk
(:mod:`services.school.entrypoints.tasks_http`).

Thin routers: resolve the hosted school, call one use case, shape the answer. Refusals are
``{"detail", "rule"}`` (404, 409, 413, 422); invalid fields are answered like an invalid body.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, overload
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from services.school.adapters import transfer_repository
from services.school.config import PROOF_BODY_LIMIT
from services.school.domain.transfers import TransferInStatus
from services.school.entrypoints.http import (
    ReaderOfSchool,
    RegistrarOfSchool,
    SchoolDep,
    SettingsDep,
    TodayDep,
)
from services.school.entrypoints.schemas import (
    TransferCancel,
    TransferInAccepted,
    TransferInCreate,
    TransferInPage,
    TransferInRead,
    TransferProofRead,
)
from services.school.service_layer import transfer_in
from shared.audit.recording import audited
from shared.db.types import SQL_INT_MAX
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef
from shared.rules import load_province_rules
from shared.runtime.app import ProofIndex, RuntimeDep, UnitOfWorkDep
from shared.runtime.errors import NotFound
from shared.security.authz import OBJECT, READERS, Access, Reach, requires
from shared.security.principal import Role

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")

# The receiving school's registrar withdraws its own transfer; the proofs are for every
# deciding party (the two schools and the levels above them), national excepted: it sees basic
# info only.
RegistrarOfObject = Annotated[Access, requires(Role.REGISTRAR, unit=OBJECT, reach=Reach.OWN)]
ProofReader = Annotated[Access, requires(*READERS, unit=OBJECT, barred=[Tier.NATIONAL])]

# --- transfers in (receiving school) -----------------------------------------------------


@router.post(
    "/schools/{school_code}/transfers-in",
    max_body_size=PROOF_BODY_LIMIT,  # base64 proofs (decision 0026)
    dependencies=[audited("request_transfer", "transfer"), RegistrarOfSchool],
    status_code=202,
    response_model=TransferInAccepted,
    responses={413: {"description": "The proofs are too large together (proofs_too_large)"}},
    tags=["transfers"],
    summary="Start a transfer into this school (转入)",
)
async def request_transfer_in(
    school: SchoolDep,
    body: TransferInCreate,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    on: TodayDep,
) -> TransferInAccepted:
    """The receiving school starts a transfer; national runs it (一网通办).

    Checks, under the **receiving** province's rules: ``from_school`` is a known school other
    than this one (422 ``unknown_school`` / ``same_school``); the grade is taught here (422,
    ``grade_stage``); a class at the province's ``class_size_cap`` — counting the students
    enrolled in that grade and class and the transfers into it still pending — takes no one
    more (422 ``class_size_cap``, LS 2(一)6(1)); a transfer from another province carries the
    proof kinds the province requires (422 ``missing_required_proof``, e.g. Henan's
    ``origin_registration_proof``, HA art. 11(二)); one pending transfer per student here
    (409 ``transfer_pending``; 409 ``already_enrolled`` for a student on the roster).

    The proofs stay here (the deciding parties fetch them from ``/api/v1/transfers/{id}/
    proofs/{index}``); national receives ``transfer.requested``. Follow it at the ``national``
    link or in this school's list.
    """
    rules = load_province_rules(runtime.settings.federation_config, school.code)
    request = transfer_in.TransferInRequest(
        student_number=body.student_number,
        from_school=body.from_school,
        grade=body.grade,
        class_name=body.class_name,
        reason=body.reason,
        proofs=body.proofs,
        window_exception_reason=body.window_exception_reason,
    )
    transfer_id = await transfer_in.request_transfer(
        uow,
        runtime.federation,
        rules,
        school,
        request,
        today=on,
        now=runtime.clock.now(),
        max_proof_bytes=settings.max_proof_bytes,
    )
    return TransferInAccepted(
        transfer_id=transfer_id,
        links=_links(runtime.federation, school.code, transfer_id, len(body.proofs)),
    )


@router.get(
    "/schools/{school_code}/transfers-in",
    dependencies=[audited("list", "transfer"), ReaderOfSchool],
    response_model=TransferInPage,
    tags=["transfers"],
    summary="The transfers this school started, newest first",
)
async def list_transfers_in(
    school: SchoolDep,
    runtime: RuntimeDep,
    status: TransferInStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> TransferInPage:
    """Each with its local status: ``pending``, ``completed``, ``refused`` (national's registry
    rules), ``rejected`` (a deciding party), ``cancelled`` or ``stopped``, with rule and
    reason."""
    async with runtime.sessions() as session:
        rows, total = await transfer_repository.list_transfers_in(
            session, school.code, status=status, limit=limit, offset=offset
        )
        proofs = await transfer_repository.proofs(session, [row.transfer_id for row in rows])
    return TransferInPage(
        items=[_transfer_in(runtime.federation, row, proofs) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/schools/{school_code}/transfers-in/{transfer_id}",
    dependencies=[audited("read", "transfer"), ReaderOfSchool],
    response_model=TransferInRead,
    tags=["transfers"],
    summary="One transfer into this school",
)
async def read_transfer_in(
    school: SchoolDep, transfer_id: uuid.UUID, runtime: RuntimeDep
) -> TransferInRead:
    async with runtime.sessions() as session:
        row = await transfer_in.get_transfer_in(session, transfer_id, runtime.hosts)
        if row.school_code != school.code:
            raise NotFound(f"transfer {transfer_id} is not known here", rule="transfer_not_found")
        proofs = await transfer_repository.proofs(session, [row.transfer_id])
    return _transfer_in(runtime.federation, row, proofs)


@router.post(
    "/transfers/{transfer_id}/cancel",
    dependencies=[audited("cancel", "transfer")],
    status_code=202,
    response_model=TransferInRead,
    tags=["transfers"],
    summary="Withdraw a pending transfer (receiving school)",
)
async def cancel_transfer(
    transfer_id: uuid.UUID,
    body: TransferCancel,
    runtime: RuntimeDep,
    uow: UnitOfWorkDep,
    access: RegistrarOfObject,
) -> TransferInRead:
    """Asks national to end the transfer (``transfer.cancel_requested``); it stays ``pending``
    (with ``cancel_requested_at``) until national answers ``cancelled``. 409
    ``transfer_not_pending`` once it ended, ``cancel_already_requested`` the second time."""
    visible = access.sees(Tier.SCHOOL, runtime.hosts)
    await transfer_in.cancel(uow, transfer_id, body.reason, visible, now=runtime.clock.now())
    row = await transfer_in.get_transfer_in(uow.session, transfer_id, visible)
    proofs = await transfer_repository.proofs(uow.session, [row.transfer_id])
    return _transfer_in(runtime.federation, row, proofs)


@router.get(
    "/transfers/{transfer_id}/proofs/{index}",
    dependencies=[audited("read", "transfer_proof", object_id="transfer_id")],
    summary="Download one proof of a transfer (for the deciding parties)",
    tags=["transfers"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def read_transfer_proof(
    transfer_id: uuid.UUID, index: ProofIndex, runtime: RuntimeDep, access: ProofReader
) -> Response:
    """The ``index``-th proof document of a transfer into a school hosted here, for the two
    schools and the units above them."""
    async with runtime.sessions() as session:
        row = await transfer_in.get_transfer_in(session, transfer_id, runtime.hosts)
        access.check(
            UnitRef(tier=Tier.SCHOOL, code=row.school_code),
            UnitRef(tier=Tier.SCHOOL, code=row.from_school),
            not_found=f"transfer {transfer_id} is not known here",
            rule="transfer_not_found",
        )
        proof = await transfer_repository.proof(session, row.transfer_id, index)
    if proof is None:
        raise NotFound(f"transfer {transfer_id} has no proof {index}", rule="proof_not_found")
    # Whoever reads registration data is accountable (ZJ art. 30): log the access.
    log.info("proof %d of transfer %s downloaded", index, transfer_id)
    media_type = mimetypes.guess_type(proof.filename)[0] or "application/octet-stream"
    disposition = f"attachment; filename*=UTF-8''{quote(proof.filename)}"
    return Response(
        proof.content, media_type=media_type, headers={"Content-Disposition": disposition}
    )


def _links(
    federation: Federation, school_code: str, transfer_id: uuid.UUID, proof_count: int
) -> dict[str, str]:
    links = {
        "self": f"/api/v1/schools/{school_code}/transfers-in/{transfer_id}",
        "national": _national_url(federation, f"/api/v1/transfers/{transfer_id}"),
        "cancel": f"/api/v1/transfers/{transfer_id}/cancel",
    }
    for index in range(proof_count):
        links[f"proof_{index}"] = f"/api/v1/transfers/{transfer_id}/proofs/{index}"
    return links


def _national_url(federation: Federation, path: str) -> str:
    instance = federation.instance_hosting(NATIONAL)
    return f"http://{instance.host}:{instance.port}{path}" if instance else path


def _transfer_in(federation: Federation, row: Any, proofs: Sequence[Any]) -> TransferInRead:
    own = [p for p in proofs if p.transfer_id == row.transfer_id]
    transfer_id = uuid.UUID(row.transfer_id)
    return TransferInRead(
        transfer_id=transfer_id,
        school_code=row.school_code,
        student_number=row.student_number,
        from_school=row.from_school,
        grade=row.grade,
        class_name=row.class_name,
        reason=row.reason,
        status=row.status,
        rule=row.rule,
        status_reason=row.status_reason,
        requested_on=row.requested_on,
        requested_at=_aware(row.requested_at),
        cancel_requested_at=_aware(row.cancel_requested_at),
        settled_at=_aware(row.settled_at),
        proofs=[
            TransferProofRead(index=p.position, kind=p.kind, filename=p.filename, size=p.size)
            for p in own
        ],
        links=_links(federation, row.school_code, transfer_id, len(own)),
    )


@overload
def _aware(moment: datetime) -> datetime: ...
@overload
def _aware(moment: None) -> None: ...
def _aware(moment: datetime | None) -> datetime | None:
    """Timestamps as UTC-aware datetimes (SQLite hands them back naive)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
