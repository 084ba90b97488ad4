"""Recording: one route-level declaration per endpoint writes its audit entry.

::

    @router.get("/{school_code}/students/{student_number}",
                dependencies=[audited("read", "student")])

The entry names the principal authentication put on ``request.state.principal`` (anonymous
until there is one), the client's address, the route, the object (by default the path's last
parameter that is not the unit) and the unit (the path's ``school_code`` / ``county_code`` /
``province_code``), the purpose the client gave in the ``X-Xueji-Purpose`` header
(percent-encoded UTF-8), and the outcome. It is written:

- **inside the request's own transaction** when the endpoint commits one (a change, a
  decision): a ``before_commit`` hook appends it just before the commit, so a change and its
  entry commit together and a rolled-back change leaves no entry (:func:`install`);
- otherwise after the endpoint returned and **before the response leaves** (reads), in a
  transaction of its own: if it cannot be written, the client gets a 500, not the data;
- for a refusal (4xx) or a failure, likewise after the endpoint, with the status and rule as
  the outcome; the request's change, if any, was rolled back.

The endpoint (or the service layer) can add what only it knows with :func:`annotate` (the
unit of a task found by id, the reason an officer gave). One entry per request: a list read
is one entry naming the unit (and the filter), never one per student.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.audit.chain import Entry, append_many, stage_many
from shared.audit.chaining import STAGED
from shared.db.engine import SessionFactory
from shared.runtime.errors import DomainError

log = logging.getLogger(__name__)

PURPOSE_HEADER = "X-Xueji-Purpose"
UNIT_PARAMETERS = {
    "school_code": "school",
    "county_code": "county",
    "city_code": "city",
    "province_code": "province",
}
ANONYMOUS = "anonymous"


class Actor(Protocol):
    """What the audit reads of ``shared.security``'s Principal."""

    @property
    def username(self) -> str: ...
    @property
    def unit_kind(self) -> str: ...
    @property
    def unit_code(self) -> str: ...
    @property
    def roles(self) -> frozenset[Any]: ...


@dataclass(frozen=True)
class Item:
    """One object of a request acting on several (e.g. one task of a bulk decision)."""

    object_id: str
    unit_kind: str | None
    unit_code: str | None
    purpose: str | None
    outcome: str


@dataclass
class Pending:
    """The entry of the request being served, filled in as the request goes."""

    request: Request
    action: str
    object_type: str
    object_id: str | None
    unit_kind: str | None
    unit_code: str | None
    purpose: str | None
    outcome: str = "ok"
    written: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)

    def entries(self, at: datetime, outcome: str) -> list[Entry]:
        """The request's entry, or one per item when the endpoint acted on several objects
        (:func:`record_item`) and succeeded: each names its object, unit, reason, outcome."""
        if not self.items or outcome != "ok":
            return [self.entry(at, outcome)]
        base = self.entry(at, outcome)
        return [
            replace(
                base,
                object_id=item.object_id,
                unit_kind=item.unit_kind,
                unit_code=item.unit_code,
                purpose=item.purpose or base.purpose,
                outcome=item.outcome,
            )
            for item in self.items
        ]

    def entry(self, at: datetime, outcome: str) -> Entry:
        actor: Actor | None = getattr(self.request.state, "principal", None)
        client = self.request.client
        route: Any = self.request.scope.get("route")
        return Entry(
            at=at,
            actor=actor.username if actor else ANONYMOUS,
            actor_unit=f"{actor.unit_kind}:{actor.unit_code}" if actor else "",
            actor_roles=",".join(sorted(str(r) for r in actor.roles)) if actor else "",
            client_ip=client.host if client else "",
            action=self.action,
            object_type=self.object_type,
            object_id=self.object_id,
            unit_kind=self.unit_kind,
            unit_code=self.unit_code,
            purpose=self.purpose,
            outcome=outcome,
            route=f"{self.request.method} {getattr(route, 'path', self.request.url.path)}",
        )


_pending: contextvars.ContextVar[Pending | None] = contextvars.ContextVar(
    "xueji_audit_pending", default=None
)


class AuditTrail:
    """A service's audit trail: its sessions, the chain key, its clock, and whether entries
    are chained in the writer's transaction (``inline``) or moments after its commit by the
    chainer (``deferred``, decision 0048: no writer waits for the chain's head)."""

    def __init__(
        self,
        sessions: SessionFactory,
        key: bytes | None,
        now: Callable[[], datetime],
        *,
        deferred: bool = False,
    ) -> None:
        self.sessions = sessions
        self.key = key
        self.now = now
        self.deferred = deferred

    def record(self, session: Session, entries: list[Entry]) -> None:
        """Write ``entries`` in ``session``'s transaction: chained, or pending for the chainer."""
        if self.deferred:
            stage_many(session, entries)
            session.info[STAGED] = True
        else:
            append_many(session, entries, self.key)

    async def write(self, *entries: Entry) -> None:
        """Write ``entries`` in a transaction of their own."""
        async with self.sessions() as session:
            await session.run_sync(self.record, list(entries))
            await session.commit()


