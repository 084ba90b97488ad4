"""The status-check API: client systems registered by a national operator, and their checks.

- ``/api/v1/status-clients``: a national operator registers, lists and revokes client systems
  (their purposes, the claims each purpose allows, a rate per minute);
- ``POST /api/v1/status-checks``: a registered client asks, with HTTP Basic credentials
  (client id and secret: its own, never an officer's account), about one student for one of
  its declared purposes; yes / no per asserted claim. Audited, whatever the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from components.status_checks.clients import Client, ClientRegister
from components.status_checks.domain import (
    CLAIMS,
    CLIENT_ID,
    PURPOSE_CODE,
    CheckRefused,
    Facts,
    Purpose,
    allowed_claims,
    answer,
    summary,
)
from shared.audit.recording import annotate, audited
from shared.clock import Timestamp
from shared.runtime.app import UnitOfWorkDep
from shared.runtime.errors import DomainError
from shared.runtime.service import ServiceRuntime
from shared.security.authz import ACCESS_RULE, NATIONAL_UNIT, Access, AccessRule, Reach, requires
from shared.security.masking import mask_id_number
from shared.security.principal import Role

# The registry's facts of one student by student number or identity-document number.
Lookup = Callable[[AsyncSession, str | None, str | None], Awaitable[Facts | None]]

NationalOperator = Annotated[Access, requires(Role.OPERATOR, unit=NATIONAL_UNIT, reach=Reach.OWN)]
_basic = HTTPBasic(auto_error=False, realm="xueji-status-checks")


class Refused(DomainError):
    """A :class:`CheckRefused` as the HTTP answer (its status, rule, message, article)."""

    def __init__(self, refused: CheckRefused, headers: dict[str, str] | None = None) -> None:
        super().__init__(refused.detail, rule=refused.rule, article=refused.article)
        self.status_code = refused.status
        self.headers = headers or {}


class PurposeCreate(BaseModel):
    code: str = Field(pattern=PURPOSE_CODE.pattern, examples=["student_aid"])
    claims: list[str] = Field(min_length=1, max_length=len(CLAIMS), examples=[["enrolled"]])
    basis: str = Field(
        min_length=2, max_length=200, description="the law or approval the purpose rests on"
    )


class StatusClientCreate(BaseModel):
    client_id: str = Field(pattern=CLIENT_ID.pattern, examples=["mz-aid"])
    name: str = Field(min_length=2, max_length=100, examples=["民政救助信息系统"])
    purposes: list[PurposeCreate] = Field(min_length=1, max_length=20)
    rate_per_minute: int = Field(default=600, ge=1, le=100_000)


class PurposeRead(BaseModel):
    code: str
    claims: list[str]
    basis: str


class StatusClientRead(BaseModel):
    client_id: str
    name: str
    purposes: list[PurposeRead]
    rate_per_minute: int
    registered_by: str
    registered_at: Timestamp
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, client: Client) -> StatusClientRead:
        purposes = [
            PurposeRead(code=p.code, claims=list(p.claims), basis=p.basis)
            for p in client.purposes.values()
        ]
        return cls(
            client_id=client.client_id,
            name=client.name,
            purposes=purposes,
            rate_per_minute=client.rate_per_minute,
            registered_by=client.registered_by,
            registered_at=client.registered_at,
            revoked_at=client.revoked_at,
        )


class StatusClientRegistered(StatusClientRead):
    secret: str = Field(description="shown once: give it to the client system's operator")


class StatusClientPage(BaseModel):
    items: list[StatusClientRead]


class Subject(BaseModel):
    student_number: str | None = Field(default=None, min_length=6, max_length=19)
    id_number: str | None = Field(default=None, min_length=6, max_length=30)

    @model_validator(mode="after")
    def one_of(self) -> Subject:
        if (self.student_number is None) == (self.id_number is None):
            raise ValueError("give either student_number or id_number")
        return self


class StatusCheckCreate(BaseModel):
    purpose: str = Field(pattern=PURPOSE_CODE.pattern, examples=["student_aid"])
    subject: Subject
    claims: dict[str, bool | int | str] = Field(
        min_length=1,
        max_length=len(CLAIMS),
        examples=[{"enrolled": True, "county": "510104", "grade": 3}],
        description=f"the claims asserted, of {', '.join(CLAIMS)}",
    )
    on: date | None = Field(default=None, description="today only (the registry's present)")


class StatusCheckRead(BaseModel):
    purpose: str
    as_of: date
    answers: dict[str, bool] = Field(description="each asserted claim: true or false")


@dataclass(frozen=True)
class ClientActor:
    """A client system as the audit names it (``client:<id>``)."""

    username: str
    unit_kind: str = "client"
    unit_code: str = ""
    roles: frozenset[str] = frozenset({"status_check"})


def client_credentials(register: ClientRegister) -> Any:
    """The access rule of the check: no officer's token but a client system's own id and
    secret (HTTP Basic), checked before the request's body is read: 401
    ``client_credentials_invalid`` without valid ones. The client is then the request's
    principal, as the audit names it (``client:<id>``)."""

    async def client(
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    ) -> Client:
        runtime: ServiceRuntime = request.app.state.runtime
        try:
            async with runtime.sessions() as session:
                found = await _authenticated(session, register, credentials)
        except CheckRefused as refused:
            raise Refused(refused, _HEADERS[401]) from None
        request.state.principal = ClientActor(
            f"client:{found.client_id}", "client", found.client_id
        )
        request.state.status_client = found
        return found

    setattr(client, ACCESS_RULE, AccessRule(frozenset(), None))
    return Depends(client)


def _refused(refused: CheckRefused) -> Refused:
    return Refused(refused)


# The challenge of a refused client; when to come back after the rate.
_HEADERS = {
    401: {"WWW-Authenticate": 'Basic realm="xueji-status-checks"'},
    429: {"Retry-After": "60"},
}


def _subject(subject: Subject) -> str:
    """How the audit names the subject before it is found: the ID number masked."""
    return subject.student_number or mask_id_number(subject.id_number or "")


def client_router(runtime: ServiceRuntime, register: ClientRegister) -> APIRouter:
    """A national operator's register of client systems."""
    router = APIRouter(prefix="/api/v1/status-clients", tags=["status checks"])

    @router.post(
        "",
        status_code=201,
        response_model=StatusClientRegistered,
        dependencies=[audited("register", "status_client", object_id=None)],
        summary="Register a client system for status checks (N2025 art. 24)",
    )
    async def register_client(
        body: StatusClientCreate, access: NationalOperator, uow: UnitOfWorkDep
    ) -> StatusClientRegistered:
        """The purposes the client declared and, for each, the claims it may ask; the answer
        carries the client's secret, shown this once. 409 ``status_client_exists``; 422
        ``status_claim_unknown`` / ``status_client_purposes``."""
        annotate(object_id=body.client_id)
        purposes = [Purpose(p.code, tuple(p.claims), p.basis) for p in body.purposes]
        try:
            client, secret = await register.register(
                uow.session,
                body.client_id,
                body.name,
                purposes,
                body.rate_per_minute,
                access.principal.username,
                runtime.clock.now(),
            )
        except CheckRefused as refused:
            raise _refused(refused) from None
        return StatusClientRegistered(**StatusClientRead.of(client).model_dump(), secret=secret)

    @router.get(
        "",
        response_model=StatusClientPage,
        dependencies=[audited("list", "status_client", object_id=None)],
        summary="The registered client systems",
    )
    async def list_clients(access: NationalOperator, uow: UnitOfWorkDep) -> StatusClientPage:
        clients = await register.list(uow.session)
        return StatusClientPage(items=[StatusClientRead.of(c) for c in clients])

    @router.post(
        "/{client_id}/revocation",
        response_model=StatusClientRead,
        dependencies=[audited("revoke", "status_client")],
        summary="Revoke a client system: its next check is refused (401)",
    )
    async def revoke_client(
        client_id: Annotated[str, Path(max_length=40)],
        access: NationalOperator,
        uow: UnitOfWorkDep,
    ) -> StatusClientRead:
        """404 ``status_client_not_found``; revoking twice keeps the first revocation."""
        try:
            client = await register.revoke(
                uow.session, client_id, access.principal.username, runtime.clock.now()
            )
        except CheckRefused as refused:
            raise _refused(refused) from None
        return StatusClientRead.of(client)

    return router


