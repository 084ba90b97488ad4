"""What national answers a client system's status check from (N2025 art. 24): the basic
registry, by student number (``registry_entry``'s unique key) or by identity-document number
(``uq_registry_entry_document``); the school's county from the federation configuration."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from components.status_checks.domain import Facts
from components.status_checks.http import Lookup
from services.national.adapters.orm import RegistryEntry
from shared.federation.config import Federation


def registry_lookup(federation: Federation) -> Lookup:
    async def lookup(
        session: AsyncSession, student_number: str | None, id_number: str | None
    ) -> Facts | None:
        query = select(RegistryEntry)
        if student_number is not None:
            query = query.where(RegistryEntry.student_number == student_number)
        else:
            query = query.where(RegistryEntry.id_number == id_number).limit(1)
        entry = (await session.execute(query)).scalar_one_or_none()
        if entry is None:
            return None
        school = federation.school(entry.school_code)
        return Facts(
            student_number=entry.student_number,
            status=entry.status,
            grade=entry.grade,
            school=entry.school_code,
            county=school.county if school is not None else entry.school_code[:6],
            province=entry.province_code,
            name=entry.name,
        )

    return lookup
