"""The security API of every service: the OAuth2 token endpoint, password change, and the
accounts of a hosted unit as the level above sees them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.recording import annotate, audited
from shared.clock import Timestamp
from shared.db.types import SQL_INT_MAX
from shared.federation.config import UnitRef
from shared.runtime.errors import Conflict, DomainError, NotFound
from shared.security import accounts, throttle
from shared.security.accounts import AccountPolicy
from shared.security.authz import (
    OBJECT,
    READERS,
    Access,
    QueryUnit,
    Reach,
    public,
    requires,
    units_above,
)
from shared.security.principal import Role
from shared.security.throttle import Attempt

if TYPE_CHECKING:
    from shared.runtime.service import ServiceRuntime

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])

_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before the next attempt",
        "required": True,
        "schema": {"type": "integer"},
    }
}
# What a password check answers besides success (decision 0026); the body is ErrorResponse.
LOGIN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong username or password, or no such account (invalid_credentials)"},
    403: {"description": "The password is right but the account may not log in now"},
    429: {"description": "Too many failed logins (login_throttled)", "headers": _RETRY_AFTER},
    503: {"description": "Too many logins at once (login_busy)", "headers": _RETRY_AFTER},
}


class FailedLoginsRead(BaseModel):
    """Failed logins of this account since its last successful one (then forgotten)."""

    count: int = Field(description="failed attempts since the last successful login")
    last_at: Timestamp = Field(description="the most recent failed attempt")
    message: str = Field(description="what to tell the officer, in Chinese")


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the token is valid")
    failed_logins: FailedLoginsRead | None = Field(
        default=None,
        description="present when someone failed to log in as this account since its last "
        "login: show it to the officer",
    )


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
    last_active_at: Timestamp
    password_changed_at: Timestamp
    password_expires_on: date
    sealed_at: Timestamp | None
    sealed_reason: str | None
    failed_logins: int = Field(description="failed logins since the last successful one")
    throttled_until: Timestamp | None = Field(
        description="until when a login from an address this account never used must wait "
        "(failed logins, decision 0026); its own addresses are never slowed down by others'"
    )


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
    responses=LOGIN_REFUSALS,
)
async def issue_token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenRead:
    """OAuth2 password flow (``application/x-www-form-urlencoded``: ``username``,
    ``password``). 401 ``invalid_credentials`` (unknown account and wrong password alike);
    429 ``login_throttled`` with ``Retry-After`` (after ``XUEJI_LOGIN_FREE_FAILURES_ACCOUNT``
    failures for the username from an address it never logged in from, or
    ``XUEJI_LOGIN_FREE_FAILURES_ADDRESS`` from the address: each further attempt waits twice
    as long; decision 0026); 503 ``login_busy`` with ``Retry-After`` (too many logins at
    once); to the right password only, 403 ``account_sealed`` (unused six months; the level
    above unseals it), ``account_locked`` (locked until ``locked_until``) or
    ``password_expired`` (older than ``XUEJI_PASSWORD_MAX_AGE_DAYS``, or
    the level above reset it: change it first). A success tells of the failed attempts since
    the last one (``failed_logins``)."""
    runtime = _runtime(request)
    now = runtime.clock.now()
    annotate(object_id=form.username[:60])
    login = await accounts.authenticate(
        runtime.sessions,
        AccountPolicy.of(runtime.settings),
        _attempt(request, form.username),
        form.password,
        now,
    )
    failed = login.failed
    principal = accounts.as_trained_as_required(login.principal, runtime.settings.federation_config)
    # Token lifetimes are wall-clock time (every verifier checks them so); the account rules
    # above run on runtime.clock, which tests move.
    return TokenRead(
        access_token=runtime.token_issuer.issue(principal, datetime.now(UTC)),
        expires_in=int(runtime.token_issuer.ttl.total_seconds()),
        failed_logins=FailedLoginsRead(
            count=failed.count, last_at=failed.last_at, message=failed.message()
        )
        if failed is not None
        else None,
    )


def _attempt(request: Request, username: str) -> Attempt:
    """The username and the client's address (the ingress's X-Forwarded-For, which uvicorn
    trusts from ``XUEJI_HTTP_FORWARDED_ALLOW_IPS``)."""
    return Attempt(username, request.client.host if request.client else "unknown")


@router.post(
    "/password",
    status_code=204,
    summary="Change a password (the current one proves who asks)",
    dependencies=[audited("change_password", "account", object_id=None), public()],
    responses=LOGIN_REFUSALS,
)
async def change_password(request: Request, body: PasswordChange) -> Response:
    """Works with an expired password too: that is how it is rotated. 422 ``weak_password``
    (at least 12 characters, not containing the username, not the old one)."""
    runtime = _runtime(request)
    annotate(object_id=body.username)
    await accounts.change_password(
        runtime.sessions,
        AccountPolicy.of(runtime.settings),
        _attempt(request, body.username),
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
    now = runtime.clock.now()
    async with _committing(runtime) as session:
        await accounts.seal_dormant(session, policy, now)
        rows = await accounts.list_accounts(session, ref)
        waits = await throttle.waits(session, policy.throttle, [r.username for r in rows], now)
    return AccountPage(unit=unit, items=[_account(row, policy, waits) for row in rows])


USERNAME = r"^[a-z0-9][a-z0-9._-]{2,59}$"
RULE_ACCOUNT_EXISTS = "account_exists"
RULE_TRAINING_REQUIRED = "training_required"


class AccountCreate(BaseModel):
    username: str = Field(pattern=USERNAME, examples=["li.registrar"])
    unit: str = Field(pattern=r"^(national|province|city|county|school):[0-9A-Z]{2,12}$")
    roles: list[Role] = Field(min_length=1, max_length=4)
    full_name: str | None = Field(default=None, max_length=60)
    phone: str | None = Field(default=None, max_length=20)
    trained_on: date | None = Field(
        default=None, description="when the registrar was trained (required for a registrar)"
    )


class AccountCreated(BaseModel):
    account: AccountRead
    one_time_password: str = Field(
        description="shown once, never stored in clear nor given again: the first login must "
        "replace it (POST /api/v1/auth/password)"
    )


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountCreated,
    summary="Create an account of the level below, with a one-time password",
    dependencies=[audited("create", "account", object_id=None)],
)
async def create_account(
    request: Request,
    body: AccountCreate,
    access: Annotated[Access, requires(Role.OPERATOR, unit=OBJECT, reach=Reach.PARENT)],
) -> AccountCreated:
    """An operator of the unit directly above ``unit`` (national's own operators for national)
    opens an account there. A registrar is trained first and reported to the level above
    (N2013 art. 23): ``trained_on`` is required for one (422 ``training_required``). 409
    ``account_exists`` for a username taken at this instance. The answer carries the one-time
    password, once; the first login must change it."""
    runtime = _runtime(request)
    annotate(object_id=body.username)
    ref = _ref(body.unit)
    access.check(ref, not_found=f"{body.unit} is not served here")
    if not runtime.hosts_unit(ref):
        raise NotFound(f"{body.unit} is not served here", rule="unit_not_visible")
    annotate(unit_kind=ref.tier.value, unit_code=ref.code)
    if Role.REGISTRAR in body.roles and body.trained_on is None:
        raise DomainError(
            "a registrar is trained before the account is opened: give trained_on",
            rule=RULE_TRAINING_REQUIRED,
            article="N2013 art. 23",
        )
    password = secrets.token_urlsafe(12)
    new = accounts.NewAccount(
        username=body.username,
        unit=ref,
        roles=frozenset(body.roles),
        password=password,
        full_name=body.full_name,
        phone=body.phone,
        trained_on=body.trained_on,
        must_change_password=True,
    )
    policy = AccountPolicy.of(runtime.settings)
    async with _committing(runtime) as session:
        if await accounts.get_account(session, body.username) is not None:
            raise Conflict(f"account {body.username} exists", rule=RULE_ACCOUNT_EXISTS)
        await accounts.create_account(session, new, runtime.clock.now())
        row = await accounts.get_account(session, body.username)
    return AccountCreated(account=_account(row, policy, {}), one_time_password=password)


class RegistrarRead(BaseModel):
    """An account of a unit directly below, as the level above sees it (N2013 art. 23)."""

    username: str
    unit: str
    roles: list[Role]
    full_name: str | None
    phone: str | None
    trained_on: date | None = Field(description="the training date; none: not yet trained")
    last_active_at: Timestamp = Field(description="the last login (or creation, unsealing)")
    sealed_at: Timestamp | None
    sealed_reason: str | None
    locked_until: Timestamp | None


class RegistrarPage(BaseModel):
    unit: str = Field(description="the level above whose units' accounts these are")
    items: list[RegistrarRead]


@router.get(
    "/accounts/below",
    response_model=RegistrarPage,
    summary="The accounts of the units directly below a unit, hosted here (N2013 art. 23)",
    dependencies=[
        audited("list", "account", object_id="unit"),
        requires(*READERS, Role.OPERATOR, unit=QueryUnit("unit"), reach=Reach.ABOVE),
    ],
)
async def list_accounts_below(
    request: Request,
    unit: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> RegistrarPage:
    """Registrars are trained first and reported to the level above (学籍管理员先培训后
    上岗, 其信息报上级备案): ``unit`` (``tier:code``; its own staff or a level above it)
    sees the accounts of every unit directly below it that this instance hosts (a county:
    its schools; a province: its counties, cities and province-run schools), with their
    training date, last activity and whether they are sealed or locked, by unit and
    username. A console asks each instance hosting such units. Dormant accounts are sealed
    before they are listed."""
    runtime = _runtime(request)
    above = _ref(unit)
    below = [u for u in runtime.units if units_above(runtime.federation, u)[:1] == (above,)]
    async with _committing(runtime) as session:
        await accounts.seal_dormant(
            session, AccountPolicy.of(runtime.settings), runtime.clock.now()
        )
        rows = await accounts.list_accounts_of(session, below, limit, offset)
    return RegistrarPage(unit=unit, items=[_registrar(row) for row in rows])


def _registrar(row: Any) -> RegistrarRead:
    return RegistrarRead(
        username=row.username,
        unit=f"{row.unit_tier}:{row.unit_code}",
        roles=[Role(r) for r in row.roles.split(",") if r],
        full_name=row.full_name,
        phone=row.phone,
        trained_on=row.trained_on,
        last_active_at=accounts.aware(row.last_active_at),
        sealed_at=_maybe(row.sealed_at),
        sealed_reason=row.sealed_reason,
        locked_until=_maybe(row.locked_until),
    )


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
        annotate(unit_kind=unit.tier.value, unit_code=unit.code)  # the unit's trail shows it
        await accounts.seal(
            session, username, access.principal.username, body.reason, runtime.clock.now()
        )
        row = await accounts.get_account(session, username)
    return _account(row, policy, {})


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
        annotate(unit_kind=unit.tier.value, unit_code=unit.code)  # the unit's trail shows it
        await accounts.unseal(session, username, access.principal.username, runtime.clock.now())
        row = await accounts.get_account(session, username)
    return _account(row, policy, {})


def _ref(unit: str) -> UnitRef:
    return UnitRef.parse(unit)


def _hosted(runtime: ServiceRuntime, unit: str) -> UnitRef:
    ref = _ref(unit)
    if ref.tier != runtime.tier or not runtime.hosts(ref.code):
        raise NotFound(f"{unit} is not served here")
    return ref


def _account(row: Any, policy: AccountPolicy, waits: dict[str, datetime]) -> AccountRead:
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
        failed_logins=row.failed_logins,
        throttled_until=waits.get(row.username),
    )


def _maybe(moment: datetime | None) -> datetime | None:
    return accounts.aware(moment) if moment is not None else None
