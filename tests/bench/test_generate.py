"""The benchmarks' set-based generator makes data the real code accepts, and leaves the tables
as their migrations made them (indexes, keys, triggers), so that the figures measured on it
are the services' own."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text

from bench.generate import generate_archives, generate_registry
from bench.scale_data import batch_of, hand_over
from devtools.postgres import LocalPostgres
from devtools.testing import REPO_CONFIG
from services.national.adapters.repository import NationalRepository
from services.national.domain.identity import identity_key
from services.national.service_layer.ports import division_of
from services.national.service_layer.registration import BatchContext, decide_approved_batch
from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import NATIONAL, load_federation
from shared.messaging.uow import UnitOfWork
from shared.resident_id import student_number_for, validate_resident_id
from tests.databases import fresh_postgres_database, migrate_to_head

pytestmark = pytest.mark.postgresql

ROWS = 20_000
SCHEMA = """
    SELECT concat_ws(' ', 'index', indexrelid::regclass::text, indrelid::regclass::text,
                     indkey::text, indisunique, indisprimary, indpred IS NOT NULL)
    FROM pg_index WHERE indrelid = ANY($1::regclass[])
    UNION ALL
    SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = ANY($1::regclass[]) OR confrelid = ANY($1::regclass[])
    UNION ALL
    SELECT 'trigger ' || tgname || ' ' || tgenabled::text FROM pg_trigger
    WHERE tgrelid = ANY($1::regclass[]) AND NOT tgisinternal
"""


async def schema(dsn: str, tables: list[str]) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        return sorted(r[0] for r in await connection.fetch(SCHEMA, tables))
    finally:
        await connection.close()


async def test_a_generated_registry_passes_national_and_shared_rules(
    postgres: LocalPostgres,
) -> None:
    federation = load_federation(REPO_CONFIG)
    url, name = fresh_postgres_database(postgres)
    await asyncio.to_thread(migrate_to_head, "national", url)
    tables = ["registry_entry", "registry_period"]
    before = await schema(postgres.dsn(name), tables)

    timings = await generate_registry(postgres.dsn(name), ROWS, federation)

    assert timings.rows == ROWS
    assert await schema(postgres.dsn(name), tables) == before  # rebuilt as migrated
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT student_number, name, gender, birth_date, id_number,"
                        " identity_key, school_code, grade, status FROM registry_entry"
                    )
                )
            ).all()
            periods = (
                await session.execute(
                    text(
                        "SELECT count(*), count(DISTINCT entry_id) FROM registry_period"
                        " WHERE valid_to IS NULL"
                    )
                )
            ).one()
        assert len(rows) == ROWS and tuple(periods) == (ROWS, ROWS)
        for number, person, gender, born, id_number, key, school, grade, _ in rows:
            parts = validate_resident_id(id_number, today=date(2026, 9, 1))
            assert (parts.birth_date, parts.sex) == (born, gender)
            assert number == student_number_for(parts)
            assert key == identity_key(person, gender, born)
            assert federation.school(school) is not None and 1 <= grade <= 12
        assert len({r.id_number for r in rows}) == ROWS
        assert len({r.grade for r in rows}) == 12  # every cohort, not one birthday
        statuses = Counter(r.status for r in rows)
        assert statuses["enrolled"] > ROWS * 0.7 and statuses["graduated"] > 0

        # national's own dedup and registration run on it: a generated student's document
        # is found, and a batch registers with its periods written by the restored trigger
        async with sessions() as session:
            found = await NationalRepository(session).records_with_documents(
                {("resident_id", rows[0].id_number)}
            )
        assert [r.person.id_number for r in found] == [rows[0].id_number]
        batch = batch_of(random.Random(3), "3301020001", 50)
        async with UnitOfWork(sessions) as uow:
            context = BatchContext(
                correlation_id=uuid.uuid4(),
                authority="province:33",
                division=division_of(federation, "3301020001"),
                now=datetime.now(UTC),
            )
            decided = await decide_approved_batch(
                NationalRepository(uow.session), uow.emitter(NATIONAL), batch, context
            )
            await uow.commit()
        issued = [o for o in decided.outcomes if o.outcome == "issued"]
        assert issued
        async with sessions() as session:
            opened = await session.scalar(
                text("SELECT count(*) FROM registry_period WHERE valid_to IS NULL")
            )
        assert opened == ROWS + len(issued)
    finally:
        await engine.dispose()
        postgres.drop_database(name)


async def test_generated_archives_are_handed_over_by_the_province(
    postgres: LocalPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    federation = load_federation(REPO_CONFIG)
    url, name = fresh_postgres_database(postgres)
    await asyncio.to_thread(migrate_to_head, "province", url)
    tables = ["archive", "archive_entry"]
    before = await schema(postgres.dsn(name), tables)

    await generate_archives(postgres.dsn(name), ROWS, federation, "41")

    assert await schema(postgres.dsn(name), tables) == before
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        counts = await connection.fetchrow(
            "SELECT count(*) AS archives, count(DISTINCT student_number) AS numbers,"
            " (SELECT count(*) FROM archive_entry WHERE kind = 'registered') AS entries"
            " FROM archive WHERE province = '41' AND status = 'active'"
        )
    finally:
        await connection.close()
    assert tuple(counts) == (ROWS, ROWS, ROWS)

    await hand_over(url, federation)  # the province's own progression code

    printed = capsys.readouterr().out
    assert "hand-overs sent" in printed
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        sent = await connection.fetchval(
            "SELECT count(*) FROM archive_handover WHERE state = 'sent' AND to_province = '51'"
        )
        out = await connection.fetchval(
            "SELECT count(*) FROM archive WHERE status = 'transferred_out'"
        )
        staged = await connection.fetchval("SELECT count(*) FROM kernel_outbox")
    finally:
        await connection.close()
    assert sent == out > 0 and staged >= sent
    postgres.drop_database(name)
