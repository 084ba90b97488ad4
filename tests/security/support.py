"""A school service without a broker (the security endpoints need none) on a migrated database,
with a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from devtools.testing import federation_copy, instance_name
from shared.clock import CHINA
from shared.federation.config import Tier, UnitRef
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security import accounts
from shared.security.principal import Role
from tests.databases import migrate_to_head


class MovingClock:
    """``runtime.clock`` whose time a test moves (no sleeping)."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def today(self) -> date:
        return self.moment.astimezone(CHINA).date()

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass
class Instance:
    app: FastAPI
    runtime: ServiceRuntime
    client: httpx.AsyncClient
    clock: MovingClock

    async def create(
        self,
        username: str,
        unit: str,
        *roles: Role,
        password: str = "correct horse battery",
        **details: object,
    ) -> None:
        details.setdefault("trained_on", TRAINED_ON)  # N2013 art. 23: trained first
        new = accounts.NewAccount(
            username=username,
            unit=UnitRef.parse(unit),
            roles=frozenset(roles),
            password=password,
            must_change_password=False,
            **details,  # type: ignore[arg-type]
        )
        async with self.runtime.sessions() as session:
            await accounts.create_account(session, new, self.clock.now())
            await session.commit()

    async def login(self, username: str, password: str = "correct horse battery") -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )


@asynccontextmanager
async def school_instance(
    directory: Path, database_url: str, **settings: object
) -> AsyncIterator[Instance]:
    """school-41 (Zhongyuan and Jinshui schools) on ``database_url``, not started."""
    from services.school.bootstrap import build_app

    await asyncio.to_thread(migrate_to_head, "school", database_url)
    config = federation_copy(directory / "federation")
    app = build_app(
        ServiceSettings(
            env="test",
            instance=instance_name(config, "school-41"),
            federation_config=config,
            database_url=database_url,
            **settings,  # type: ignore[arg-type]
        )
    )
    runtime: ServiceRuntime = app.state.runtime
    clock = MovingClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    runtime.clock = clock  # type: ignore[assignment]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://school"
        ) as client:
            yield Instance(app, runtime, client, clock)
    finally:
        await runtime.engine.dispose()


# Accounts made here were trained (N2013 art. 23) unless a test says otherwise.
TRAINED_ON = date(2026, 8, 20)
SCHOOL = UnitRef(tier=Tier.SCHOOL, code="4101020001")
