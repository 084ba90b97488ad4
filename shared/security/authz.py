"""Default-deny, declarative authorization: every route names who may call it.

A route declares its rule with :func:`requires` (or :func:`public`), as a route dependency or
as a parameter when the handler needs the :class:`Access` for an object-level check::

    @router.get("/schools/{school_code}/students",
                dependencies=[requires(*READERS, unit=PathUnit("school_code", Tier.SCHOOL))])

    @router.post("/tasks/{task_id}/decision")
    async def decide(task_id: UUID, access: Annotated[Access, requires(Role.APPROVER,
                     unit=OBJECT, reach=Reach.OWN)]) -> ...:
        task = ...; access.check(UnitRef(tier=Tier.COUNTY, code=task.authority_unit))

The dependency authenticates the bearer token (401 without a valid one), puts the
:class:`~shared.security.principal.Principal` on ``request.state.principal``, checks the roles
(403 ``role_required``) and, when the rule names where the unit comes from, whether the
principal may reach that unit (404 ``unit_not_visible``: a foreign unit's existence is not
revealed). ``reach`` says how: ``OWN`` (the unit itself), ``PARENT`` (the level directly
above, e.g. to unseal an account), ``ABOVE`` (the unit or any unit above it: its registry
authority, province, national). ``barred`` tiers never pass (national sees basic info only,
so the province's archives bar it). Units above a school follow its registry authority: a
province-direct school's level above is its province.

``tests/security/test_matrix.py`` reads every route's rule (``ACCESS_RULE``) and fails for a
route that declares none. Tokens are verified locally (``runtime.tokens``): no database
access per request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from shared.federation.config import NATIONAL, Federation, Tier, UnitRef
from shared.runtime.errors import DomainError, NotFound
from shared.security.principal import Principal, Role
from shared.security.tokens import InvalidToken

if TYPE_CHECKING:
    from shared.runtime.service import ServiceRuntime

TOKEN_URL = "/api/v1/auth/token"
ACCESS_RULE = "__access_rule__"

# Reading a unit's records: anyone of the unit's (or a superior unit's) staff but operators.
READERS = (Role.REGISTRAR, Role.APPROVER, Role.AUDITOR)

bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


class Forbidden(DomainError):
    status_code = 403


class Unauthenticated(DomainError):
    """401 (the app adds ``WWW-Authenticate: Bearer``)."""

    status_code = 401


class Reach(StrEnum):
    OWN = "own"
    PARENT = "parent"
    ABOVE = "above"


class UnitSource(Protocol):
    def resolve(self, request: Request) -> UnitRef | None: ...


@dataclass(frozen=True)
class PathUnit:
    """The unit is a path parameter, e.g. ``PathUnit("school_code", Tier.SCHOOL)``."""

    param: str
    tier: Tier

    def resolve(self, request: Request) -> UnitRef | None:
        return _unit(self.tier, request.path_params.get(self.param))


@dataclass(frozen=True)
class QueryUnit:
    """The unit is a query parameter: a code of ``tier``, or ``tier:code`` when tier is None.
    A missing or malformed one is 422 ``bad_unit``."""

    param: str
    tier: Tier | None = None

    def resolve(self, request: Request) -> UnitRef | None:
        value = request.query_params.get(self.param, "")
        tier, code = (self.tier, value) if self.tier is not None else value.partition(":")[::2]
        try:
            return UnitRef(tier=Tier(tier), code=code)
        except ValueError as exc:
            raise DomainError(
                f"{self.param} must name a unit (e.g. county:410102)", rule="bad_unit"
            ) from exc


@dataclass(frozen=True)
class FixedUnit:
    """The route acts on one unit whatever the request, e.g. national's operations."""

    unit: UnitRef

    def resolve(self, request: Request) -> UnitRef | None:
        return self.unit


@dataclass(frozen=True)
class ObjectUnit:
    """The route's object names its unit: the handler calls :meth:`Access.check`."""

    def resolve(self, request: Request) -> UnitRef | None:
        return None


OBJECT = ObjectUnit()
NATIONAL_UNIT = FixedUnit(NATIONAL)


@dataclass(frozen=True)
class AccessRule:
    roles: frozenset[Role]
    unit: UnitSource | None
    reach: Reach = Reach.ABOVE
    barred: frozenset[Tier] = frozenset()

    @property
    def public(self) -> bool:
        return self.unit is None


def units_above(federation: Federation, unit: UnitRef) -> tuple[UnitRef, ...]:
    """The units above ``unit``, nearest first (a school: its registry authority first)."""
    if unit.tier == Tier.SCHOOL:
        school = federation.school(unit.code)
        if school is None:
            return ()
        authority = school.authority_unit
        province = UnitRef(tier=Tier.PROVINCE, code=school.province)
        return (authority, NATIONAL) if authority == province else (authority, province, NATIONAL)
    if unit.tier == Tier.COUNTY:
        county = federation.county(unit.code)
        if county is None:
            return ()
        return (UnitRef(tier=Tier.PROVINCE, code=county.province), NATIONAL)
    if unit.tier == Tier.CITY:
        city = federation.city(unit.code)
        if city is None:
            return ()
        return (UnitRef(tier=Tier.PROVINCE, code=city.province), NATIONAL)
    if unit.tier == Tier.PROVINCE:
        return (NATIONAL,)
    return ()


