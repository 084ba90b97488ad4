"""Accounts in a running federation's databases, for the login tests."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from shared.security.tables import account


def database_url(federation: LocalFederation, tier: str, code: str) -> str:
    instance = federation.instance_for_unit(Tier(tier), code)
    if federation.database_url_for is not None:
        return federation.database_url_for(instance.name)
    return f"sqlite+aiosqlite:///{federation.data_dir / 'db' / instance.name}.sqlite"


def create_account(federation: LocalFederation, unit: str, username: str) -> str:
    """A registrar account created by the operator's tool; its one-time password."""
    tier, _, code = unit.partition(":")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.security",
            "create-account",
            "--database-url",
            database_url(federation, tier, code),
            "--config",
            str(federation.config_path),
            "--unit",
            unit,
            "--username",
            username,
            "--role",
            "registrar",
            "--trained-on",  # trained first (N2013 art. 23)
            "2026-08-20",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"password[^:]*:\s*(\S+)", done.stdout, re.IGNORECASE)
    assert found, done.stdout
    return found.group(1)


def make_dormant(federation: LocalFederation, unit: str, username: str) -> None:
    """The account was last used seven months ago (the unused-six-months rule seals it)."""
    tier, _, code = unit.partition(":")

    async def run() -> None:
        engine = create_async_engine(database_url(federation, tier, code))
        async with engine.begin() as connection:
            await connection.execute(
                update(account)
                .where(account.c.username == username)
                .values(last_active_at=datetime.now(UTC) - timedelta(days=400))
            )
        await engine.dispose()

    # Playwright's sync API runs an event loop in this thread: the update runs in another.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, run()).result()
