"""A country's worth of data on PostgreSQL with production durability: national's registry and
a province's archives.

Generates N registry entries (``registry_entry``, migrated to head) and their open periods
(``registry_period``) inside the server, set-based (``bench.generate``: ``INSERT … SELECT``
from ``generate_series``, two statements at once, secondary indexes, keys and triggers dropped
during the load and rebuilt after, each build timed), then checks a sample against the real
code (``shared.resident_id``'s validator, national's student number and identity key) and
measures:

- the tables' and each index's size;
- national's dedup look-ups at this size through its repository (``records_with_documents``:
  the exact rule; ``records_with_identities``: the suspect rule), one key at a time (p50/p99
  over ~2 × 2,000 keys, half of them hits) and 2,000 keys at once as a registration batch
  asks them;
- registration of a 100,000-student batch into that registry through national's own use case
  (``decide_approved_batch``: replays, both dedup rules, serials, the inserts, the periods by
  the trigger, the outcome messages staged in the outbox), as 50 batches of 2,000 (the
  contract's maximum), each its own transaction as the consumer runs it;
- the yearly promotion over every row (``run_promotion``, one transaction).

With ``--archives M``, first M active archives of province 41 (``archive`` with basic and
extended info, one section-1 entry each), then the province's side of a cross-province
progression of a 1,000-student cohort (``services.province.service_layer.progression``, as
the ``progression.completed`` handler runs it: section-1 entries, backups, hand-overs, the
``archive.handed_over`` messages in the outbox), timed in one transaction, and a school year's
first-graders filed into those archives through the province's handlers (100,000, 50 batches
of 2,000: the extended info filed pending, then the numbers issued, each its own transaction),
four times back to back, alternately with random and with time-ordered registration ids (the
archives' keys, decision 0059).

    python -m bench.scale_data [N] [--skip-promotion] [--batch S] [--archives M] [--keep]
                                 N = 2,000,000 by default (0: no registry)
    python -m bench.scale_data 0 --promote-in DIR     promote the registry a --keep run left
                                                      (with the code checked out now)
    python -m bench.scale_data 0 --again-in DIR [--keep] [--skip-promotion] [--division D]
                                 measure a kept registry again: look-ups, a registration of
                                 other people, the promotion (with the code checked out now)

Targets (printed, never enforced): look-ups p99 < 5 ms and 100,000 registered in < 60 s at
50 M rows. Every figure is printed with the machine's load; the server's settings are printed
first. Results: docs/scale.md and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from bench.generate import (
    GIVEN,
    SCHOOL_YEAR,
    STAGE_GRADES,
    SURNAMES,
    generate_archives,
    generate_registry,
)
from bench.infra import bench_postgres, bench_settings, describe, load
from devtools.broker import free_port
from devtools.postgres import LocalPostgres
from devtools.testing import REPO_CONFIG
from services.national.adapters.repository import NationalRepository
from services.national.domain.identity import identity_key
from services.national.service_layer.ports import division_of
from services.national.service_layer.promotion import run_promotion
from services.national.service_layer.registration import BatchContext, decide_approved_batch
from services.province.service_layer import archive, progression
from shared.contracts.progression import ProgressedStudent, ProgressionCompleted
from shared.contracts.registration import (
    ArchiveFiled,
    ArchiveItem,
    RegistrationBatchApproved,
    RegistrationBatchDecided,
    RegistrationItem,
    RegistrationOutcome,
)
from shared.contracts.students import BasicInfo, ExtendedInfo, IdType
from shared.contracts.transfer import StudentSummary
from shared.db.engine import make_engine, make_session_factory
from shared.db.keys import time_ordered_uuid
from shared.db.migrate import upgrade
from shared.federation.config import NATIONAL, Tier, UnitRef, load_federation
from shared.messaging.envelope import build_envelope
from shared.messaging.handlers import HandlerContext
from shared.messaging.uow import UnitOfWork
from shared.resident_id import generate_resident_id, student_number_for, validate_resident_id

LOOKUPS = 2_000
TARGET_LOOKUP_MS, TARGET_BATCH_S, TARGET_ROWS = 5.0, 60.0, 50_000_000
ARCHIVE_PROVINCE, COHORT_FROM, COHORT_TO, COHORT = "41", "4101020001", "5134010003", 1_000
FILED = 100_000  # first-graders filed into the archives, with each kind of key
FILED_DIVISIONS = ("419001", "429004")  # 济源市, 仙桃市: prefecture codes the generator never uses
_FILED_NUMBERS: set[str] = set()
VALIDATED = 10_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def validate(url: str, federation: Any) -> None:
    """A sample of the generated rows against the real code: shared's ID validator, the
    student number and identity key national computes, the contract's basic info."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT student_number, name, gender, birth_date, id_number, identity_key,"
                        " school_code, grade FROM registry_entry TABLESAMPLE SYSTEM (1)"
                        f" LIMIT {VALIDATED}"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    today = date(SCHOOL_YEAR, 9, 1)
    bad = 0
    for number, name, gender, born, id_number, key, school, grade in rows:
        parts = validate_resident_id(id_number, today=today)
        teaches = federation.school(school).stage
        if not (
            parts.birth_date == born
            and parts.sex == gender
            and number == student_number_for(parts)
            and key == identity_key(name, gender, born)
            and STAGE_GRADES[teaches][0] <= grade <= STAGE_GRADES[teaches][1]
        ):
            bad += 1
    print(
        f"  validated {len(rows):,} sampled entries with shared.resident_id and national's"
        f" identity key: {len(rows) - bad:,} valid, {bad} not",
        flush=True,
    )
    if bad:
        raise SystemExit("the generator made entries the real code refuses")


