"""Non-basic information a school edits at the province (非基础学籍信息: guardians, contacts,
address, and the hukou place where the province does not list it as a key field; decision
0043). No authority approves these and national never holds them; each edit is kept in
section 1 of the archive (who, when, before and after)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.province.adapters.repository import ArchiveRepository
from services.province.domain.archive import EntryKind, Section
from shared.clock import CHINA
from shared.runtime.errors import DomainError, NotFound

log = logging.getLogger(__name__)

# the non-basic fields a school edits here; ``hukou_region`` (户籍所在地) only where the
# province's ``[key_fields] fields`` do not list ``hukou_place``
EDITABLE = ("guardians", "address", "phone", "hukou_region")
HUKOU_PLACE = "hukou_place"


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
    key_fields: Collection[str] = (),
) -> dict[str, Any]:
    """Apply the edit to the live archive of a student of ``school_code``; return the section
    1 entry's data. ``key_fields``: the province's ``[key_fields] fields``. Refused:
    ``hukou_place_is_key_field`` (the province lists the hukou place as a key field: only the
    authority changes it, N2013 art. 10), ``contacts_no_change`` (nothing differs), 404
    ``archive_not_found``."""
    if "hukou_region" in values and HUKOU_PLACE in key_fields:
        raise DomainError(
            "the province lists the hukou place as a key field: it changes on the guardian's "
            "application with proof, approved by the authority",
            rule="hukou_place_is_key_field",
            article="N2013 art. 10",
        )
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
