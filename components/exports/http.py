"""The export API: ask, list, read, decide, download (``/api/v1/exports``).

Every route needs an authenticated principal (401 without): an export is accountable to a
person (ZJ art. 30). Which endpoints count as exports: these, and nothing else returns bulk
personal data beyond a unit's own working views (the roster and task pages a unit reads to
do its job, paged, each read audited).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from components.approval_desk.desk import ApprovalDesk
from components.exports.domain import ExportRefused, ExportStatus, Unit
from components.exports.service import Exports, Refused, officer
from shared.audit.recording import Actor, audited
from shared.clock import Timestamp
from shared.runtime.app import UnitOfWorkDep, domain_refusal
from shared.runtime.errors import DomainError
from shared.security.authz import OBJECT, READERS, QueryUnit, requires
from shared.security.principal import Role

# Authentication and the role gate (shared/security); the export itself checks who may ask,
# see, decide and download it (export_role, export_scope, export_four_eyes, ...).
AnyStaff = requires(*Role, unit=OBJECT)
Approver = requires(Role.APPROVER, unit=OBJECT)

UNIT_REF = r"^(national|province|county|school):[0-9A-Z]{2,12}$"


class ExportCreate(BaseModel):
    population: str = Field(pattern=UNIT_REF, examples=["school:4101020001"])
    fields: list[str] = Field(min_length=1, max_length=40)
    purpose: str = Field(min_length=4, max_length=500)


class ExportDecisionCreate(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)


class ExportRead(BaseModel):
    export_id: str
    status: ExportStatus
    population: str
    fields: list[str]
    purpose: str
    requested_by: str
    requester_unit: str
    approver_unit: str
    requested_at: Timestamp
    decided_by: str | None
    decided_at: Timestamp | None
    reason: str | None
    expires_at: Timestamp | None
    row_count: int | None
    downloads: int
    links: dict[str, str]

    @classmethod
    def of(cls, row: Any) -> ExportRead:
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "links"}
        links = {"self": f"/api/v1/exports/{row.export_id}"}
        if row.status == ExportStatus.APPROVED:
            links["download"] = f"/api/v1/exports/{row.export_id}/download"
        return cls(links=links, **fields)


class ExportPage(BaseModel):
    items: list[ExportRead]


class PledgeRead(BaseModel):
    """A unit's data-security pledge (附表4) as its export requests see it (LS 7)."""

    unit: str
    required: bool = Field(description="the province holds the unit's requests until it is on file")
    on_file: bool = Field(description="a valid pledge with its signed scan uploaded")
    document_id: str | None = Field(
        description="the pledge document (signed if there is one, else the latest printed)"
    )


class Unauthenticated(DomainError):
    status_code = 401


def actor_of(request: Request) -> Actor:
    actor: Actor | None = getattr(request.state, "principal", None)
    if actor is None:
        raise Unauthenticated(
            "an export needs an authenticated user", rule="authentication_required"
        )
    return actor