async def sizes(dsn: str, tables: tuple[str, ...] = ("registry_entry", "registry_period")) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for table in tables:
            rows = await connection.fetch(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                "WHERE indrelid = $1::regclass ORDER BY 2 DESC",
                table,
            )
            heap = await connection.fetchval("SELECT pg_table_size($1::regclass)", table)
            count = await connection.fetchval(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = $1", table
            )
            if count < 0:  # never analysed (a table the run only wrote a few rows to)
                count = await connection.fetchval(f"SELECT count(*) FROM {table}")
            indexes = sum(r[1] for r in rows)
            print(
                f"  {table}: {count:,} rows, table {heap / 2**30:.2f} GiB (with TOAST and maps),"
                f" {len(rows)} indexes {indexes / 2**30:.2f} GiB, in all"
                f" {(heap + indexes) / 2**30:.2f} GiB = {(heap + indexes) / max(count, 1):.0f} B"
                " per row",
                flush=True,
            )
            for name, size in rows:
                print(f"    {name:44s} {size / 2**20:9.0f} MiB")
        database = await connection.fetchval("SELECT pg_database_size(current_database())")
        print(f"  database {database / 2**30:.2f} GiB  [{load()}]", flush=True)
    finally:
        await connection.close()


async def lookups(url: str, n: int) -> dict[str, float]:
    """National's two dedup look-ups through its repository (``records_with_documents``,
    ``records_with_identities``: the statements a registration batch runs), one key at a
    time (half of them hits) and as a batch of 2,000 keys."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    figures: dict[str, float] = {}
    try:
        rng = random.Random(5)
        async with sessions() as session:
            sample = (
                await session.execute(
                    text(
                        "SELECT id_number, name, gender, birth_date FROM registry_entry"
                        f" TABLESAMPLE SYSTEM (0.5) LIMIT {LOOKUPS}"
                    )
                )
            ).all()
        documents = [("resident_id", r[0]) for r in sample] + [
            (
                "resident_id",
                generate_resident_id(rng, "110101", date(2015, 1, 1 + i % 28), "male"),
            )
            for i in range(len(sample))
        ]
        identities = [identity_key(r[1], r[2], r[3]) for r in sample] + [
            identity_key(r[1][:1] + rng.choice(GIVEN) * 3, r[2], r[3]) for r in sample
        ]
        for label, keys in (("exact", documents), ("suspect", identities)):
            rng.shuffle(keys)
            timings, found = [], 0
            async with sessions() as session:
                repository = NationalRepository(session)
                for key in keys:
                    began = time.perf_counter()
                    if label == "exact":
                        records = await repository.records_with_documents({key})  # type: ignore[arg-type]
                    else:
                        records = await repository.records_with_identities({key})  # type: ignore[arg-type]
                    timings.append((time.perf_counter() - began) * 1000)
                    found += len(records)
                    session.expunge_all()
                began = time.perf_counter()
                for start in range(0, len(keys), 2000):
                    chunk = set(keys[start : start + 2000])
                    if label == "exact":
                        await repository.records_with_documents(chunk)  # type: ignore[arg-type]
                    else:
                        await repository.records_with_identities(chunk)  # type: ignore[arg-type]
                    session.expunge_all()
                batch_ms = (time.perf_counter() - began) * 1000 / max(1, len(keys) // 2000)
            p50, p99 = pct(timings, 50), pct(timings, 99)
            figures[f"{label}_p50"], figures[f"{label}_p99"] = p50, p99
            verdict = "met" if p99 < TARGET_LOOKUP_MS else "NOT met"
            at = "" if n >= TARGET_ROWS else f" (at {n:,} rows; the target is at 50 M)"
            print(
                f"  dedup look-up, {label} rule, one key through NationalRepository: p50"
                f" {p50:.2f} ms, p99 {p99:.2f} ms, max {max(timings):.1f} ms over {len(keys):,}"
                f" (half hits; {found / len(keys):.2f} records per key); 2,000 keys at once"
                f" {batch_ms:.0f} ms; target p99 < {TARGET_LOOKUP_MS:g} ms -> {verdict}{at}"
                f"  [{load()}]",
                flush=True,
            )
    finally:
        await engine.dispose()
    return figures


def first_grader(
    name: str, gender: Literal["male", "female"], birth: date, number: str
) -> BasicInfo:
    """A first-grader of this September with a resident ID."""
    return BasicInfo(
        name=name,
        gender=gender,
        birth_date=birth,
        id_type=IdType.RESIDENT_ID,
        id_number=number,
        grade=1,
        enrolled_on=date(2026, 9, 1),
    )


def batch_of(
    rng: random.Random,
    school: str,
    size: int,
    used: set[str] | None = None,
    division: str = "330102",
) -> RegistrationBatchApproved:
    """A batch of first-graders with distinct resident IDs (``used``: across batches too),
    born in ``division``."""
    used = set() if used is None else used
    born = [
        date(2019, 9, 1) + (date(2020, 8, 31) - date(2019, 9, 1)) * rng.random()
        for _ in range(size)
    ]
    items = []
    for birth in born:
        gender: Literal["male", "female"] = "male" if rng.random() < 0.5 else "female"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        number = generate_resident_id(rng, division, birth, gender)
        while number in used:  # one person, one number: no duplicates made by chance
            number = generate_resident_id(rng, division, birth, gender)
        used.add(number)
        items.append(
            RegistrationItem(
                registration_id=uuid.uuid4(),
                basic=first_grader(name, gender, birth, number),
            )
        )
    return RegistrationBatchApproved(
        batch_id=uuid.uuid4(), school_code=school, authority="province:33", items=tuple(items)
    )


async def register(
    url: str, federation: Any, students: int, size: int = 2000, division: str = "330102"
) -> float:
    """``students`` registered at 3301020001 through national's use case, batch by batch,
    born in ``division`` (another one for a registry registered into before: a year's
    first-graders of one county are ~366,000 resident IDs, so a second draw there would hit
    the first one's people; other names and birth dates too, or the suspect rule holds them)."""
    rng = random.Random(9 if division == "330102" else int(division))
    school = "3301020001"
    used: set[str] = set()
    batches = [
        batch_of(rng, school, min(size, students - s), used, division)
        for s in range(0, students, size)
    ]
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


async def server_side(dsn: str, keys: int = 1_000) -> None:
    """The look-ups' cost inside the server (EXPLAIN ANALYZE's execution time and buffers of
    the statements ``records_with_documents`` and ``records_with_identities`` send, for one
    key), apart from the client and this machine's scheduling."""
    connection = await asyncpg.connect(dsn)
    try:
        sample = await connection.fetch(
            "SELECT id_number, identity_key FROM registry_entry TABLESAMPLE SYSTEM (0.1)"
            f" LIMIT {keys}"
        ) or await connection.fetch(  # a small registry: sampled pages may hold none
            f"SELECT id_number, identity_key FROM registry_entry LIMIT {keys}"
        )
        for label, column, index in (
            ("exact", "id_number", 0),
            ("suspect", "identity_key", 1),
        ):
            timings, reads, hits = [], 0, 0
            for row in sample:
                [plan] = json.loads(
                    await connection.fetchval(
                        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM registry_entry"
                        f" WHERE {column} IN ($1)",
                        row[index],
                    )
                )
                timings.append(plan["Execution Time"])
                reads += plan["Plan"].get("Shared Read Blocks", 0)
                hits += plan["Plan"].get("Shared Hit Blocks", 0)
            print(
                f"  dedup look-up, {label} rule, inside the server ({len(sample):,} hits):"
                f" p50 {pct(timings, 50):.3f} ms, p99 {pct(timings, 99):.3f} ms;"
                f" {hits / len(sample):.1f} buffers hit and {reads / len(sample):.1f} read"
                f" per look-up  [{load()}]",
                flush=True,
            )
    finally:
        await connection.close()


async def hand_over(url: str, federation: Any) -> None:
    """The province's side of a progression across provinces (``progression.completed``, as
    its handler runs it: ``services.province.service_layer.progression``): the archives of a
    cohort of COHORT grade-6 graduates of COHORT_FROM (Henan) go to COHORT_TO (Sichuan), each
    recorded in section 1, backed up for the graduating school, handed over and listed, the
    ``archive.handed_over`` messages staged in the outbox; one transaction, commit included."""
    from_school, to_school = federation.school(COHORT_FROM), federation.school(COHORT_TO)
    assert from_school is not None and to_school is not None
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT student_number, basic::text FROM archive WHERE province = :p"
                        " AND school_code = :s AND status = 'active'"
                        " AND (basic->>'grade')::int = 6 LIMIT :n"
                    ),
                    {"p": from_school.province, "s": COHORT_FROM, "n": COHORT},
                )
            ).all()
        students = []
        for number, basic in rows:
            info = BasicInfo.model_validate_json(basic)  # the contract accepts what was generated
            students.append(
                ProgressedStudent(
                    student_number=number,
                    student=StudentSummary(
                        name=info.name, gender=info.gender, birth_date=info.birth_date, grade=7
                    ),
                    basic=info.model_copy(update={"grade": 7}),
                )
            )
        now = datetime.now(UTC)
        completed = ProgressionCompleted(
            progression_id=uuid.uuid4(),
            from_school=COHORT_FROM,
            to_school=COHORT_TO,
            grade=7,
            completed_at=now,
            archive_due_on=now.date() + timedelta(days=30),
            students=tuple(students),
        )
        envelope = build_envelope(
            completed,
            source=NATIONAL,
            target=UnitRef(tier=Tier.PROVINCE, code=from_school.province),
        )
        began = time.perf_counter()
        async with sessions() as session, session.begin():
            ctx = HandlerContext(session, envelope)
            moves = progression.completions(ctx, from_school, to_school, completed)
            await progression.on_completed(moves, datetime.now(UTC))
        elapsed = time.perf_counter() - began
        async with sessions() as session:
            sent = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM archive_handover WHERE state = 'sent' AND"
                        " to_province = :p"
                    ),
                    {"p": to_school.province},
                )
            ).scalar_one()
            out = (
                await session.execute(
                    text("SELECT count(*) FROM archive WHERE status = 'transferred_out'")
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    print(
        f"  archive hand-over of a {len(students):,}-student cohort ({COHORT_FROM} -> {COHORT_TO},"
        f" province {from_school.province} -> {to_school.province}) over the province's"
        f" archives: {elapsed:.2f} s in one transaction ({elapsed * 1000 / len(students):.1f} ms"
        f" per student); {sent:,} hand-overs sent, {out:,} archives transferred out  [{load()}]",
        flush=True,
    )


async def national(
    server: Any, n: int, skip_promotion: bool, students: int, keep: bool = False
) -> None:
    federation = load_federation(REPO_CONFIG)
    url = server.create_database("scale")
    await asyncio.to_thread(upgrade, "national", url)
    print(f"generating {n:,} registry entries  [{load()}]", flush=True)
    began = time.perf_counter()
    timings = await generate_registry(server.dsn("scale"), n, federation)
    print(
        f"  generated in {time.perf_counter() - began:.0f} s: inserts {timings.insert_s:.0f} s"
        f" ({n / max(timings.insert_s, 1e-9):,.0f} rows/s), indexes and keys"
        f" {sum(v for k, v in timings.steps.items() if 'VACUUM' not in k):.0f} s",
        flush=True,
    )
    await validate(url, federation)
    await sizes(server.dsn("scale"))
    await lookups(url, n)
    await register(url, federation, students)
    await lookups(url, n)  # after the batch: the new rows are in the indexes
    if not skip_promotion:
        await promote(url, federation, n)
        await sizes(server.dsn("scale"))
    if not keep:
        server.drop_database("scale")


async def province(server: Any, n: int) -> None:
    federation = load_federation(REPO_CONFIG)
    url = server.create_database("archives")
    await asyncio.to_thread(upgrade, "province", url)
    print(f"generating {n:,} archives of province {ARCHIVE_PROVINCE}  [{load()}]", flush=True)
    began = time.perf_counter()
    timings = await generate_archives(server.dsn("archives"), n, federation, ARCHIVE_PROVINCE)
    print(
        f"  generated in {time.perf_counter() - began:.0f} s: inserts {timings.insert_s:.0f} s"
        f" ({n / max(timings.insert_s, 1e-9):,.0f} rows/s)",
        flush=True,
    )
    await sizes(server.dsn("archives"), ("archive", "archive_entry"))
    await hand_over(url, federation)
    await sizes(server.dsn("archives"), ("archive", "archive_entry", "archive_backup"))
    for keys in ("random", "time-ordered", "random", "time-ordered"):  # back to back
        await file_archives_of(url, FILED, keys)
    server.drop_database("archives")


def _registration_key(keys: str) -> uuid.UUID:
    return uuid.uuid4() if keys == "random" else time_ordered_uuid()


async def file_archives_of(url: str, students: int, keys: str, size: int = 2000) -> float:
    """A school year's first-graders filed into the province's archives as its handlers do:
    per batch of ``size`` (the contract's maximum), the extended info filed pending
    (``registration.archive_filed``) in one transaction, then the numbers issued
    (``registration.batch_decided``) in another, each activating its archives and writing
    their section-1 entry. ``keys``: the registration ids (the archives' keys) ``random``
    (version 4) or ``time-ordered`` (version 7, decision 0050)."""
    rng = random.Random(len(_FILED_NUMBERS))
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    school, province = "4101020001", ARCHIVE_PROVINCE
    try:
        began = time.perf_counter()
        for start in range(0, students, size):
            count = min(size, students - start)
            items, numbers = [], []
            for _ in range(count):
                birth = date(2019, 9, 1) + timedelta(days=rng.randrange(366))
                gender: Literal["male", "female"] = "male" if rng.random() < 0.5 else "female"
                # born where the generated archives' people are not (their prefectures are
                # 01-20), each number once across the runs
                number = generate_resident_id(rng, rng.choice(FILED_DIVISIONS), birth, gender)
                while number in _FILED_NUMBERS:
                    number = generate_resident_id(rng, rng.choice(FILED_DIVISIONS), birth, gender)
                _FILED_NUMBERS.add(number)
                numbers.append(student_number_for(number))
                items.append(
                    ArchiveItem(
                        registration_id=_registration_key(keys),
                        basic=first_grader(
                            rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                            gender,
                            birth,
                            number,
                        ),
                        extended=ExtendedInfo(address="河南省郑州市中原区", hukou_region="410102"),
                    )
                )
            batch_id = uuid.uuid4()
            filing = ArchiveFiled(batch_id=batch_id, school_code=school, items=tuple(items))
            async with UnitOfWork(sessions) as uow:
                await archive.file_archives(uow.session, province, filing, datetime.now(UTC))
                await uow.commit()
            decided = RegistrationBatchDecided(
                batch_id=batch_id,
                school_code=school,
                decided_by="county:410102",
                outcomes=tuple(
                    RegistrationOutcome(
                        registration_id=item.registration_id,
                        outcome="issued",
                        student_number=number,
                    )
                    for item, number in zip(items, numbers, strict=True)
                ),
            )
            async with UnitOfWork(sessions) as uow:
                await archive.record_outcomes(uow.session, province, decided, datetime.now(UTC))
                await uow.commit()
        elapsed = time.perf_counter() - began
    finally:
        await engine.dispose()
    print(
        f"  {students:,} first-graders filed and issued into the archives ({keys} keys,"
        f" {-(-students // size)} batches of {size}, two transactions each): {elapsed:.1f} s"
        f" ({students / elapsed:,.0f}/s)  [{load()}]",
        flush=True,
    )
    return elapsed


async def again(
    server: Any, skip_promotion: bool, students: int, keep: bool, division: str
) -> None:
    """A kept registry measured again with the code checked out now: its sizes, the look-ups,
    a registration of ``students`` other people (born in ``division``), the promotion."""
    federation = load_federation(REPO_CONFIG)
    await asyncio.to_thread(upgrade, "national", server.url("scale"))  # today's head
    rows = int(server.psql("SELECT count(*) FROM registry_entry", "scale"))
    print(f"  a kept registry of {rows:,} entries  [{load()}]", flush=True)
    await sizes(server.dsn("scale"))
    await lookups(server.url("scale"), rows)
    await register(server.url("scale"), federation, students, division=division)
    await lookups(server.url("scale"), rows)
    if not skip_promotion:
        await promote(server.url("scale"), federation, rows)
        await sizes(server.dsn("scale"))
    if not keep:
        server.drop_database("scale")


async def main(
    n: int,
    skip_promotion: bool,
    students: int,
    archives: int,
    keep: bool,
    promote_in: str,
    again_in: str = "",
    division: str = "330106",
) -> None:
    server = bench_postgres()
    if promote_in or again_in:  # the server a ``--keep`` run left, with today's code
        server = LocalPostgres(
            Path(promote_in or again_in),
            port=free_port(),
            settings=bench_settings(),
        )
    server.start()
    try:
        print(describe(server), flush=True)
        # Room for WAL between checkpoints (the default 1 GB forces a checkpoint every few
        # seconds of bulk writes), bounded so that the WAL of a 50 M load fits the disk.
        for setting in ("max_wal_size = '4GB'", "checkpoint_timeout = '30min'"):
            server.psql(f"ALTER SYSTEM SET {setting}")
        server.psql("SELECT pg_reload_conf()")
        print(f"  max_wal_size {server.psql('SHOW max_wal_size').strip()}", flush=True)
        if promote_in:
            federation = load_federation(REPO_CONFIG)
            began = time.perf_counter()
            await asyncio.to_thread(upgrade, "national", server.url("scale"))  # today's head
            server.psql("VACUUM ANALYZE registry_entry", "scale")  # e.g. an aborted run's rows
            print(f"  migrated to head and vacuumed: {time.perf_counter() - began:.0f} s")
            rows = int(server.psql("SELECT count(*) FROM registry_entry", "scale"))
            await sizes(server.dsn("scale"))
            await server_side(server.dsn("scale"))
            await promote(server.url("scale"), federation, rows)
            await sizes(server.dsn("scale"))
            keep = False
        if again_in:
            await again(server, skip_promotion, students, keep, division)
        if archives:
            await province(server, archives)
        if n:
            await national(server, n, skip_promotion, students, keep)
    finally:
        server.stop()
        if keep:
            print(f"  kept the server's files: --promote-in {server.base_dir}", flush=True)
        else:
            shutil.rmtree(server.base_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.scale_data")
    parser.add_argument("rows", type=int, nargs="?", default=2_000_000)
    parser.add_argument("--skip-promotion", action="store_true")
    parser.add_argument("--batch", type=int, default=100_000, help="students registered")
    parser.add_argument("--archives", type=int, default=0, help="the province's archives")
    parser.add_argument("--keep", action="store_true", help="keep the registry (stopped)")
    parser.add_argument("--promote-in", default="", help="promote a kept registry, then drop it")
    parser.add_argument(
        "--again-in", default="", help="measure a kept registry again (drop it unless --keep)"
    )
    parser.add_argument(
        "--division", default="330106", help="--again-in: where the registered are born"
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.rows,
            args.skip_promotion,
            args.batch,
            args.archives,
            args.keep,
            args.promote_in,
            args.again_in,
            args.division,
        )
    )
