"""A school's data-security pledge (附表4, LS 7) in its document register: a valid pledge
whose signed and sealed scan was uploaded back is on file. One indexed lookup
(``ix_document_issued_subject``: unit, subject, kind, status) over the unit's few pledges."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from components.exports.domain import Unit
from components.exports.service import Pledge
from services.school.adapters.orm import document_tables

PLEDGE = "security_pledge"


async def school_pledge(session: AsyncSession, unit: Unit) -> Pledge:
    """A signed valid pledge if there is one, else the latest valid one printed."""
    issued, scan = document_tables.issued, document_tables.scan
    signed = scan.c.document_id.is_not(None)
    query = (
        select(issued.c.document_id, signed.label("signed"))
        .select_from(issued.outerjoin(scan, scan.c.document_id == issued.c.document_id))
        .where(
            issued.c.unit == str(unit),
            issued.c.subject.is_(None),
            issued.c.kind == PLEDGE,
            issued.c.status == "valid",
        )
        .order_by(signed.desc(), issued.c.issued_at.desc())
        .limit(1)
    )
    row = (await session.execute(query)).one_or_none()
    return Pledge(row.document_id, bool(row.signed)) if row is not None else Pledge(None, False)