def export_router(exports: Exports, desk: ApprovalDesk) -> APIRouter:
    """The export routes; a decision is the desk's decision on the export's task (``desk``
    keeps the tasks and has :class:`.approvals.ExportApprovals` as the kind's policy)."""
    router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

    @router.post(
        "",
        status_code=201,
        dependencies=[audited("request", "export", object_id=None), AnyStaff],
        response_model=ExportRead,
        summary="Ask for an export (purpose, fields, population); it waits for approval",
        description=(
            "A registrar or operator asks for the `fields` (a choice of "
            f"{', '.join(exports.source.fields)}) of every student of `population` (their own "
            "unit or one under it) for `purpose`. 403 `export_role` / `export_scope`, 422 "
            "`export_fields`, 404 `population_not_served`."
        ),
    )
    async def request_export(
        request: Request, body: ExportCreate, uow: UnitOfWorkDep
    ) -> ExportRead:
        try:
            row = await exports.request(
                uow, actor_of(request), Unit.parse(body.population), body.fields, body.purpose
            )
        except ExportRefused as refused:
            raise Refused(refused) from None
        return ExportRead.of(row)

    @router.get(
        "",
        dependencies=[audited("list", "export", object_id=None), AnyStaff],
        response_model=ExportPage,
        summary="My export requests and those my unit decides",
    )
    async def list_exports(
        request: Request,
        uow: UnitOfWorkDep,
        status: Annotated[ExportStatus | None, Query()] = None,
    ) -> ExportPage:
        rows = await exports.visible(uow, actor_of(request), status)
        return ExportPage(items=[ExportRead.of(row) for row in rows])

    @router.get(
        "/pledge",
        dependencies=[
            audited("read", "export_pledge", object_id=None),
            requires(*READERS, Role.OPERATOR, unit=QueryUnit("unit")),
        ],
        response_model=PledgeRead,
        summary="Whether a unit's signed data-security pledge (附表4) is on file (LS 7)",
    )
    async def read_pledge(
        unit: Annotated[str, Query(pattern=UNIT_REF, examples=["school:5134010001"])],
        uow: UnitOfWorkDep,
    ) -> PledgeRead:
        """Where the province's rule ``[exports] signed_pledge = "request"`` applies (Sichuan),
        a school asks for an export only once this says ``on_file`` (else 403
        ``export_pledge_missing``): print the pledge (``GET
        /api/v1/schools/{code}/documents/security-pledge.pdf``), have it signed and sealed,
        upload its scan (``PUT .../documents/{document_id}/signed-scan``)."""
        ref = Unit.parse(unit)
        required, pledge = await exports.pledge_state(uow.session, ref)
        return PledgeRead(
            unit=unit, required=required, on_file=pledge.signed, document_id=pledge.document_id
        )

    @router.get(
        "/{export_id}",
        dependencies=[audited("read", "export"), AnyStaff],
        response_model=ExportRead,
        summary="One export request",
    )
    async def read_export(request: Request, export_id: uuid.UUID) -> ExportRead:
        try:
            return ExportRead.of(await exports.read(actor_of(request), export_id))
        except ExportRefused as refused:
            raise Refused(refused) from None

    @router.post(
        "/{export_id}/decision",
        dependencies=[audited("decide", "export"), Approver],
        response_model=ExportRead,
        summary="The approving unit approves (the CSV is produced) or rejects",
    )
    async def decide_export(
        request: Request, export_id: uuid.UUID, body: ExportDecisionCreate, uow: UnitOfWorkDep
    ) -> ExportRead:
        """By an approver of the export's approving unit, never the requester (403
        ``export_approver`` / ``export_four_eyes``); 409 ``export_decided``; 422
        ``reason_required`` for a rejection without a reason. The same decision as the desk's
        ``POST /api/v1/tasks/{task_id}/decision`` on the export's task (this is its alias)."""
        decision = officer(actor_of(request), body.decision == "approve", body.reason)
        try:
            row = await exports.decide(uow, desk, export_id, decision)
        except ExportRefused as refused:
            raise Refused(refused) from None
        return ExportRead.of(row)

    @router.get(
        "/{export_id}/download",
        dependencies=[audited("download", "export"), AnyStaff],
        response_class=Response,
        responses={
            200: {"content": {"text/csv": {}}},
            409: {"description": "The export is not approved (export_not_approved)"},
            410: {"description": "The export has expired (export_expired)"},
        },
        summary="Download an approved export (the requester only, until it expires)",
    )
    async def download_export(
        request: Request, export_id: uuid.UUID, uow: UnitOfWorkDep
    ) -> Response:
        """The CSV with exactly the approved fields. 403 ``export_requester_only``, 409
        ``export_not_approved``, 410 ``export_expired``."""
        try:
            filename, content = await exports.download(uow, actor_of(request), export_id)
        except ExportRefused as refused:
            # answered, not raised: the request commits what expired purged (and the entry)
            return domain_refusal(request, Refused(refused))
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router
