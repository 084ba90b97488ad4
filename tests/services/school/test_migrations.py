"""Migration 0002 creates exactly the tables the school's models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from services.school.adapters.orm import metadata
from shared.db.engine import SessionFactory
from shared.db.list_versions import list_version_metadata


def _school_diffs(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(context, [metadata, list_version_metadata])  # type: ignore[arg-type]
    shared_tables = ("kernel_", "security_", "alembic_version")  # tested with their own models
    return [d for d in diffs if not any(name in repr(d) for name in shared_tables)]


async def test_the_migrated_schema_matches_the_models(sessions: SessionFactory) -> None:
    async with sessions() as session:
        connection = await session.connection()
        assert await connection.run_sync(_school_diffs) == []
