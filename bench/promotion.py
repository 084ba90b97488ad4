"""The August 10 batch promotion at national scale: N registry rows, one promotion run.

Generates N registry entries directly in a national database (migrated to head) with a
realistic spread over the federation's schools — primary schools grades 1-6, junior schools
7-9, cohorts a little smaller in the lower grades, about 2 % of students suspended, away,
abroad or dropped out, the graduating grade mostly graduated by July 30 (some completed,
incomplete, or not yet recorded), and one student in 5,000 held by a transfer — loaded in
bulk (COPY through asyncpg's ``copy_records_to_table`` on PostgreSQL, ``executemany`` in
chunks on SQLite). Then times the promotion service function (not HTTP) in one transaction,
commit included, and prints seconds and rows/s; then a second school year after VACUUM, the
steady state of a registry promoted every year.

    python -m bench.promotion [N]      N = 1,000,000 (BENCH_SCALE=full: 10,000,000)
    BENCH_DB=postgresql                PostgreSQL (a private server, bench.infra)
    BENCH_INDEX=status_grade           add an index on (status, grade) to measure its cost
    BENCH_TRIGGER=off                  drop the registry's update trigger (the status history)
                                       first: the trigger-free figure of an A/B
    BENCH_STATISTICS=0                 skip the statistics after the first run (the census by
                                       grade today and at the run, timed and checked against a
                                       recount of the registry; decision 0046)

Each run prints the machine's load and the status periods written (none since decision 0046:
the run is left out of the history, ``services/national/service_layer/grade_shift.py``).

Target: 10,000,000 on PostgreSQL in < 60 s (printed, never failed on).

Measured here (2 cores shared with other work, 23 GB RAM, PostgreSQL 15 with
``max_wal_size = 32GB``, ``checkpoint_timeout = 1h``, fsync off as for every test server;
``BENCH_SCALE=full BENCH_DB=postgresql``, 2026-11-23):

- 10,000,000 rows (9.8 GB with fillfactor 50, 8 indexes): **31.2 s** the first year (7.80 M
  promoted, 250,000 rows/s), 35.8 s a year later after VACUUM (5.83 M promoted); the rerun of
  a year 19 ms. Load average 3.6-4 (other helpers' tests) while it ran. Loading the rows
  took 11 minutes (Python generation), not part of the figure.
- The same 10,000,000 with the server's default ``max_wal_size = 1GB`` and a load average of
  10-15 took 98.4 s / 103.9 s: every GB of WAL forced a checkpoint mid-statement, which is why
  the bench sets the production values above (a server for this table needs them anyway).
- 1,000,000 rows: 2.3 s.
- Decision 0039's status history made the same run about eight times slower (a period
  written and closed per promoted student); decision 0046 left the run out of it. 2026-12-06,
  1,000,000 rows, ``bench.infra``'s durable server, two cores shared (load average 19-26):
  33.9 s / 15.7 s (first year / a year later) with the trigger leaving the run out, 31.7 s /
  13.6 s with ``BENCH_TRIGGER=off``, and main with decision 0039's trigger 121.7 s / 80.9 s,
  back to back (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from bench.infra import database_url, postgres_server
from bench.infra import load as machine_load
from devtools.testing import REPO_CONFIG
from services.national.service_layer.promotion import PromotionReport, run_promotion
from services.national.service_layer.statistics import headcount
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrate import upgrade
from shared.federation.config import NATIONAL, Federation, School, load_federation

TARGET_ROWS, TARGET_SECONDS = 10_000_000, 60.0
SCHOOL_YEAR = 2026
CHUNK = 100_000
HELD_ONE_IN = 5_000
PRODUCTION_SETTINGS = ("max_wal_size = '32GB'", "checkpoint_timeout = '1h'")

COLUMNS = (
    "entry_id",
    "student_number",
    "registration_id",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "nationality",
    "ethnicity",
    "identity_key",
    "school_code",
    "province_code",
    "grade",
    "status",
    "enrolled_on",
    "registered_at",
    "updated_at",
    "active_transfer_id",
)
STAGE_GRADES = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10)}
STAGE_GRADES["senior"] = range(10, 13)
# Cohorts born later are smaller (China's births fell after 2017): grade 1 is the smallest.
COHORT = {g: 0.90 + 0.015 * g for g in range(1, 13)}
# Students not enrolled on August 10, outside the graduating grade (≈ 2.4 %).
AWAY = [
    ("suspended", 0.008),
    ("other_departure", 0.004),
    ("abroad", 0.003),
    ("dropout", 0.003),
    ("suspected_dropout", 0.002),
    ("deceased", 0.0004),
]
# The graduating grade on August 10: graduation is due by July 30 (LS 3(一)).
LAST_GRADE = [
    ("graduated", 0.93),
    ("completed", 0.015),
    ("incomplete", 0.005),
    ("enrolled", 0.03),  # not recorded in time: stays, and is reported
    ("suspended", 0.01),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梓涵子轩浩宇欣怡雨桐一诺思彤"


@dataclass
class Generated:
    """What the generator produced, to check the run against."""

    rows: int = 0
    expected: int = 0  # enrolled below the graduating grade
    statuses: Counter[str] = field(default_factory=Counter)
    # (transfer id, entry id, student number, from school, to school, grade)
    held: list[tuple[str, str, str, str, str, int]] = field(default_factory=list)


def _pick(rng: random.Random, table: list[tuple[str, float]], default: str) -> str:
    roll = rng.random()
    for status, share in table:
        if roll < share:
            return status
        roll -= share
    return default


def _shares(schools: list[School], rng: random.Random) -> list[tuple[School, int, float]]:
    """(school, grade, share of all students): a school's size varies ±30 %."""
    cells = []
    for school in schools:
        size = rng.uniform(0.7, 1.3)
        for grade in STAGE_GRADES[school.stage]:
            cells.append((school, grade, size * COHORT[grade]))
    total = sum(weight for _, _, weight in cells)
    return [(school, grade, weight / total) for school, grade, weight in cells]


