"""``GET /api/v1/audit``: the auditor's view of this service's audit trail.

Filters: ``unit`` (``county:410102`` — that unit and every unit under it, by division-code
prefix: a school code begins with its county's code, a county's with its province's;
``national:CN`` is everything), ``actor``, ``object_id``, ``from`` / ``to`` (instants, ISO
8601), keyset pages by ``seq`` (``after``). Reading the trail is itself audited.

Who may: an auditor (role ``auditor``) of the unit asked for or of a unit above it; without
``unit`` the auditor's own unit. Another unit's trail is ``404 unit_not_visible``, like every
foreign unit (shared/security/authz.py): its existence is not revealed.

``GET /api/v1/audit/chain``: whether this instance's chain, the one the unit's entries are in,
holds — verified from the last entry found whole up to the head (decision 0010, 0027).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Select, select

from shared.audit.recording import Actor, audited
from shared.audit.tables import audit_entry
from shared.clock import Timestamp
from shared.db.types import SQL_INT_MAX
from shared.runtime.errors import DomainError, NotFound
from shared.security.authz import OBJECT, requires
from shared.security.principal import Role

UNIT_REF = r"^(national|province|county|school):[0-9A-Z]{2,12}$"


class Forbidden(DomainError):
    status_code = 403


class Unauthenticated(DomainError):
    status_code = 401


class AuditEntryRead(BaseModel):
    seq: int
    at: Timestamp
    actor: str
    actor_unit: str
    actor_roles: str
    client_ip: str
    action: str
    object_type: str
    object_id: str | None
    unit: str | None
    purpose: str | None
    outcome: str
    route: str
    hash: str

    @classmethod
    def of(cls, row: Any) -> AuditEntryRead:
        unit = f"{row.unit_kind}:{row.unit_code}" if row.unit_kind else None
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "unit"}
        return cls(unit=unit, **fields)


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_after: int | None


def covers(outer_kind: str, outer_code: str, inner_kind: str, inner_code: str) -> bool:
    """Is ``inner`` the unit ``outer`` or under it? (division codes nest by prefix)"""
    if outer_kind == "national":
        return True
    if inner_kind == "national":
        return False
    return inner_code.startswith(outer_code)


def _scope(request: Request, unit: str | None) -> tuple[str, str]:
    """The unit to filter by, refused (403) unless the principal audits it or a unit above."""
    actor: Actor | None = getattr(request.state, "principal", None)
    if actor is None:  # authentication runs first (requires below); never serve the trail open
        raise Unauthenticated("the audit trail needs an authenticated auditor", rule="audit_role")
    if "auditor" not in {str(role) for role in actor.roles}:
        raise Forbidden("reading the audit trail needs the auditor role", rule="audit_role")
    kind, code = unit.split(":", 1) if unit else (actor.unit_kind, actor.unit_code)
    if not covers(actor.unit_kind, actor.unit_code, kind, code):
        raise NotFound(
            f"{actor.unit_kind}:{actor.unit_code} does not audit {kind}:{code}",
            rule="unit_not_visible",
        )
    return kind, code


def _unit_filter(query: Select[Any], kind: str, code: str) -> Select[Any]:
    if kind == "national":
        return query
    # A prefix as a range: any B-tree index serves it, whatever the collation.
    upper = code[:-1] + chr(ord(code[-1]) + 1)
    return query.where(audit_entry.c.unit_code >= code, audit_entry.c.unit_code < upper)


def _utc(value: datetime) -> datetime:
    """Entries are stored in UTC (SQLite compares the text): convert, naive taken as UTC."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+00:01 is before year 1 in UTC
        raise DomainError(
            "from/to is outside the years 1-9999 once converted to UTC", rule="invalid_time"
        ) from None


router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    dependencies=[
        audited("read", "audit_trail", object_id=None),
        # the unit asked for is checked below (_scope): the auditor's own or one under it
        requires(Role.AUDITOR, unit=OBJECT),
    ],
    response_model=AuditPage,
    summary="Audit entries: who read or changed what, when, from where, why",
)
async def list_entries(
    request: Request,
    unit: Annotated[str | None, Query(pattern=UNIT_REF, examples=["county:410102"])] = None,
    actor: Annotated[str | None, Query(max_length=60)] = None,
    object_id: Annotated[str | None, Query(max_length=80)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    after: Annotated[
        int | None, Query(ge=0, le=SQL_INT_MAX, description="next_after of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Entries in ``seq`` order (oldest first), each with its chain hash."""
    scope = _scope(request, unit)
    query = select(audit_entry).order_by(audit_entry.c.seq).limit(limit)
    query = _unit_filter(query, *scope)
    if actor is not None:
        query = query.where(audit_entry.c.actor == actor)
    if object_id is not None:
        query = query.where(audit_entry.c.object_id == object_id)
    if from_ is not None:
        query = query.where(audit_entry.c.at >= _utc(from_))
    if to is not None:
        query = query.where(audit_entry.c.at < _utc(to))
    if after is not None:
        query = query.where(audit_entry.c.seq > after)
    async with request.app.state.runtime.sessions() as session:
        rows = (await session.execute(query)).all()
    items = [AuditEntryRead.of(row) for row in rows]
    return AuditPage(items=items, next_after=items[-1].seq if len(items) == limit else None)


class ChainBreakRead(BaseModel):
    seq: int = Field(description="the first entry that does not hold")
    reason: str


class ChainStatusRead(BaseModel):
    """This instance's audit chain as its last verification found it."""

    instance: str
    status: Literal["whole", "broken", "verifying"] = Field(
        description="verifying: a walk (e.g. the first one after a start) is under way"
    )
    head_seq: int = Field(description="the chain's last entry")
    verified_seq: int = Field(description="the last entry found whole")
    verified_at: Timestamp | None
    broken: ChainBreakRead | None
    pending: int = Field(
        0,
        description="entries written but not chained yet: linked moments later by the chainer "
        "(deferred chaining, decision 0048); not covered by the verification until then",
    )


@router.get(
    "/chain",
    dependencies=[
        audited("verify", "audit_chain", object_id=None),
        requires(Role.AUDITOR, unit=OBJECT),
    ],
    response_model=ChainStatusRead,
    summary="Whether this instance's audit chain holds (verified up to its head now)",
)
async def chain_status(
    request: Request,
    unit: Annotated[str | None, Query(pattern=UNIT_REF, examples=["county:410102"])] = None,
) -> ChainStatusRead:
    """The chain that holds ``unit``'s entries is this instance's: it is verified from the last
    entry found whole (by this call or the anchoring round) up to the head, then answered. A
    first walk of the whole chain after a start runs in the anchoring round: meanwhile the
    answer is ``verifying``."""
    _scope(request, unit)
    runtime = request.app.state.runtime
    state = await runtime.anchoring.chain_state()
    return ChainStatusRead(
        instance=runtime.instance.name,
        status="verifying" if state.running else ("whole" if state.broken is None else "broken"),
        head_seq=state.head_seq,
        verified_seq=state.verified_seq,
        verified_at=state.verified_at,
        broken=ChainBreakRead(seq=state.broken.seq, reason=state.broken.reason)
        if state.broken
        else None,
        pending=state.pending,
    )
