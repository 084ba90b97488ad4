"""The province service under test: its handlers, its database, its HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from devtools.testing import federation_copy
from services.province.adapters.orm import Archive
from services.province.bootstrap import build_app
from shared.contracts.registration import (
    RegistrationBatchDecided,
    RegistrationBatchSubmitted,
    RegistrationOutcome,
)
from shared.federation.config import NATIONAL, Tier
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.security.testing import UnitAuth
from tests.components.approval_desk.support import (
    PRIMARY,
    deliver,
    filing,
    migrate,
    settings_for,
    unit,
)

HENAN = unit(Tier.PROVINCE, "41")
SCHOOL = unit(Tier.SCHOOL, PRIMARY)


@dataclass
class Province:
    runtime: ServiceRuntime
    client: httpx.AsyncClient

    async def file(self, submitted: RegistrationBatchSubmitted) -> None:
        await deliver(self.runtime, filing(submitted), source=SCHOOL, target=HENAN)

    async def decide(
        self, submitted: RegistrationBatchSubmitted, *outcomes: RegistrationOutcome
    ) -> None:
        decided = RegistrationBatchDecided(
            batch_id=submitted.batch_id,
            school_code=submitted.school_code,
            decided_by="national:CN",
            outcomes=outcomes,
        )
        await deliver(self.runtime, decided, source=NATIONAL, target=HENAN)

    async def archive(self, student_number: str, province: str = "41") -> httpx.Response:
        return await self.client.get(f"/api/v1/provinces/{province}/archives/{student_number}")

    async def stored(self) -> dict[str, str]:
        """archive id → status of every archive kept."""
        async with self.runtime.sessions() as session:
            rows = await session.execute(select(Archive.archive_id, Archive.status))
            return {archive_id: status for archive_id, status in rows.all()}


@asynccontextmanager
async def province_service(directory: Path, database_url: str) -> AsyncIterator[Province]:
    """The province-41 service on a migrated database; its runtime is not started (messages
    are applied through its handlers directly, what it emits stays in its outbox)."""
    await migrate("province", database_url)
    config = federation_copy(directory)
    app = build_app(settings_for(config, "province-41", database_url, DEFAULT_AMQP_URL))
    runtime: ServiceRuntime = app.state.runtime
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://province",
            auth=UnitAuth("province:41"),
        ) as client:
            yield Province(runtime, client)
    finally:
        await runtime.engine.dispose()
