"""The register of issued documents: record an issue, look a code up, revoke.

A document stays ``valid`` until it is revoked (an officer's act, with a reason) or
``superseded`` by a newer document of the same kind for the same student from the same unit:
a reader holding an old proof learns that a newer one exists, and nothing else. Writes are
set-based (one UPDATE and one multi-row INSERT per issue, whatever the batch size).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from components.documents.tables import DocumentTables


class DocumentStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Issue:
    """One document being issued."""

    document_id: str
    code: str
    kind: str
    unit: str
    unit_name: str
    subject: str | None
    issued_at: datetime
    issued_on: date
    issued_by: str
    purpose: str | None


@dataclass(frozen=True)
class Recorded:
    """A document as the register knows it (what a verification answers from)."""

    document_id: str
    code: str
    kind: str
    unit: str
    unit_name: str
    subject: str | None
    issued_on: date
    status: DocumentStatus


@dataclass(frozen=True)
class Scan:
    """The signed paper of a document, scanned and uploaded back."""

    filename: str
    content: bytes
    uploaded_by: str
    uploaded_at: datetime


class DocumentRegister:
    def __init__(self, tables: DocumentTables) -> None:
        self.table = tables.issued
        self.scans = tables.scan

    async def record(self, session: AsyncSession, issues: Sequence[Issue]) -> None:
        """Record ``issues``; each supersedes the valid documents of its kind and student."""
        if not issues:
            return
        t = self.table
        keys = [(i.unit, i.subject, i.kind) for i in issues if i.subject is not None]
        if keys:
            await session.execute(
                update(t)
                .where(
                    tuple_(t.c.unit, t.c.subject, t.c.kind).in_(keys),
                    t.c.status == DocumentStatus.VALID,
                )
                .values(
                    status=DocumentStatus.SUPERSEDED,
                    changed_at=issues[0].issued_at,
                    reason="superseded by a newer document",
                )
            )
        await session.execute(
            insert(t),
            [
                {
                    "document_id": i.document_id,
                    "code": i.code,
                    "kind": i.kind,
                    "unit": i.unit,
                    "unit_name": i.unit_name,
                    "subject": i.subject,
                    "issued_at": i.issued_at,
                    "issued_on": i.issued_on,
                    "issued_by": i.issued_by,
                    "purpose": i.purpose,
                    "status": DocumentStatus.VALID,
                }
                for i in issues
            ],
        )

    async def by_code(self, session: AsyncSession, code: str) -> Recorded | None:
        row = (await session.execute(select(self.table).where(self.table.c.code == code))).first()
        return None if row is None else _recorded(row)

    async def by_id(self, session: AsyncSession, document_id: str) -> Recorded | None:
        t = self.table
        row = (await session.execute(select(t).where(t.c.document_id == document_id))).first()
        return None if row is None else _recorded(row)

    async def revoke(
        self, session: AsyncSession, document_id: str, *, reason: str, at: datetime
    ) -> bool:
        """Revoke a valid document; False if it is not valid (already revoked or superseded)."""
        t = self.table
        result = await session.execute(
            update(t)
            .where(t.c.document_id == document_id, t.c.status == DocumentStatus.VALID)
            .values(status=DocumentStatus.REVOKED, changed_at=at, reason=reason)
        )
        return bool(getattr(result, "rowcount", 0))

    async def supersede(
        self, session: AsyncSession, document_id: str, *, reason: str, at: datetime
    ) -> bool:
        """Mark a valid document superseded by a document of another kind (a 证明书 for a lost
        certificate); False if it no longer stands."""
        t = self.table
        result = await session.execute(
            update(t)
            .where(t.c.document_id == document_id, t.c.status == DocumentStatus.VALID)
            .values(status=DocumentStatus.SUPERSEDED, changed_at=at, reason=reason)
        )
        return bool(getattr(result, "rowcount", 0))

    async def store_scan(self, session: AsyncSession, document_id: str, scan: Scan) -> None:
        """Keep the scan of ``document_id`` (a new upload replaces the earlier one)."""
        t = self.scans
        await session.execute(delete(t).where(t.c.document_id == document_id))
        await session.execute(
            insert(t).values(
                document_id=document_id,
                filename=scan.filename,
                size=len(scan.content),
                content=scan.content,
                uploaded_by=scan.uploaded_by,
                uploaded_at=scan.uploaded_at,
            )
        )

    async def read_scan(self, session: AsyncSession, document_id: str) -> Scan | None:
        t = self.scans
        row = (await session.execute(select(t).where(t.c.document_id == document_id))).first()
        if row is None:
            return None
        return Scan(row.filename, row.content, row.uploaded_by, row.uploaded_at)


def _recorded(row: Row[Any]) -> Recorded:
    return Recorded(
        document_id=row.document_id,
        code=row.code,
        kind=row.kind,
        unit=row.unit,
        unit_name=row.unit_name,
        subject=row.subject,
        issued_on=row.issued_on,
        status=DocumentStatus(row.status),
    )