def generate(
    federation: Federation, n: int, seed: int, out: Generated
) -> Iterator[tuple[Any, ...]]:
    """N registry rows in COLUMNS order, school by school, grade by grade."""
    rng = random.Random(seed)
    schools = [s for s in federation.schools if s.stage in STAGE_GRADES]
    others = {
        s.code: [o for o in schools if o.stage == s.stage and o.code != s.code] for s in schools
    }
    cells = _shares(schools, rng)
    counts = [int(n * share) for _, _, share in cells]
    counts[-1] += n - sum(counts)
    serials: Counter[tuple[str, date]] = Counter()
    registered = datetime(2025, 9, 20, tzinfo=UTC)
    for (school, grade, _), count in zip(cells, counts, strict=True):
        last = STAGE_GRADES[school.stage][-1]
        born_in = SCHOOL_YEAR - 7 - grade  # grade 1 in September 2025: born 2018-09 .. 2019-08
        enrolled_on = date(SCHOOL_YEAR - grade, 9, 1)
        for _ in range(count):
            born = date(born_in, 9, 1) + timedelta(days=rng.randrange(365))
            serials[(school.county, born)] += 1
            serial = serials[(school.county, born)]
            id_number = f"{school.county}{born:%Y%m%d}{serial:04d}"
            gender = "male" if serial % 2 else "female"
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            if grade == last:
                status = _pick(rng, LAST_GRADE, "other_departure")
            else:
                status = _pick(rng, AWAY, "enrolled")
            entry_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            held = None
            if status == "enrolled" and grade < last:
                out.expected += 1
                if others[school.code] and rng.randrange(HELD_ONE_IN) == 0:
                    held = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    to = rng.choice(others[school.code]).code
                    out.held.append((held, entry_id, "G" + id_number, school.code, to, grade))
            out.rows += 1
            out.statuses[status] += 1
            yield (
                entry_id,
                "G" + id_number,
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                name,
                gender,
                born,
                "resident_id",
                id_number,
                "CN",
                "汉族",
                f"{name}|{gender}|{born.isoformat()}",
                school.code,
                school.province,
                grade,
                status,
                enrolled_on,
                registered,
                registered,
                held,
            )


def transfer_rows(held: list[tuple[str, str, str, str, str, int]]) -> list[tuple[Any, ...]]:
    """The transfers holding the held students: in progress since June."""
    now = datetime(2026, 6, 1, tzinfo=UTC)
    rows = []
    for transfer_id, entry_id, number, from_school, to_school, grade in held:
        places = (from_school, to_school, from_school[:2], to_school[:2])
        facts = (grade, None, "the family moved", date(2026, 6, 1), "[]", "in_progress")
        closing = (None, None, str(uuid.uuid4()), now, None, None, None)
        rows.append((transfer_id, number, entry_id, *places, *facts, *closing))
    return rows


TRANSFER_COLUMNS = (
    "transfer_id", "student_number", "entry_id", "from_school", "to_school", "from_province",
    "to_province", "grade", "class_name", "reason", "requested_on", "proof_refs", "state",
    "closing_rule", "closing_reason", "correlation_id", "created_at", "completed_at",
    "closed_at", "archive_due_on",
)  # fmt: skip


