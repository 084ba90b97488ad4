"""Fixtures for the national tier: a migrated national database on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.db.engine import SessionFactory, make_engine, make_session_factory
from tests.databases import migrate_to_head
from tests.services.national.builders import NationalDriver


@pytest.fixture
def national_url(database_url: str) -> str:
    """A fresh national database, migrated to head (sync: Alembic runs its own loop)."""
    migrate_to_head("national", database_url)
    return database_url


@pytest.fixture
async def sessions(national_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(national_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def national(sessions: SessionFactory) -> NationalDriver:
    return NationalDriver(sessions)
