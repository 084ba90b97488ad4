"""Issuing documents and answering verifications, for a hosting service.

The hosting service gathers what a document prints (a :class:`Draft`) and calls
:meth:`Documents.issue` in its request's unit of work: each draft gets an id, a short code
and a statement signed with the instance's key, and is recorded in the register (committed
with the request's audit entry). :meth:`Documents.render` then turns the drafts into one PDF.
Verifications answer from the register and the statement only: genuine or not, who issued
it and when, and whether it still stands (decision 0036).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from components.documents import statements
from components.documents.registry import DocumentRegister, DocumentStatus, Issue, Recorded
from components.documents.render import (
    PARALLEL_FROM,
    Renderer,
    render_batch,
    render_each,
    renderer,
)
from components.documents.statements import NotGenuine, PublishedKey, Statement
from components.documents.tables import DocumentTables
from shared.federation.config import UnitRef
from shared.messaging.signing import Signer, TrustStore


@dataclass(frozen=True)
class Draft:
    """One document to issue: its kind, the issuing unit, the student, what it prints."""

    kind: str
    unit: UnitRef
    unit_name: str
    subject: str | None
    subject_name: str | None
    context: Mapping[str, Any]
    signed: bool = True  # proof-type documents carry a statement; application forms do not


@dataclass(frozen=True)
class Issued:
    """A draft once issued: the template context with its footer, and its register entry."""

    document_id: str
    code: str
    statement: str | None
    context: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Verdict:
    """All a verification answers: genuine, issued by whom and when, and whether it stands."""

    genuine: bool
    kind: str | None = None
    issuer: str | None = None
    issuer_name: str | None = None
    issued_on: date | None = None
    status: DocumentStatus | None = None


class Documents:
    """A service's documents: its signing key, the federation's keys, its register."""

    def __init__(self, signer: Signer, trust: TrustStore, tables: DocumentTables) -> None:
        self.signer = signer
        self.trust = trust
        self.register = DocumentRegister(tables)
        self._renderer: Renderer | None = None

    def published_keys(self) -> dict[str, PublishedKey]:
        """The federation's keys with the units each speaks for (what the JWKS publishes)."""
        return {
            key.key_id: PublishedKey(
                key_id=key.key_id,
                instance=key.instance,
                units=frozenset(f"{key.tier.value}:{code}" for code in key.units),
                public_key=key.public_key,
                areas=key.areas,
            )
            for key in self.trust
        }

    def jwks(self) -> dict[str, Any]:
        return statements.jwks(self.published_keys().values())

    async def issue(
        self,
        session: AsyncSession,
        drafts: Sequence[Draft],
        *,
        issued_by: str,
        purpose: str | None,
        now: datetime,
        today: date,
    ) -> list[Issued]:
        """Sign and record ``drafts`` (in ``session``'s transaction; the caller commits)."""
        issued = [self._issue_one(draft, now, today) for draft in drafts]
        await self.register.record(
            session,
            [
                Issue(
                    document_id=one.document_id,
                    code=one.code,
                    kind=draft.kind,
                    unit=str(draft.unit),
                    unit_name=draft.unit_name,
                    subject=draft.subject,
                    issued_at=now,
                    issued_on=today,
                    issued_by=issued_by,
                    purpose=purpose,
                )
                for draft, one in zip(drafts, issued, strict=True)
            ],
        )
        return issued

    def _issue_one(self, draft: Draft, now: datetime, today: date) -> Issued:
        document_id, code = str(uuid.uuid4()), statements.new_code()
        token = None
        if draft.signed:
            statement = Statement(
                document_id=document_id,
                code=code,
                kind=draft.kind,
                issuer=str(draft.unit),
                issuer_name=draft.unit_name,
                issued_on=today,
                issued_at=int(now.timestamp()),
                subject=draft.subject,
                subject_name=draft.subject_name,
            )
            token = statements.sign(statement, self.signer.key_id, self.signer.private_key)
        footer = {
            "issuer_name": draft.unit_name,
            "unit_code": draft.unit.code,
            "issued_on": today,
            "code": statements.format_code(code),
            "qr": None,  # drawn from the statement when the page is rendered (render.with_qr)
            "statement": token,
        }
        return Issued(document_id, code, token, {**draft.context, "footer": footer})

    async def render(self, template: str, issued: Sequence[Issued]) -> bytes:
        """One PDF of ``issued`` (rendered off the event loop: it is CPU work; a large batch
        on every core, ``render.render_batch``)."""
        if self._renderer is None:
            self._renderer = await asyncio.to_thread(renderer)
        contexts = [one.context for one in issued]
        if len(contexts) >= PARALLEL_FROM:
            return await asyncio.to_thread(render_batch, template, contexts)
        return await asyncio.to_thread(self._renderer.render, template, contexts)

    async def render_each(self, template: str, issued: Sequence[Issued]) -> list[bytes]:
        """One PDF per document of ``issued`` (a zip's entries), large batches on every core."""
        return await asyncio.to_thread(render_each, template, [one.context for one in issued])

    async def verify_code(self, session: AsyncSession, code: str) -> Verdict:
        """What the register says of the document printed with ``code``."""
        recorded = await self.register.by_code(session, statements.normalise_code(code))
        return Verdict(genuine=False) if recorded is None else _verdict(recorded)

    async def verify_statement(self, session: AsyncSession, token: str) -> Verdict:
        """Check a scanned statement: its signature (by a key speaking for its issuer), then
        the register's word on it, which must agree with what it states."""
        try:
            statement = statements.verify(token, self.published_keys())
        except NotGenuine:
            return Verdict(genuine=False)
        recorded = await self.register.by_id(session, statement.document_id)
        if recorded is None or (recorded.code, recorded.unit) != (statement.code, statement.issuer):
            return Verdict(genuine=False)
        return _verdict(recorded)


def _verdict(recorded: Recorded) -> Verdict:
    return Verdict(
        genuine=True,
        kind=recorded.kind,
        issuer=recorded.unit,
        issuer_name=recorded.unit_name,
        issued_on=recorded.issued_on,
        status=recorded.status,
    )
