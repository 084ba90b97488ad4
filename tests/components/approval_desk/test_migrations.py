"""The registry authority's tables become the approval desk's (county revision 0010, province
0012), on SQLite and PostgreSQL: tasks with their items and proofs survive, each owned by its
unit's reference, the officer lists, reads and decides them as before, and the migrated schema
is exactly what the models describe."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import JSON, Connection, LargeBinary, MetaData, bindparam, text
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.testing import federation_copy
from services.county.bootstrap import build_app as build_county
from services.county.tables import metadata as county_metadata
from services.province.adapters.orm import metadata as province_metadata
from services.province.bootstrap import build_app as build_province
from shared.db.list_versions import list_version_metadata
from shared.db.migrate import alembic_config, upgrade
from shared.federation.config import NATIONAL
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import DEFAULT_AMQP_URL, ServiceSettings
from shared.security.principal import Role
from shared.security.testing import UnitAuth, auth_headers
from tests.components.approval_desk.support import PRIMARY, PROVINCE_DIRECT, basic, settings_for

_TASK = text(
    "INSERT INTO authority_task (task_id, kind, status, authority_unit, school_code, subject_id,"
    " item_count, finding_count, details, opened_at, correlation_id, message_id)"
    " VALUES (:task_id, :kind, 'open', :unit, :school, :subject_id, :items, 0, :details,"
    " :opened_at, :correlation_id, :message_id)"
).bindparams(bindparam("details", type_=JSON))
_ITEM = text(
    "INSERT INTO authority_task_item (task_id, registration_id, position, basic, findings,"
    " status) VALUES (:task_id, :registration_id, :position, :basic, :findings, 'pending')"
).bindparams(bindparam("basic", type_=JSON), bindparam("findings", type_=JSON))
_PROOF = text(
    "INSERT INTO authority_task_proof (task_id, position, kind, filename, size, content)"
    " VALUES (:task_id, 0, 'hukou_proof', 'proof.pdf', 9, :content)"
).bindparams(bindparam("content", type_=LargeBinary))

TIERS = {
    # tier: (instance, unit code, revision before the desk, a school it governs, builder, tables)
    "county": ("county-41", "410102", "0009", PRIMARY, build_county, county_metadata),
    "province": ("province-41", "41", "0011", PROVINCE_DIRECT, build_province, province_metadata),
}


async def _write(database_url: str, *statements: tuple[Any, list[dict[str, Any]]]) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for statement, rows in statements:
                await connection.execute(statement, rows)
    finally:
        await engine.dispose()


def _task(kind: str, unit_code: str, school: str, items: int) -> dict[str, Any]:
    return {
        "task_id": str(uuid.uuid4()),
        "kind": kind,
        "unit": unit_code,
        "school": school,
        "subject_id": str(uuid.uuid4()),
        "items": items,
        "details": {"trace_context": {}},
        "opened_at": datetime(2026, 9, 1, 2, 0, tzinfo=UTC),
        "correlation_id": str(uuid.uuid4()),
        "message_id": str(uuid.uuid4()),
    }


def _diffs(metadata: MetaData) -> Callable[[Connection], list[Any]]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, [metadata, list_version_metadata])  # type: ignore[arg-type]
        shared_tables = ("kernel_", "security_", "alembic_version")
        return [d for d in diffs if not any(name in repr(d) for name in shared_tables)]

    return compare


@pytest.mark.parametrize("tier", list(TIERS))
async def test_the_authority_tables_become_the_desks(
    tmp_path: Path, database_url: str, tier: str
) -> None:
    instance, code, before, school, build, metadata = TIERS[tier]
    await asyncio.to_thread(upgrade, tier, database_url, before)
    batch = _task("registration_batch", code, school, 2)
    change = _task("key_field_change", code, school, 0)
    applicants = [basic(), basic()]
    items = [
        {
            "task_id": batch["task_id"],
            "registration_id": str(uuid.uuid4()),
            "position": position,
            "basic": applicant.model_dump(mode="json"),
            "findings": [],
        }
        for position, applicant in enumerate(applicants)
    ]
    proof = {"task_id": change["task_id"], "content": base64.b64decode("JVBERi0xLjQK")}
    await _write(database_url, (_TASK, [batch, change]), (_ITEM, items), (_PROOF, [proof]))

    await asyncio.to_thread(upgrade, tier, database_url)
    settings: ServiceSettings = settings_for(
        federation_copy(tmp_path / "federation"), instance, database_url, DEFAULT_AMQP_URL
    )
    app: FastAPI = build(settings)
    runtime: ServiceRuntime = app.state.runtime
    reference = f"{tier}:{code}"
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://x", auth=UnitAuth(reference)
        ) as client:
            listed = await client.get(f"/api/v1/{tier.replace('y', 'ie')}s/{code}/tasks")
            assert listed.status_code == 200, listed.text
            assert {t["task_id"] for t in listed.json()["items"]} == {
                batch["task_id"],
                change["task_id"],
            }
            read = (await client.get(f"/api/v1/tasks/{batch['task_id']}")).json()
            assert read["authority_unit"] == reference
            assert [i["registration_id"] for i in read["items"]] == [
                i["registration_id"] for i in items
            ]
            proof_file = await client.get(f"/api/v1/tasks/{change['task_id']}/proofs/0")
            assert proof_file.content == proof["content"]

            decided = await client.post(
                f"/api/v1/tasks/{batch['task_id']}/decision",
                json={"decision": "approve"},
                headers=auth_headers(reference, Role.APPROVER),
            )
            assert decided.status_code == 200, decided.text
            assert {i["status"] for i in decided.json()["items"]} == {"approved"}
        async with runtime.sessions() as session:
            connection = await session.connection()
            assert await connection.run_sync(_diffs(metadata)) == []
            sent = await session.execute(
                text("SELECT message_type, routing_key FROM kernel_outbox")
            )
            [(message_type, routing_key)] = [tuple(row) for row in sent]
            assert message_type == "registration.batch_approved"
            assert routing_key.startswith(f"{NATIONAL.tier}.{NATIONAL.code}.")
    finally:
        await runtime.engine.dispose()


@pytest.mark.parametrize("tier", list(TIERS))
async def test_the_desk_revision_downgrades(database_url: str, tier: str) -> None:
    """Back before the desk, a task is the authority's again, owned by its unit's code."""
    _, code, before, school, _, _ = TIERS[tier]
    await asyncio.to_thread(upgrade, tier, database_url, before)
    task = _task("key_field_change", code, school, 0)
    await _write(database_url, (_TASK, [task]))
    await asyncio.to_thread(upgrade, tier, database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(tier, database_url), before)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = text("SELECT task_id, authority_unit FROM authority_task")
            rows = [tuple(row) for row in await connection.execute(query)]
    finally:
        await engine.dispose()
    assert rows == [(task["task_id"], code)]
