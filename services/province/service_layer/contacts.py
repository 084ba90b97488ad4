"""Non-basic information a school edits at the province (非基础学籍信息: guardians, contacts,
address; decision 0043). Not key fields: no authority approves them and national never holds
them; each edit is kept in section 1 of the archive (who, when, before and after)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.repository import ArchiveRepository
from services.province.domain.archive import EntryKind, Section
from shared.clock import CHINA
from shared.runtime.errors import DomainError, NotFound

log = logging.getLogger(__name__)

EDITABLE = ("guardians", "address", "phone")  # the non-basic fields a school edits here


@dataclass(frozen=True)
class Editor:
    """Who edits: the registrar's account and their school."""

    account: str
    unit: str


async def change_contacts(
    session: AsyncSession,
    province: str,
    school_code: str,
    student_number: str,
    values: Mapping[str, Any],
    editor: Editor,
    now: datetime,
) -> dict[str, Any]:
    """Apply the edit to the live archive of a student of ``school_code``; return the section
    1 entry's data. Refused: ``contacts_no_change`` (nothing differs), 404 ``archive_not_found``."""
    archives = ArchiveRepository(session, province)
    archive = await archives.active(student_number)
    if archive is None or archive.school_code != school_code:
        raise NotFound("no archive of this student at this school", rule="archive_not_found")
    current = dict(archive.extended)
    changed = {k: v for k, v in values.items() if k in EDITABLE and current.get(k) != v}
    if not changed:
        raise DomainError("no contact field would change", rule="contacts_no_change")
    reference = str(uuid.uuid4())
    data = {
        "before": {k: current.get(k) for k in changed},
        "after": changed,
        "changed_by": editor.account,
        "changed_unit": editor.unit,
        "school_code": school_code,
    }
    await archives.update(
        archive.archive_id, {"extended": {**current, **changed}, "updated_at": now}
    )
    await archives.add_entries(
        [
            {
                "archive_id": archive.archive_id,
                "section": Section.BASIC,
                "kind": EntryKind.CONTACTS_CHANGE,
                "occurred_on": now.astimezone(CHINA).date(),
                "recorded_at": now,
                "reference": reference,
                "data": data,
            }
        ]
    )
    log.info("archive %s: contacts changed (%s)", archive.archive_id, ", ".join(sorted(changed)))
    return data
