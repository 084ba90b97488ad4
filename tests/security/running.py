"""A started service instance of any tier on the real broker, spoken to over ASGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools.testing import instance_name
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from tests.databases import migrate_to_head


@dataclass
class Running:
    runtime: ServiceRuntime
    client: httpx.AsyncClient
    database_url: str


@asynccontextmanager
async def running(
    tier: str, config: Path, base: str, database_url: str, amqp_url: str, **settings: Any
) -> AsyncIterator[Running]:
    """Instance ``base`` (e.g. ``school-41``) of the federation copy ``config``, started."""
    module: Any = __import__(f"services.{tier}.bootstrap", fromlist=["build_app"])
    await asyncio.to_thread(migrate_to_head, tier, database_url)
    app = module.build_app(
        ServiceSettings(
            env="test",
            instance=instance_name(config, base),
            federation_config=config,
            database_url=database_url,
            amqp_url=amqp_url,
            relay_poll_interval=0.2,
            **settings,
        )
    )
    runtime: ServiceRuntime = app.state.runtime
    await runtime.start()
    try:
        await runtime.broker.wait_ready(30)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{tier}") as client:
            yield Running(runtime, client, database_url)
    finally:
        await runtime.stop()
