"""Use case: read the basic registry (national statistics, other systems' verification).

Only basic info is here to read (N2025 arts. 5, 23). Whoever queries is accountable (ZJ art.
30): every read is logged with the internal entry id or the school, never personal data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.national.adapters.orm import RegistryEntry
from services.national.adapters.repository import NationalRepository
from services.national.service_layer.key_fields import find_entry
from shared.resident_id import normalise
from shared.runtime.errors import NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lookup:
    """The entry a number names; ``superseded`` when it was asked for by an old number."""

    entry: RegistryEntry
    superseded: bool


async def look_up(repo: NationalRepository, student_number: str) -> Lookup:
    """The entry with this student number now, or the one this old number was replaced by."""
    entry = await find_entry(repo, student_number)
    if entry is None:
        raise NotFound("no registration has this student number", rule="unknown_student_number")
    log.info("registry entry %s read", entry.entry_id)
    return Lookup(entry, superseded=entry.student_number != normalise(student_number))


async def school_page(
    repo: NationalRepository, school_code: str, *, after: str | None, limit: int
) -> list[RegistryEntry]:
    """One page of a school's entries, in student-number order."""
    entries = await repo.entries_of_school(school_code, after=after, limit=limit)
    log.info("registry of school %s listed: %d entries", school_code, len(entries))
    return entries
