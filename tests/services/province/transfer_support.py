"""Province services for transfer tests: any province instance of one federation copy, on
its own migrated database, with today pinned; runtimes not started (handlers are applied
directly, emitted messages wait in each outbox and can be applied to the other province)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from services.province.adapters.repository import ArchiveRepository
from services.province.bootstrap import build_app
from shared.contracts.registration import RegistrationBatchDecided, RegistrationOutcome
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import StudentSummary, TransferCompleted
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.envelope import Contract, Envelope
from shared.messaging.testing import InProcessDelivery
from shared.resident_id import student_number_for
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.testing import UnitAuth
from tests.components.approval_desk.support import (
    basic,
    batch,
    filing,
    migrate,
    settings_for,
    staged,
)

TODAY = date(2026, 9, 7)
ZHONGYUAN_PRIMARY = "4101020001"  # Henan (41)
JINSHUI_PRIMARY = "4101050001"  # Henan (41), another county
HANGZHOU_PRIMARY = "3301020001"  # Zhejiang (33)


def province_ref(code: str) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=code)


@dataclass
class Province:
    code: str
    runtime: ServiceRuntime
    client: httpx.AsyncClient

    @property
    def unit(self) -> UnitRef:
        return province_ref(self.code)

    @property
    def delivery(self) -> InProcessDelivery:
        return InProcessDelivery(self.runtime.sessions, self.runtime.handlers)

    async def deliver(self, payload: Contract, source: UnitRef = NATIONAL) -> Envelope:
        delivered = await self.delivery.deliver(payload, source=source, target=self.unit)
        return delivered.envelope

    async def apply(self, envelope: Envelope) -> None:
        """Apply a message another service staged for this province."""
        assert envelope.target == self.unit
        await self.delivery.apply([envelope])

    async def staged(self, message_type: str | None = None) -> list[Envelope]:
        return await staged(self.runtime, message_type)

    async def archived_student(self, school: str, **overrides: Any) -> BasicInfo:
        """A student of ``school`` whose archive is active here (filed, number issued)."""
        [info] = await archived_students([self], school, basic(**overrides))
        return info

    async def apply_at_once(self, envelopes: Sequence[Envelope]) -> None:
        """Apply a run of messages of one type as the consumer applies a delivery batch's run
        (at once, through the set-based handler), in one transaction."""
        [message_type] = {e.type for e in envelopes}
        [version] = {e.schema_version for e in envelopes}
        many = self.runtime.handlers.many(message_type, version)
        assert many is not None, f"no set-based handler for {message_type}"
        await self.delivery.apply(envelopes)

    async def deliver_at_once(
        self, payloads: Sequence[Contract], source: UnitRef = NATIONAL
    ) -> list[Envelope]:
        delivered = await self.delivery.deliver_run(payloads, source=source, target=self.unit)
        return delivered.envelopes

    async def add_discipline(
        self, student_number: str, *, reference: str, on: date, **data: Any
    ) -> None:
        """A discipline record in the student's archive (section ``discipline``)."""
        await self._add_entry(student_number, "discipline", reference, on, data)

    async def lift_discipline(self, student_number: str, *, reference: str, on: date) -> None:
        await self._add_entry(student_number, "discipline_lifted", reference, on, {})

    async def _add_entry(
        self, number: str, kind: str, reference: str, on: date, data: dict[str, Any]
    ) -> None:
        async with self.runtime.sessions() as session, session.begin():
            archives = ArchiveRepository(session, self.code)
            archive = await archives.active(number)
            assert archive is not None
            await archives.add_entries(
                [
                    {
                        "archive_id": archive.archive_id,
                        "section": "discipline",
                        "kind": kind,
                        "occurred_on": on,
                        "recorded_at": datetime.now(UTC),
                        "reference": reference,
                        "data": data,
                    }
                ]
            )


async def archived_students(
    provinces: Sequence[Province], school: str, *infos: BasicInfo
) -> tuple[BasicInfo, ...]:
    """Students of ``school`` whose archives are active in each of ``provinces`` (the same
    filing and decision delivered to each: the same archive ids everywhere)."""
    submitted = batch(school, *infos)
    school_unit = UnitRef(tier=Tier.SCHOOL, code=school)
    decided = RegistrationBatchDecided(
        batch_id=submitted.batch_id,
        school_code=school,
        decided_by="national:CN",
        outcomes=tuple(
            RegistrationOutcome(
                registration_id=item.registration_id,
                outcome="issued",
                student_number=student_number_for(item.basic.id_number or ""),
            )
            for item in submitted.items
        ),
    )
    for province in provinces:
        await province.deliver(filing(submitted), source=school_unit)
        await province.deliver(decided)
    return tuple(item.basic for item in submitted.items)


def number_of(info: BasicInfo) -> str:
    return student_number_for(info.id_number or "")


def completed(
    info: BasicInfo,
    *,
    from_school: str = ZHONGYUAN_PRIMARY,
    to_school: str = JINSHUI_PRIMARY,
    archive_due_on: date = date(2026, 10, 7),
    transfer_id: uuid.UUID | None = None,
) -> TransferCompleted:
    return TransferCompleted(
        transfer_id=transfer_id or uuid.uuid4(),
        student_number=number_of(info),
        from_school=from_school,
        to_school=to_school,
        grade=info.grade,
        class_name="一年级1班",
        # registration entries are dated by the real clock: the transfer comes after them
        completed_at=datetime.now(UTC),
        archive_due_on=archive_due_on,
        student=StudentSummary(
            name=info.name, gender=info.gender, birth_date=info.birth_date, grade=info.grade
        ),
        basic=info,
    )


@asynccontextmanager
async def province_service(config: Path, code: str, database_url: str) -> AsyncIterator[Province]:
    """Province ``code`` (instance ``province-<code>``) of the federation copy ``config``."""
    await migrate("province", database_url)
    settings = settings_for(config, f"province-{code}", database_url, DEFAULT_AMQP_URL)
    app = build_app(settings.model_copy(update={"today": TODAY}))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://province-{code}",
            auth=UnitAuth(f"province:{code}"),
        ) as client:
            yield Province(code, runtime, client)
    finally:
        await runtime.engine.dispose()