def check_router(runtime: ServiceRuntime, register: ClientRegister, lookup: Lookup) -> APIRouter:
    """The check a registered client system calls."""
    router = APIRouter(prefix="/api/v1/status-checks", tags=["status checks"])

    @router.post(
        "",
        response_model=StatusCheckRead,
        dependencies=[
            audited("check", "student_status", object_id=None),
            client_credentials(register),
        ],
        responses={
            401: {"description": "No, unknown or revoked client credentials"},
            403: {"description": "Purpose not declared, or a claim beyond the purpose"},
            429: {"description": "Over the client's calls per minute (status_check_rate)"},
        },
        summary="Check a student's status: yes / no per asserted claim (N2025 art. 24)",
    )
    async def check(
        request: Request,
        body: StatusCheckCreate,
        uow: UnitOfWorkDep,
    ) -> StatusCheckRead:
        """HTTP Basic with the client's id and secret (401 ``client_credentials_invalid``).
        The purpose must be one the client declared (403 ``status_purpose_undeclared``) and
        every claim one it allows (403 ``status_claim_beyond_purpose``); 422
        ``status_claim_unknown`` / ``status_check_date`` (only today is answered); 429
        ``status_check_rate`` (with ``Retry-After``) over the client's rate. An unknown
        student answers every positive claim false. Audited: the client, the purpose, the
        subject, the answer."""
        client: Client = request.state.status_client
        now, today = runtime.clock.now(), runtime.clock.today()
        try:
            annotate(object_id=_subject(body.subject), purpose=body.purpose)
            allowed_claims(client.purposes, body.purpose, body.claims)
            if body.on is not None and body.on != today:
                raise CheckRefused(
                    422, "status_check_date", f"only today ({today.isoformat()}) is answered"
                )
            if await register.count_call(uow.session, client, now) > client.rate_per_minute:
                raise CheckRefused(
                    429, "status_check_rate", f"over {client.rate_per_minute} checks a minute"
                )
        except CheckRefused as refused:
            raise Refused(refused, _HEADERS.get(refused.status, {})) from None
        facts = await lookup(uow.session, body.subject.student_number, body.subject.id_number)
        if facts is not None:
            annotate(object_id=facts.student_number)
        answers = answer(facts, body.claims)
        annotate(outcome=("ok " + summary(answers))[:120])
        return StatusCheckRead(purpose=body.purpose, as_of=today, answers=answers)

    return router


async def _authenticated(
    session: AsyncSession, register: ClientRegister, credentials: HTTPBasicCredentials | None
) -> Client:
    if credentials is None:
        raise CheckRefused(
            401, "client_credentials_invalid", "a client system's id and secret are required"
        )
    return await register.authenticate(session, credentials.username, credentials.password)