def install(trail: AuditTrail) -> None:
    """Append the pending entry of the current request to the first transaction it commits."""
    session_class = trail.sessions.kw["sync_session_class"]

    @event.listens_for(session_class, "before_commit")
    def _before_commit(session: Session) -> None:
        pending = _pending.get()
        if pending is None or pending.written:
            return
        trail.record(session, pending.entries(trail.now(), pending.outcome))
        pending.written = True


def annotate(
    *,
    unit_kind: str | None = None,
    unit_code: str | None = None,
    object_id: str | None = None,
    purpose: str | None = None,
    outcome: str | None = None,
) -> None:
    """Complete the current request's entry with what only the endpoint knows (no-op outside).

    ``outcome``: for a refusal that still commits something (e.g. purging what it found
    expired), so the entry written with that commit says what the client was told.
    """
    pending = _pending.get()
    if pending is None:
        return
    if outcome is not None:
        pending.outcome = outcome
    if unit_kind is not None:
        pending.unit_kind, pending.unit_code = unit_kind, unit_code
    if object_id is not None:
        pending.object_id = object_id
    if purpose and not pending.purpose:
        pending.purpose = purpose


def record_item(
    object_id: str,
    *,
    unit_kind: str | None,
    unit_code: str | None,
    purpose: str | None = None,
    outcome: str = "ok",
) -> None:
    """Record one object of a request that acts on several (no-op outside a request): its
    entry replaces the request's single one, so an auditor finds every decided task by its
    id. Refused items are recorded too, with their outcome (e.g. ``refused 409 …``)."""
    pending = _pending.get()
    if pending is not None:
        pending.items.append(Item(object_id, unit_kind, unit_code, purpose, outcome))


def not_modified() -> None:
    """The request answers ``304 Not Modified``: no personal data leaves, so no entry is
    written (docs/decisions/0017-conditional-task-lists.md)."""
    pending = _pending.get()
    if pending is not None:
        pending.written = True


def outcome_of(exc: BaseException) -> str:
    """How an entry names a refusal or failure."""
    return _outcome(exc)


def _purpose(request: Request) -> str | None:
    raw = request.headers.get(PURPOSE_HEADER)
    return unquote(raw)[:500] if raw else None


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, RequestValidationError):
        return "refused 422 invalid request"
    if isinstance(exc, DomainError):
        return f"refused {exc.status_code} {exc.rule or ''}".rstrip()
    if isinstance(exc, HTTPException):
        return f"refused {exc.status_code}"
    return f"failed {type(exc).__name__}"


def audited(action: str, object_type: str, *, object_id: str | None = "") -> Any:
    """Declare an endpoint audited: ``dependencies=[audited("read", "student")]``.

    ``object_id`` names the path (or query) parameter identifying the object; by default the
    last path parameter that is not the unit; ``None`` for none (a list: the unit is the
    object). The unit is the first ``school_code`` / ``county_code`` / ``province_code`` of
    the path, else of the query.
    """

    async def record(request: Request) -> AsyncIterator[None]:
        path, query = request.path_params, request.query_params
        params = {**query, **path}  # a path parameter wins over a query parameter
        unit_name = next((name for name in (*path, *query) if name in UNIT_PARAMETERS), None)
        if object_id == "":
            others = [name for name in path if name != unit_name]
            object_name = others[-1] if others else None
        else:
            object_name = object_id
        pending = Pending(
            request=request,
            action=action,
            object_type=object_type,
            object_id=str(params[object_name]) if object_name in params else None,
            unit_kind=UNIT_PARAMETERS[unit_name] if unit_name else None,
            unit_code=str(params[unit_name]) if unit_name else None,
            purpose=_purpose(request),
        )
        token = _pending.set(pending)
        trail: AuditTrail = request.app.state.runtime.audit
        try:
            yield
        except BaseException as exc:
            if not pending.written:
                pending.written = True
                try:
                    await trail.write(*pending.entries(trail.now(), _outcome(exc)))
                except Exception:
                    log.exception("could not audit a refused or failed %s %s", action, object_type)
            raise
        else:
            if not pending.written:  # a read, or a change that committed nothing
                pending.written = True
                await trail.write(*pending.entries(trail.now(), "ok"))
        finally:
            with contextlib.suppress(ValueError):  # exited in another context: nothing to undo
                _pending.reset(token)

    record.audit = (action, object_type)  # type: ignore[attr-defined]
    return Depends(record, scope="function")


def audit_declaration(dependency: Callable[..., Any]) -> tuple[str, str] | None:
    """``(action, object type)`` if ``dependency`` is an :func:`audited` declaration."""
    declared = getattr(dependency, "audit", None)
    return declared if isinstance(declared, tuple) else None
