"""A country's worth of data in national's registry, on PostgreSQL with production durability.

Generates N registry entries (``registry_entry``, migrated to head) inside the server, in
chunks of one million (``INSERT … SELECT … FROM generate_series``: ~10x faster than building
rows in Python as bench/promotion.py does): realistic names (a surname from the hundred most
common, one or two given characters, so that name + gender + birth date repeat as they do in a
real population, which the suspect rule must live with), valid resident ID numbers (31
provinces' division codes, birth dates over twelve cohorts, sequence parity = gender, the
ISO 7064 MOD 11-2 check character), student number ``G`` + ID, schools and grades of the
repository's federation (so that the yearly promotion runs over every row). Then measures:

- the table's and each index's size;
- national's dedup look-ups at this size: the exact rule (``id_number IN (…)``) and the
  suspect rule (``identity_key IN (…)``), one key at a time (p50/p99 of 2,000 each, half of
  them hits) and as a registration batch asks them (2,000 keys per statement);
- registration of a 100,000-student batch into that registry through national's own use case
  (``decide_approved_batch``: replays, both dedup rules, serials, the inserts, the outcome
  messages staged in the outbox), as 50 batches of 2,000 (the contract's maximum), each its own
  transaction as the consumer runs it;
- the yearly promotion over every row (``run_promotion``, one transaction).

    python -m bench.scale_data [N] [--skip-promotion]      N = 2,000,000 by default
Targets (printed, never enforced): look-ups p99 < 5 ms and 100,000 registered in < 60 s at
50 M rows. On this shared 2-core machine 50 M rows take hours to generate: run the largest N
the time allows and read docs/scale.md for what was measured and what was extrapolated.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg  # type: ignore[import-untyped]

from bench.infra import bench_postgres, describe, load
from devtools.testing import REPO_CONFIG
from services.national.adapters.repository import NationalRepository
from services.national.service_layer.ports import division_of
from services.national.service_layer.promotion import run_promotion
from services.national.service_layer.registration import BatchContext, decide_approved_batch
from shared.contracts.registration import RegistrationBatchApproved, RegistrationItem
from shared.contracts.students import BasicInfo, IdType
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrate import upgrade
from shared.federation.config import NATIONAL, load_federation
from shared.messaging.uow import UnitOfWork
from shared.resident_id import generate_resident_id

CHUNK = 1_000_000
LOOKUPS = 2_000
TARGET_LOOKUP_MS, TARGET_BATCH_S, TARGET_ROWS = 5.0, 60.0, 50_000_000
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梓涵子轩浩宇欣怡雨桐一诺思彤晨阳佳琪"
    "俊杰雅婷嘉怡博文梦瑶宇航诗涵浩然欣妍子墨若汐铭泽语嫣"
)
# The 31 mainland provinces' codes (GB/T 2260).
PROVINCES = [
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
COHORT_DAYS = 12 * 365  # birth dates over twelve school years


def _generate_sql(federation: Any) -> str:
    """INSERT … SELECT for rows ``$1 .. $2`` (bijective: g -> county, birth date, sequence)."""
    schools = [s for s in federation.schools if s.stage in ("primary", "junior", "nine_year")]
    low = {"primary": 1, "junior": 7, "nine_year": 1}
    span = {"primary": 6, "junior": 3, "nine_year": 9}
    codes = "ARRAY[" + ",".join(f"'{s.code}'" for s in schools) + "]"
    lows = "ARRAY[" + ",".join(str(low[s.stage]) for s in schools) + "]"
    spans = "ARRAY[" + ",".join(str(span[s.stage]) for s in schools) + "]"
    provinces = "ARRAY[" + ",".join(f"'{p}'" for p in PROVINCES) + "]"
    check = " + ".join(f"substr(base, {i + 1}, 1)::int * {w}" for i, w in enumerate(WEIGHTS))
    return f"""
    INSERT INTO registry_entry (entry_id, student_number, registration_id, name, gender,
        birth_date, id_type, id_number, nationality, ethnicity, identity_key, school_code,
        province_code, grade, status, enrolled_on, registered_at, updated_at)
    SELECT entry_id, 'G' || id_number, registration_id, name, gender, birth, 'resident_id',
        id_number, 'CN', '汉族', name || '|' || gender || '|' || birth::text,
        school, left(school, 2), grade, status, make_date(2026 - grade, 9, 1),
        now(), now()
    FROM (
        SELECT *, base || substr('10X98765432', (({check}) % 11) + 1, 1) AS id_number
        FROM (
            SELECT md5(g::text || 'e')::uuid::text AS entry_id,
                   md5(g::text || 'r')::uuid::text AS registration_id,
                   substr('{SURNAMES}', (1 + h1 % {len(SURNAMES)})::int, 1)
                     || substr('{GIVEN}', (1 + h2 % {len(GIVEN)})::int, 1)
                     || CASE WHEN h1 % 5 = 0 THEN ''
                        ELSE substr('{GIVEN}', (1 + h3 % {len(GIVEN)})::int, 1) END AS name,
                   CASE WHEN male THEN 'male' ELSE 'female' END AS gender,
                   birth,
                   county || to_char(birth, 'YYYYMMDD')
                     || to_char(100 + 2 * seq + CASE WHEN male THEN 1 ELSE 0 END, 'FM000')
                     AS base,
                   ({codes})[1 + si] AS school,
                   ({lows})[1 + si] + (h3 % ({spans})[1 + si])::int AS grade,
                   CASE WHEN h2 % 50 = 0 THEN 'suspended' ELSE 'enrolled' END AS status
            FROM (
                SELECT g,
                       ({provinces})[1 + ((g % 3000) % 31)::int]
                         || to_char(1 + ((g % 3000) / 31) % 97, 'FM00') || '01' AS county,
                       date '2008-09-01' + ((g / 3000) % {COHORT_DAYS})::int AS birth,
                       (g / 3000 / {COHORT_DAYS}) AS seq,
                       (hashint8(g) & 1) = 1 AS male,
                       abs(hashint8(g * 3 + 1)::bigint) AS h1,
                       abs(hashint8(g * 5 + 2)::bigint) AS h2,
                       abs(hashint8(g * 7 + 3)::bigint) AS h3,
                       (abs(hashint8(g * 11 + 4)::bigint) % {len(schools)})::int AS si
                FROM generate_series($1::bigint, $2::bigint) AS g
            ) AS drawn
        ) AS rows
    ) AS final
    """


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def generate(dsn: str, n: int, federation: Any) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        statement = _generate_sql(federation)
        for start in range(0, n, CHUNK):
            began = time.perf_counter()
            await connection.execute(statement, start, min(n, start + CHUNK) - 1)
            print(
                f"  rows {min(n, start + CHUNK):>11,}: {time.perf_counter() - began:5.1f} s"
                f"  [{load()}]",
                flush=True,
            )
        began = time.perf_counter()
        await connection.execute("VACUUM ANALYZE registry_entry")
        print(f"  VACUUM ANALYZE {time.perf_counter() - began:.1f} s", flush=True)
    finally:
        await connection.close()


async def sizes(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
            "WHERE indrelid = 'registry_entry'::regclass ORDER BY 2 DESC"
        )
        table = await connection.fetchval("SELECT pg_relation_size('registry_entry')")
        count = await connection.fetchval(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'registry_entry'"
        )
        total = table + sum(r[1] for r in rows)
        print(
            f"  registry_entry: {count:,} rows, heap {table / 2**30:.2f} GiB (fillfactor 50),"
            f" {len(rows)} indexes {sum(r[1] for r in rows) / 2**30:.2f} GiB, in all"
            f" {total / 2**30:.2f} GiB = {total / max(count, 1):.0f} B per student"
        )
        for name, size in rows:
            print(f"    {name:40s} {size / 2**20:9.0f} MiB")
    finally:
        await connection.close()


async def lookups(dsn: str, n: int) -> dict[str, float]:
    """Exact and suspect look-ups one key at a time, and as a batch asks them."""
    connection = await asyncpg.connect(dsn)
    figures: dict[str, float] = {}
    try:
        rng = random.Random(5)
        sample = await connection.fetch(
            "SELECT id_number, identity_key FROM registry_entry TABLESAMPLE SYSTEM (0.5) "
            f"LIMIT {LOOKUPS}"
        )
        hits_id = [r[0] for r in sample]
        hits_key = [r[1] for r in sample]
        misses_id = [f"{rng.choice(PROVINCES)}0101201{rng.randrange(10**8):08d}" for _ in sample]
        misses_key = [f"{k.split('|')[0]}{rng.choice(GIVEN)}|male|2013-02-30" for k in hits_key]
        exact = await connection.prepare("SELECT * FROM registry_entry WHERE id_number = ANY($1)")
        suspect = await connection.prepare(
            "SELECT * FROM registry_entry WHERE identity_key = ANY($1)"
        )
        for label, statement, keys in (
            ("exact", exact, hits_id + misses_id),
            ("suspect", suspect, hits_key + misses_key),
        ):
            rng.shuffle(keys)
            timings = []
            for key in keys:
                began = time.perf_counter()
                await statement.fetch([key])
                timings.append((time.perf_counter() - began) * 1000)
            figures[f"{label}_p50"] = pct(timings, 50)
            figures[f"{label}_p99"] = pct(timings, 99)
            began = time.perf_counter()
            for start in range(0, len(keys), 2000):
                await statement.fetch(keys[start : start + 2000])
            figures[f"{label}_batch_ms"] = (time.perf_counter() - began) * 1000
            found = 0
            for key in keys[:200]:
                found += len(await statement.fetch([key]))
            figures[f"{label}_found_per_key"] = found / 200
        for label in ("exact", "suspect"):
            verdict = "met" if figures[f"{label}_p99"] < TARGET_LOOKUP_MS else "NOT met"
            at = "" if n >= TARGET_ROWS else f" (at {n:,} rows; the target is at 50 M)"
            print(
                f"  dedup look-up, {label} rule, one key: p50 {figures[f'{label}_p50']:.2f} ms,"
                f" p99 {figures[f'{label}_p99']:.2f} ms over {len(keys)} (half hits;"
                f" {figures[f'{label}_found_per_key']:.2f} rows per key);"
                f" {len(keys)} keys as one batch of 2,000: {figures[f'{label}_batch_ms']:.0f} ms"
                f"; target p99 < {TARGET_LOOKUP_MS:g} ms -> {verdict}{at}  [{load()}]",
                flush=True,
            )
    finally:
        await connection.close()
    return figures


def batch_of(rng: random.Random, school: str, size: int) -> RegistrationBatchApproved:
    born = [
        date(2019, 9, 1) + (date(2020, 8, 31) - date(2019, 9, 1)) * rng.random()
        for _ in range(size)
    ]
    items = []
    for birth in born:
        gender: Literal["male", "female"] = "male" if rng.random() < 0.5 else "female"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        items.append(
            RegistrationItem(
                registration_id=uuid.uuid4(),
                basic=BasicInfo(
                    name=name,
                    gender=gender,
                    birth_date=birth,
                    id_type=IdType.RESIDENT_ID,
                    id_number=generate_resident_id(rng, "330102", birth, gender),
                    grade=1,
                    enrolled_on=date(2026, 9, 1),
                ),
            )
        )
    return RegistrationBatchApproved(
        batch_id=uuid.uuid4(), school_code=school, authority="province:33", items=tuple(items)
    )


async def register(url: str, federation: Any, students: int, size: int = 2000) -> float:
    """``students`` registered at 3301020001 through national's use case, batch by batch."""
    rng = random.Random(9)
    school = "3301020001"
    batches = [batch_of(rng, school, min(size, students - s)) for s in range(0, students, size)]
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    outcomes: dict[str, int] = {}
    try:
        began = time.perf_counter()
        for batch in batches:
            async with UnitOfWork(sessions) as uow:
                context = BatchContext(
                    correlation_id=uuid.uuid4(),
                    authority="province:33",
                    division=division_of(federation, school),
                    now=datetime.now(UTC),
                )
                decided = await decide_approved_batch(
                    NationalRepository(uow.session), uow.emitter(NATIONAL), batch, context
                )
                await uow.commit()
            for outcome in decided.outcomes:
                outcomes[outcome.outcome] = outcomes.get(outcome.outcome, 0) + 1
        elapsed = time.perf_counter() - began
    finally:
        await engine.dispose()
    print(
        f"  registration of {students:,} students ({len(batches)} batches of {size}, each one"
        f" transaction) into the registry: {elapsed:.1f} s ({students / elapsed:,.0f}/s);"
        f" outcomes {outcomes}; target 100,000 in < {TARGET_BATCH_S:g} s -> "
        + (
            ("met" if elapsed < TARGET_BATCH_S else "NOT met")
            if students >= 100_000
            else f"not measured (E: {elapsed * 100_000 / students:.0f} s for 100,000)"
        )
        + f"  [{load()}]",
        flush=True,
    )
    return elapsed