def principal_unit(principal: Principal) -> UnitRef:
    return _unit(principal.unit_kind, principal.unit_code)


def may_reach(
    federation: Federation,
    principal: Principal,
    target: UnitRef,
    reach: Reach = Reach.ABOVE,
    barred: frozenset[Tier] = frozenset(),
) -> bool:
    """Whether ``principal`` may act on ``target`` under ``reach``."""
    own = principal_unit(principal)
    if _NOWHERE in (own, target) or own.tier in barred:
        return False
    if reach == Reach.OWN:
        return own == target
    above = units_above(federation, target)
    if reach == Reach.PARENT:
        # the top has no level above: national's own operators act for national
        return own == above[0] if above else own == target
    return own == target or own in above


@dataclass(frozen=True)
class Access:
    """The authenticated principal and the route's rule, for object-level checks."""

    principal: Principal
    rule: AccessRule
    federation: Federation

    def may(self, unit: UnitRef) -> bool:
        return may_reach(self.federation, self.principal, unit, self.rule.reach, self.rule.barred)

    def check(self, *units: UnitRef, not_found: str | None = None, rule: str | None = None) -> None:
        """Pass if the principal may reach any of ``units``; 404 otherwise (``not_found``
        should read like the object's own not-found answer, so nothing is revealed)."""
        if not any(self.may(unit) for unit in units):
            raise NotFound(
                not_found or "not found",
                rule=rule or "unit_not_visible",
            )

    def visible(self, units: Iterable[UnitRef]) -> bool:
        return any(self.may(unit) for unit in units)

    def sees(self, tier: Tier, hosts: Callable[[str], bool]) -> Callable[[str], bool]:
        """``hosts`` narrowed to the units of ``tier`` this principal may reach: the object
        lookups of the service layer take such a predicate and answer 404 past it."""
        return lambda code: hosts(code) and self.may(_unit(tier, code))


def requires(
    *roles: Role,
    unit: UnitSource,
    reach: Reach = Reach.ABOVE,
    barred: Iterable[Tier] = (),
) -> Any:
    """The dependency of a protected route: a valid token, one of ``roles``, and (unless
    ``unit`` is :data:`OBJECT`) a principal that may reach the unit ``unit`` names."""
    if not roles:
        raise ValueError("a protected route names at least one role")
    rule = AccessRule(frozenset(roles), unit, reach, frozenset(barred))

    async def authorize(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Access:
        runtime = _runtime(request)
        principal = authenticate(runtime, token)
        request.state.principal = principal
        if not principal.has_any(rule.roles):
            raise Forbidden(
                f"this needs the role {' or '.join(sorted(rule.roles))}", rule="role_required"
            )
        check_trained(principal, rule, request.method)
        access = Access(principal, rule, runtime.federation)
        target = unit.resolve(request)
        if target is not None:
            access.check(target, not_found=f"{target} is not served here")
        elif not isinstance(unit, ObjectUnit):
            raise NotFound("no such unit", rule="unit_not_visible")
        return access

    setattr(authorize, ACCESS_RULE, rule)
    return Depends(authorize)


# What an untrained account may not do with these roles (N2013 art. 23): anything but read.
NEEDS_TRAINING = frozenset({Role.REGISTRAR, Role.APPROVER})
READING = frozenset({"GET", "HEAD", "OPTIONS"})


def check_trained(principal: Principal, rule: AccessRule, method: str) -> None:
    """403 ``account_untrained`` for a change asked by an account without a training date
    (where the province requires one: the token says so), unless another role of the account
    that needs no training (an operator's, an auditor's) is one the route accepts."""
    if principal.trained or method in READING:
        return
    if not rule.roles & (principal.roles - NEEDS_TRAINING):
        raise Forbidden(
            "this account has no training date: it may read, but not register, decide or export",
            rule="account_untrained",
            article="N2013 art. 23",
        )


def public() -> Any:
    """The dependency of a route anyone may call (health, the token endpoint)."""

    async def anyone(request: Request) -> None:
        request.state.principal = None

    setattr(anyone, ACCESS_RULE, AccessRule(frozenset(), None))
    return Depends(anyone)


def authenticate(runtime: ServiceRuntime, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated(
            "not authenticated: log in at " + TOKEN_URL, rule="authentication_required"
        )
    try:
        return runtime.tokens.verify(token)
    except InvalidToken as exc:
        raise Unauthenticated("the token is invalid or expired", rule="invalid_token") from exc


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _unit(tier: str, code: str | None) -> UnitRef:
    try:
        return UnitRef(tier=Tier(tier), code=code or "")
    except ValueError:
        return _nowhere()


_NOWHERE = UnitRef(tier=Tier.NATIONAL, code="XX")


def _nowhere() -> UnitRef:
    """A unit no principal reaches: a malformed unit answers like a foreign one."""
    return _NOWHERE
