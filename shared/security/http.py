"""The security API of every service: the OAuth2 token endpoint, password change, and the
accounts of a hosted unit as the level above sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.recording import annotate, audited
from shared.federation.config import UnitRef
from shared.runtime.errors import NotFound
from shared.security import accounts
from shared.security.accounts import AccountPolicy
from shared.security.authz import (
    OBJECT,
    READERS,
    Access,
    QueryUnit,
    Reach,
    public,
    requires,
)
from shared.security.principal import Role

if TYPE_CHECKING:
    from shared.runtime.service import ServiceRuntime

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the token is valid")


class PasswordChange(BaseModel):
    username: str = Field(max_length=60)
    password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


class AccountRead(BaseModel):
    username: str
    unit: str
    roles: list[Role]
    full_name: str | None
    phone: str | None
    trained_on: date | None
    last_active_at: datetime
    password_changed_at: datetime
    password_expires_on: date
    sealed_at: datetime | None
    sealed_reason: str | None
    locked_until: datetime | None


class AccountPage(BaseModel):
    unit: str
    items: list[AccountRead]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


@asynccontextmanager
async def _committing(runtime: ServiceRuntime) -> AsyncIterator[AsyncSession]:
    """A session committed whatever happens: failed logins are recorded too."""
    async with runtime.sessions() as session:
        try:
            yield session
        finally:
            await session.commit()


@router.post(
    "/token",
    response_model=TokenRead,
    summary="Log in: a bearer token for an account of a unit hosted here",
    dependencies=[audited("login", "account", object_id=None), public()],
)
async def issue_token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenRead:
    """OAuth2 password flow (``application/x-www-form-urlencoded``: ``username``,
    ``password``). 401 ``invalid_credentials``; 403 ``account_locked`` (after
    ``XUEJI_LOCKOUT_THRESHOLD`` failures in a row), ``account_sealed`` (unused six months;
    the level above unseals it) or ``password_expired`` (older than
    ``XUEJI_PASSWORD_MAX_AGE_DAYS``, or the level above reset it: change it first)."""
    runtime = _runtime(request)
    now = runtime.clock.now()
    annotate(object_id=form.username[:60])
    async with _committing(runtime) as session:
        principal = await accounts.authenticate(
            session, AccountPolicy.of(runtime.settings), form.username, form.password, now
        )
    # Token lifetimes are wall-clock time (every verifier checks them so); the account rules
    # above run on runtime.clock, which tests move.
    return TokenRead(
        access_token=runtime.token_issuer.issue(principal, datetime.now(UTC)),
        expires_in=int(runtime.token_issuer.ttl.total_seconds()),
    )


@router.post(
    "/password",
    status_code=204,
    summary="Change a password (the current one proves who asks)",
    dependencies=[audited("change_password", "account", object_id=None), public()],
)
async def change_password(request: Request, body: PasswordChange) -> Response:
    """Works with an expired password too: that is how it is rotated. 422 ``weak_password``
    (at least 12 characters, not containing the username, not the old one)."""
    runtime = _runtime(request)
    annotate(object_id=body.username)
    async with _committing(runtime) as session:
        await accounts.change_password(
            session,
            AccountPolicy.of(runtime.settings),
            body.username,
            body.password,
            body.new_password,
            runtime.clock.now(),
        )
    return Response(status_code=204)


@router.get(
    "/accounts",
    response_model=AccountPage,
    summary="The accounts of a unit, with the registrars' details (N2013 art. 23)",
    dependencies=[
        audited("list", "account", object_id="unit"),
        requires(*READERS, Role.OPERATOR, unit=QueryUnit("unit"), reach=Reach.ABOVE),
    ],
)
async def list_accounts(request: Request, unit: str) -> AccountPage:
    """``unit`` is ``tier:code`` of a unit hosted here; the unit itself and the levels above
    it see its accounts. Dormant accounts are sealed before they are listed."""
    runtime = _runtime(request)
    ref = _hosted(runtime, unit)
    policy = AccountPolicy.of(runtime.settings)
    async with _committing(runtime) as session:
        await accounts.seal_dormant(session, policy, runtime.clock.now())
        rows = await accounts.list_accounts(session, ref)
    return AccountPage(unit=unit, items=[_account(row, policy) for row in rows])


class SealRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=150, description="why, for the account list")


@router.post(
    "/accounts/{username}/seal",
    response_model=AccountRead,
    summary="Seal an account: the level above only; its tokens stop working within a minute",
    dependencies=[audited("seal", "account")],
)
async def seal_account(
    request: Request,
    username: str,
    body: SealRequest,
    access: Annotated[Access, requires(Role.OPERATOR, unit=OBJECT, reach=Reach.PARENT)],
) -> AccountRead:
    """An operator of the unit directly above the account's unit closes it (the registrar
    left, a leak is suspected). No new token is issued; the tokens it holds are refused by
    every service after the hosting instance's next revocation round
    (``XUEJI_TOKEN_REVOCATION_INTERVAL``, 10 s), wherever they were to be used."""
    runtime = _runtime(request)
    policy = AccountPolicy.of(runtime.settings)
    async with _committing(runtime) as session:
        row = await accounts.get_account(session, username)
        if row is None:
            raise NotFound(f"no account {username}", rule="account_not_found")
        unit = _ref(accounts.principal_of(row).unit)
        access.check(unit, not_found=f"no account {username}", rule="account_not_found")
        await accounts.seal(
            session, username, access.principal.username, body.reason, runtime.clock.now()
        )
        row = await accounts.get_account(session, username)
    return _account(row, policy)


@router.post(
    "/accounts/{username}/unseal",
    response_model=AccountRead,
    summary="Unseal (or unlock) an account: the level above only",
    dependencies=[audited("unseal", "account")],
)
async def unseal_account(
    request: Request,
    username: str,
    access: Annotated[Access, requires(Role.OPERATOR, unit=OBJECT, reach=Reach.PARENT)],
) -> AccountRead:
    """An operator of the unit directly above the account's unit (a school's registry
    authority, a county's province; national's own operators for national) reopens it. The
    account must then set a new password before it gets a token."""
    runtime = _runtime(request)
    policy = AccountPolicy.of(runtime.settings)
    async with _committing(runtime) as session:
        row = await accounts.get_account(session, username)
        if row is None:
            raise NotFound(f"no account {username}", rule="account_not_found")
        unit = _ref(accounts.principal_of(row).unit)
        access.check(unit, not_found=f"no account {username}", rule="account_not_found")
        await accounts.unseal(session, username, access.principal.username, runtime.clock.now())
        row = await accounts.get_account(session, username)
    return _account(row, policy)


def _ref(unit: str) -> UnitRef:
    return UnitRef.parse(unit)


def _hosted(runtime: ServiceRuntime, unit: str) -> UnitRef:
    ref = _ref(unit)
    if ref.tier != runtime.tier or not runtime.hosts(ref.code):
        raise NotFound(f"{unit} is not served here")
    return ref


def _account(row: Any, policy: AccountPolicy) -> AccountRead:
    changed = accounts.aware(row.password_changed_at)
    return AccountRead(
        username=row.username,
        unit=f"{row.unit_tier}:{row.unit_code}",
        roles=[Role(r) for r in row.roles.split(",") if r],
        full_name=row.full_name,
        phone=row.phone,
        trained_on=row.trained_on,
        last_active_at=accounts.aware(row.last_active_at),
        password_changed_at=changed,
        password_expires_on=(changed + policy.password_max_age).date(),
        sealed_at=_maybe(row.sealed_at),
        sealed_reason=row.sealed_reason,
        locked_until=_maybe(row.locked_until),
    )


def _maybe(moment: datetime | None) -> datetime | None:
    return accounts.aware(moment) if moment is not None else None