async def promote(url: str, federation: Any, n: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        began = time.perf_counter()
        async with sessions() as session, session.begin():
            report = await run_promotion(
                session, federation, 2026, date(2026, 8, 10), datetime.now(UTC)
            )
        elapsed = time.perf_counter() - began
    finally:
        await engine.dispose()
    print(
        f"  promotion over {n:,} rows: {elapsed:.1f} s, {report.promoted:,} promoted"
        f" ({report.promoted / elapsed:,.0f} rows/s)  [{load()}]",
        flush=True,
    )


async def main(n: int, skip_promotion: bool, students: int) -> None:
    federation = load_federation(REPO_CONFIG)
    server = bench_postgres()
    server.start()
    try:
        print(describe(server), flush=True)
        # As bench/promotion.py: a database of this size runs with room for WAL between
        # checkpoints (the default 1 GB forces a checkpoint every few seconds of bulk writes).
        server.psql("ALTER SYSTEM SET max_wal_size = '32GB'")
        server.psql("ALTER SYSTEM SET checkpoint_timeout = '1h'")
        server.psql("SELECT pg_reload_conf()")
        url = server.create_database("scale")
        await asyncio.to_thread(upgrade, "national", url)
        print(f"generating {n:,} registry entries  [{load()}]", flush=True)
        began = time.perf_counter()
        await generate(server.dsn("scale"), n, federation)
        print(f"  generated in {time.perf_counter() - began:.0f} s", flush=True)
        await sizes(server.dsn("scale"))
        await lookups(server.dsn("scale"), n)
        await register(url, federation, students)
        await lookups(server.dsn("scale"), n)  # after the batch: the new rows are in the indexes
        if not skip_promotion:
            await promote(url, federation, n)
        await sizes(server.dsn("scale"))
    finally:
        server.stop()
        import shutil

        shutil.rmtree(server.base_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.scale_data")
    parser.add_argument("rows", type=int, nargs="?", default=2_000_000)
    parser.add_argument("--skip-promotion", action="store_true")
    parser.add_argument("--batch", type=int, default=100_000, help="students registered")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.skip_promotion, args.batch))