def chunks(rows: Iterator[tuple[Any, ...]], size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- loading --------------------------------------------------------------------------------


async def load_postgres(dsn: str, rows: Iterator[tuple[Any, ...]], out: Generated) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for batch in chunks(rows):
            await connection.copy_records_to_table(
                "registry_entry", records=batch, columns=list(COLUMNS)
            )
        await connection.copy_records_to_table(  # proof_refs (JSON) as its text
            "transfer", records=transfer_rows(out.held), columns=list(TRANSFER_COLUMNS)
        )
        await connection.execute("VACUUM ANALYZE registry_entry")
        await connection.execute("VACUUM ANALYZE transfer")
    finally:
        await connection.close()


def load_sqlite(path: str, rows: Iterator[tuple[Any, ...]], out: Generated) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        marks = ", ".join("?" * len(COLUMNS))
        insert = f"INSERT INTO registry_entry ({', '.join(COLUMNS)}) VALUES ({marks})"
        for batch in chunks(rows):
            connection.executemany(insert, [_sqlite_row(r) for r in batch])
            connection.commit()
        marks = ", ".join("?" * len(TRANSFER_COLUMNS))
        connection.executemany(
            f"INSERT INTO transfer ({', '.join(TRANSFER_COLUMNS)}) VALUES ({marks})",
            [_sqlite_row(r) for r in transfer_rows(out.held)],
        )
        connection.commit()
        connection.execute("ANALYZE")
    finally:
        connection.close()


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dates and times as SQLAlchemy stores them on SQLite (ISO text)."""
    return tuple(
        v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, datetime)
        else v.isoformat()
        if isinstance(v, date)
        else v
        for v in row
    )


# -- the runs -------------------------------------------------------------------------------


async def timed_run(
    url: str, federation: Federation, school_year: int
) -> tuple[PromotionReport, float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            report = await run_promotion(
                session, federation, school_year, date(school_year, 8, 10), datetime.now(UTC)
            )
        return report, time.perf_counter() - started
    finally:
        await engine.dispose()


async def sql(url: str, statement: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            if statement.upper().startswith(("VACUUM", "ALTER SYSTEM")):
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await connection.execute(text(statement))
            rows = list(result) if result.returns_rows else []
            await connection.commit()
            return rows
    finally:
        await engine.dispose()


def print_run(label: str, report: PromotionReport, elapsed: float, rows: int) -> None:
    print(
        f"  {label}: {elapsed:7.2f} s — {report.promoted:,} promoted "
        f"({report.promoted / elapsed:,.0f} rows/s), {rows:,} registry rows "
        f"({rows / elapsed:,.0f} rows/s); in the function {report.duration_s:.2f} s, "
        f"commit {elapsed - report.duration_s:.2f} s"
    )
    left = sum(c.count for c in report.graduating)
    print(
        f"    by grade {dict(report.by_grade)}; still in the graduating grade {left:,}; "
        f"held by a transfer {len(report.in_transfer)}; messages {report.messages}"
    )


async def period_count(url: str) -> int:
    return int((await sql(url, "SELECT count(*) FROM registry_period"))[0][0])


async def census(
    url: str, federation: Federation, ran_at: datetime, before: dict[int, int]
) -> None:
    """The national census by grade today and just before the run, after it (the periods
    moved by the run, decision 0046), timed, each checked against a recount of the registry
    (``before``: the recount taken before the run)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as session:
            after = await recount(url)
            just_before = ran_at - timedelta(microseconds=1)
            for label, moment, expected in (
                ("today", None, after),
                ("just before the run", just_before, before),
            ):
                started = time.perf_counter()
                found = await headcount(session, federation, NATIONAL, ("grade",), moment)
                took = time.perf_counter() - started
                counts = {row.keys["grade"]: row.students for row in found.rows}
                assert counts == expected, (label, counts, expected)
                print(f"  national census by grade {label}: {took:.2f} s, = the recount")
    finally:
        await engine.dispose()


async def recount(url: str) -> dict[int, int]:
    rows = await sql(url, "SELECT grade, count(*) FROM registry_entry GROUP BY grade")
    return {int(grade): int(n) for grade, n in rows}


async def bench(url: str, kind: str, n: int, load: Any) -> None:
    federation = load_federation(REPO_CONFIG)
    await asyncio.to_thread(upgrade, "national", url)
    out = Generated()
    started = time.perf_counter()
    await load(generate(federation, n, 2026, out), out)
    print(f"generated and loaded {out.rows:,} rows in {time.perf_counter() - started:.1f} s")
    print(f"  statuses {dict(out.statuses.most_common())}")
    index = os.environ.get("BENCH_INDEX", "")
    if index == "status_grade":
        await sql(url, "CREATE INDEX ix_bench_status_grade ON registry_entry (status, grade)")
    if kind == "postgresql":
        # A production server is not run with 1 GB of WAL between checkpoints: the UPDATE
        # writes a new version of 8 of every 10 rows, and with the default every GB of WAL
        # forces a checkpoint mid-statement. Both settings take effect on reload.
        for setting in PRODUCTION_SETTINGS:
            await sql(url, f"ALTER SYSTEM SET {setting}")
        await sql(url, "SELECT pg_reload_conf()")
        await sql(url, "VACUUM ANALYZE registry_entry")
        names = await sql(
            url, "SELECT indexname FROM pg_indexes WHERE tablename = 'registry_entry'"
        )
        size = await sql(url, "SELECT pg_size_pretty(pg_total_relation_size('registry_entry'))")
        settings = await sql(
            url,
            "SELECT current_setting('shared_buffers'), current_setting('max_wal_size'), "
            "current_setting('checkpoint_timeout')",
        )
        print(f"  registry_entry: {size[0][0]} with {len(names)} indexes {[r[0] for r in names]}")
        print(
            f"  shared_buffers {settings[0][0]}, max_wal_size {settings[0][1]}, "
            f"checkpoint_timeout {settings[0][2]}"
        )

    if os.environ.get("BENCH_TRIGGER", "on") == "off":
        on = " ON registry_entry" if kind == "postgresql" else ""
        await sql(url, f"DROP TRIGGER trg_registry_period_update{on}")
        index += (" + " if index else "") + "no update trigger"
    statistics = os.environ.get("BENCH_STATISTICS", "1") != "0"
    before = await recount(url) if statistics else {}
    periods = await period_count(url)
    print(f"  {machine_load()}; {periods:,} status periods")
    report, elapsed = await timed_run(url, federation, SCHOOL_YEAR)
    assert report.ran and report.promoted == out.expected, (report.promoted, out.expected)
    assert len(report.in_transfer) == len(out.held)
    print(f"promotion of {n:,} registry rows on {kind}{' + ' + index if index else ''}:")
    print_run(f"{SCHOOL_YEAR} (first, after a bulk load)", report, elapsed, out.rows)
    written = await period_count(url) - periods
    print(f"  {machine_load()}; status periods written by the run: {written:,}")
    if statistics:
        await census(url, federation, report.ran_at, before)

    if kind == "postgresql":
        vacuum = time.perf_counter()
        await sql(url, "VACUUM ANALYZE registry_entry")
        print(f"  VACUUM ANALYZE between the years: {time.perf_counter() - vacuum:.1f} s")
    report, second = await timed_run(url, federation, SCHOOL_YEAR + 1)
    print_run(f"{SCHOOL_YEAR + 1} (a year later)", report, second, out.rows)
    print(f"  {machine_load()}")

    again, repeat = await timed_run(url, federation, SCHOOL_YEAR + 1)
    assert not again.ran
    print(f"  {SCHOOL_YEAR + 1} again: {repeat * 1000:.0f} ms, nothing done (once per year)")
    if kind == "postgresql" and n >= TARGET_ROWS:
        verdict = "met" if elapsed < TARGET_SECONDS else "NOT met"
    else:
        verdict = f"not measured here (needs {TARGET_ROWS:,} rows on PostgreSQL)"
    print(f"  target: {TARGET_ROWS:,} on PostgreSQL in < {TARGET_SECONDS:.0f} s -> {verdict}")


async def main(n: int) -> None:
    kind = os.environ.get("BENCH_DB", "sqlite")
    if kind == "postgresql":
        with postgres_server() as server:
            assert server is not None
            url = server.create_database("bench")

            async def copy(rows: Iterator[tuple[Any, ...]], out: Generated) -> None:
                await load_postgres(server.dsn("bench"), rows, out)

            try:
                await bench(url, kind, n, copy)
            finally:
                server.drop_database("bench")  # 10M rows leave 10 GB behind otherwise
        return
    with database_url("sqlite") as url:
        path = url.split("///", 1)[1]

        async def insert(rows: Iterator[tuple[Any, ...]], out: Generated) -> None:
            await asyncio.to_thread(load_sqlite, path, rows, out)

        await bench(url, kind, n, insert)
        size = await asyncio.to_thread(lambda: Path(path).stat().st_size)
        print(f"  SQLite file: {size / 2**20:,.0f} MiB")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    default = TARGET_ROWS if os.environ.get("BENCH_SCALE") == "full" else 1_000_000
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else default))
