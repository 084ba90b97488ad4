"""Set-based generation of a country's worth of synthetic students inside PostgreSQL.

Rows are computed by the server (``INSERT … SELECT … FROM generate_series``), never built in
Python: a row ``g`` is a bijection of (county, birth date, serial), so resident ID numbers are
unique by construction and valid (GB 11643-1999: a division code of 31 provinces × 97
counties that passes ``shared.resident_id``'s structural rules, the birth date, a sequence
whose parity is the gender, the ISO 7064 MOD 11-2 check character computed in SQL). Names are
drawn from the hundred commonest surnames and one or two given characters, so that name +
gender + birth date repeat as they do in a real population (the suspect rule must live with
that). Grades follow the birth date (grade 1 born 2018-09 … 2019-08 in the 2025-26 school
year), each student at a school of the federation that teaches the grade, statuses as
``bench.promotion`` spreads them (≈ 2 % away; the graduating grade graduated on August 10).

During the load the tables' secondary indexes, unique and primary keys, the foreign keys that
point at them and their triggers are dropped (``strip``) and rebuilt after (``restore``, each
build timed, ``maintenance_work_mem`` raised and printed): a B-tree built once from sorted
keys costs a fraction of fifty million random insertions. National's status history
(``registry_period``, migration 0020) gets its one open period per entry with the migration's
own back-fill statement, as for the entries that existed when the migration ran.

The province's archives are generated the same way (``archive`` with its basic and extended
info as JSON, and the section-1 "registered" entry each issued archive has).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.infra import load
from shared.federation.config import Federation

MAINTENANCE_WORK_MEM = "1GB"  # for the index builds after the load (printed)
CHUNK = 1_000_000
LOADERS = 2  # INSERT … SELECT statements at once (this machine has two cores)
SCHOOL_YEAR = 2026  # the 2025-26 school year; August 10, 2026 promotes it
REGISTERED_AT = datetime(2025, 9, 20, tzinfo=UTC)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梓涵子轩浩宇欣怡雨桐一诺思彤晨阳佳琪"
    "俊杰雅婷嘉怡博文梦瑶宇航诗涵浩然欣妍子墨若汐铭泽语嫣"
)
# The 31 mainland provinces (GB/T 2260); each gets 97 counties: prefecture 01-20, county
# 01-05, codes ``shared.resident_id`` accepts.
_RANGES = ((11, 16), (21, 24), (31, 38), (41, 47), (50, 55), (61, 66))
PROVINCES = tuple(str(code) for low, high in _RANGES for code in range(low, high))
COUNTIES = 31 * 97
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
STAGE_GRADES = {"primary": (1, 6), "junior": (7, 9), "nine_year": (1, 9), "senior": (10, 12)}
ETHNIC = ("壮族", "回族", "满族", "维吾尔族", "苗族", "彝族", "土家族", "藏族", "蒙古族", "侗族")
# (status, upper bound of a roll in 0..99,999): as bench.promotion spreads them.
AWAY = (
    ("suspended", 800),
    ("other_departure", 1200),
    ("abroad", 1500),
    ("dropout", 1800),
    ("suspected_dropout", 2000),
    ("deceased", 2040),
)
LAST_GRADE = (
    ("graduated", 93000),
    ("completed", 94500),
    ("incomplete", 95000),
    ("enrolled", 98000),
    ("suspended", 99000),
)


def _array(values: list[str] | tuple[str, ...]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


def _case(roll: str, table: tuple[tuple[str, int], ...], default: str) -> str:
    whens = " ".join(f"WHEN {roll} < {bound} THEN '{status}'" for status, bound in table)
    return f"CASE {whens} ELSE '{default}' END"


def _drawn(federation: Federation, provinces: tuple[str, ...] | None = None) -> str:
    """SELECT of the drawn facts of rows ``$1 .. $2``: g → county, birth date, serial, gender,
    name, ethnicity, grade, school (only ``provinces``' schools when given)."""
    schools = [
        s
        for s in federation.schools
        if s.stage in STAGE_GRADES and (provinces is None or s.province in provinces)
    ]
    by_grade: dict[int, list[str]] = {}
    for school in schools:
        low, high = STAGE_GRADES[school.stage]
        for grade in range(low, high + 1):
            by_grade.setdefault(grade, []).append(school.code)
    low, high = min(by_grade), max(by_grade)
    if set(by_grade) != set(range(low, high + 1)):
        raise ValueError(f"the schools teach grades {sorted(by_grade)}: not a range")
    # born September 1 of the top grade's year … August 31 of grade ``low``'s
    first, days = f"{SCHOOL_YEAR - 7 - high}-09-01", 365 * (high - low + 1)
    placed = " ".join(
        f"WHEN {grade} THEN ({_array(codes)})[1 + h4 % {len(codes)}]"
        for grade, codes in sorted(by_grade.items())
    )
    last = " ".join(
        f"WHEN '{s.code}' THEN {STAGE_GRADES[s.stage][1]}" for s in schools
    )  # the school's graduating grade
    return f"""
    SELECT g, base, male, birth, grade, school,
           CASE school {last} END AS last_grade,
           substr('{SURNAMES}', (1 + h1 % {len(SURNAMES)})::int, 1)
             || substr('{GIVEN}', (1 + h2 % {len(GIVEN)})::int, 1)
             || CASE WHEN h1 % 5 = 0 THEN ''
                ELSE substr('{GIVEN}', (1 + h3 % {len(GIVEN)})::int, 1) END AS name,
           CASE WHEN h3 % 1000 < 910 THEN '汉族'
                ELSE ({_array(ETHNIC)})[1 + (h3 / 1000) % {len(ETHNIC)}] END AS ethnicity,
           h2 % 100000 AS roll, h1, h2, h3
    FROM (
        SELECT *, CASE grade {placed} END AS school
        FROM (
            SELECT g, male, birth, h1, h2, h3, h4,
                   {high} - least((birth - date '{first}') / 365, {high - low}) AS grade,
                   county || to_char(birth, 'YYYYMMDD')
                     || to_char(100 + 2 * serial + CASE WHEN male THEN 1 ELSE 0 END, 'FM000')
                     AS base
            FROM (
                SELECT g,
                       ({_array(PROVINCES)})[1 + ((g / {days} % {COUNTIES}) % 31)::int]
                         || to_char(1 + ((g / {days} % {COUNTIES}) / 31) / 5, 'FM00')
                         || to_char(1 + ((g / {days} % {COUNTIES}) / 31) % 5, 'FM00') AS county,
                       date '{first}' + (g % {days})::int AS birth,
                       g / {days} / {COUNTIES} AS serial,
                       (hashint8(g) & 1) = 1 AS male,
                       abs(hashint8(g * 3 + 1)::bigint) AS h1,
                       abs(hashint8(g * 5 + 2)::bigint) AS h2,
                       abs(hashint8(g * 7 + 3)::bigint) AS h3,
                       abs(hashint8(g * 11 + 4)::bigint) AS h4
                FROM generate_series($1::bigint, $2::bigint) AS g
                OFFSET 0
            ) AS counted
            OFFSET 0
        ) AS aged
        OFFSET 0
    ) AS placed
    OFFSET 0
    """


def _checked(drawn: str) -> str:
    check = " + ".join(f"substr(base, {i + 1}, 1)::int * {w}" for i, w in enumerate(WEIGHTS))
    return f"""
    SELECT *, base || substr('10X98765432', (({check}) % 11) + 1, 1) AS id_number,
           CASE WHEN male THEN 'male' ELSE 'female' END AS gender,
           CASE WHEN grade = last_grade THEN {_case("roll", LAST_GRADE, "other_departure")}
                ELSE {_case("roll", AWAY, "enrolled")} END AS status
    FROM ({drawn}) AS drawn
    OFFSET 0
    """


def registry_sql(federation: Federation) -> str:
    """INSERT … SELECT of national's registry entries ``$1 .. $2`` (``$3``: registered at)."""
    return f"""
    INSERT INTO registry_entry (entry_id, student_number, registration_id, name, gender,
        birth_date, id_type, id_number, nationality, ethnicity, identity_key, school_code,
        province_code, grade, status, enrolled_on, registered_at, updated_at, graduation_year)
    SELECT md5(g::text || 'e')::uuid::text, 'G' || id_number, md5(g::text || 'r')::uuid::text,
        name, gender, birth, 'resident_id', id_number, 'CN', ethnicity,
        name || '|' || gender || '|' || to_char(birth, 'YYYY-MM-DD'),
        school, left(school, 2), grade, status, make_date({SCHOOL_YEAR} - grade, 9, 1), $3, $3,
        CASE WHEN status IN ('graduated', 'completed', 'incomplete') THEN {SCHOOL_YEAR} END
    FROM ({_checked(_drawn(federation))}) AS final
    """


def archive_sql(federation: Federation, province: str) -> str:
    """INSERT … SELECT of ``province``'s active archives ``$1 .. $2`` (``$3``: filed at): the
    basic info as the school filed it (``BasicInfo``), the extended info (``ExtendedInfo``:
    guardians, address, hukou place, phone, migrant children ~ 15 %)."""
    return f"""
    INSERT INTO archive (archive_id, province, school_code, batch_id, status, student_number,
        basic, extended, filed_at, activated_at, updated_at)
    SELECT md5(g::text || 'r')::uuid::text, '{province}', school,
        md5((g / 500)::text || 'b')::uuid::text, 'active', 'G' || id_number,
        json_build_object('name', name, 'gender', gender, 'birth_date', birth,
            'id_type', 'resident_id', 'id_number', id_number, 'nationality', 'CN',
            'ethnicity', ethnicity, 'grade', grade,
            'enrolled_on', make_date({SCHOOL_YEAR} - grade, 9, 1)),
        json_build_object(
            'guardians', json_build_array(
                json_build_object('name', substr(name, 1, 1)
                    || substr('{GIVEN}', (1 + h3 % {len(GIVEN)})::int, 1)
                    || substr('{GIVEN}', (1 + h1 % {len(GIVEN)})::int, 1),
                  'relation', CASE WHEN h2 % 2 = 0 THEN '父亲' ELSE '母亲' END,
                  'phone', '1' || to_char(30 + h1 % 60, 'FM00') || to_char(h2 % 100000000,
                      'FM00000000'))),
            'address', left(school, 6) || '某街道' || (1 + h3 % 300)::text || '号',
            'hukou_region', left(id_number, 6),
            'phone', NULL, 'health_notes', NULL,
            'migrant', h2 % 100 < 15, 'home_instruction', false),
        $3, $3, $3
    FROM ({_checked(_drawn(federation, (province,)))}) AS final
    """


ARCHIVE_ENTRY_SQL = """
    INSERT INTO archive_entry (archive_id, section, kind, occurred_on, recorded_at, reference,
        data)
    SELECT archive_id, 'basic', 'registered', (filed_at AT TIME ZONE 'Asia/Shanghai')::date,
        filed_at, batch_id,
        json_build_object('student_number', student_number, 'school_code', school_code,
            'grade', basic->'grade', 'enrolled_on', basic->'enrolled_on',
            'decided_by', 'system', 'decided_unit', NULL, 'decided_rule', NULL)
    FROM archive
"""


def _migration(service: str, name: str) -> Any:
    """A migration module of a service (its statements, not copies of them)."""
    root = Path(__file__).resolve().parents[1]
    path = root / "services" / service / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(f"bench_{service}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Timings:
    """What a generation took, to print and to record."""

    rows: int = 0
    insert_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


async def strip(connection: Any, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """Drop the tables' indexes, keys, the foreign keys pointing at them, disable their
    triggers and autovacuum; return (label, statement) to rebuild them, in order."""
    restore: list[tuple[str, str]] = []
    foreign: list[tuple[str, str]] = []
    for table in tables:
        fks = await connection.fetch(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE confrelid = $1::regclass AND contype = 'f'",
            table,
        )
        for owner, name, definition in fks:
            await connection.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
            foreign.append(
                (f"{owner}.{name}", f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}')
            )
        keys = await connection.fetch(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = $1::regclass AND contype IN ('p', 'u')",
            table,
        )
        for name, definition in keys:
            await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append((name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        indexes = await connection.fetch(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = $1::regclass",
            table,
        )
        for name, definition in indexes:
            await connection.execute(f"DROP INDEX {name}")
            restore.insert(0, (name, definition))
        await connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        restore.append((f"{table} triggers", f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        # no autovacuum racing the load (the VACUUM after it does the work once)
        await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        restore.append((f"{table} autovacuum", f"ALTER TABLE {table} RESET (autovacuum_enabled)"))
    return restore + foreign


async def rebuild(connection: Any, restore: list[tuple[str, str]], timings: Timings) -> None:
    """Rebuild what :func:`strip` dropped, each statement timed."""
    await connection.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    workers = await connection.fetchval("SHOW max_parallel_maintenance_workers")
    print(
        f"  rebuilding {len(restore)} indexes, keys and triggers with maintenance_work_mem"
        f" {MAINTENANCE_WORK_MEM}, max_parallel_maintenance_workers {workers}",
        flush=True,
    )
    for label, statement in restore:
        began = time.perf_counter()
        await connection.execute(statement)
        timings.steps[label] = time.perf_counter() - began
        print(f"    {label:42s} {timings.steps[label]:7.1f} s  [{load()}]", flush=True)


async def _chunked(
    dsn: str, statement: str, n: int, at: datetime, timings: Timings, what: str
) -> None:
    """Rows ``0 .. n-1`` in chunks, LOADERS connections at once (one core each)."""
    chunks = [(start, min(n, start + CHUNK) - 1) for start in range(0, n, CHUNK)]
    began = time.perf_counter()

    async def loader() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            while chunks:
                first, last = chunks.pop(0)
                started = time.perf_counter()
                await connection.execute(statement, first, last, at)
                took = time.perf_counter() - started
                print(
                    f"  {what} {first:>11,} .. {last:>11,}: {took:5.1f} s"
                    f" ({(last - first + 1) / took:,.0f} rows/s)  [{load()}]",
                    flush=True,
                )
        finally:
            await connection.close()

    await asyncio.gather(*(loader() for _ in range(LOADERS)))
    timings.insert_s = time.perf_counter() - began
    timings.rows = n


async def _timed(connection: Any, label: str, statement: str, timings: Timings) -> None:
    began = time.perf_counter()
    await connection.execute(statement)
    timings.steps[label] = time.perf_counter() - began
    print(f"  {label}: {timings.steps[label]:.1f} s  [{load()}]", flush=True)


async def generate_registry(dsn: str, n: int, federation: Federation) -> Timings:
    """N entries in national's ``registry_entry`` (migrated to head, empty) and their open
    periods in ``registry_period``; indexes, keys and triggers rebuilt after."""
    timings = Timings()
    connection = await asyncpg.connect(dsn)
    try:
        restore = await strip(connection, ("registry_entry", "registry_period"))
        await _chunked(dsn, registry_sql(federation), n, REGISTERED_AT, timings, "entries")
        backfill = _migration("national", "0020_statistics.py")._BACKFILL
        await _timed(connection, "periods (migration 0020's back-fill)", backfill, timings)
        await rebuild(connection, restore, timings)
        await _timed(
            connection, "VACUUM ANALYZE registry_entry", "VACUUM ANALYZE registry_entry", timings
        )
        await _timed(
            connection, "VACUUM ANALYZE registry_period", "VACUUM ANALYZE registry_period", timings
        )
    finally:
        await connection.close()
    return timings


async def generate_archives(dsn: str, n: int, federation: Federation, province: str) -> Timings:
    """N active archives of ``province`` (its schools) with their section-1 entry."""
    timings = Timings()
    connection = await asyncpg.connect(dsn)
    try:
        restore = await strip(connection, ("archive", "archive_entry"))
        await _chunked(
            dsn, archive_sql(federation, province), n, REGISTERED_AT, timings, "archives"
        )
        began = time.perf_counter()
        await connection.execute(ARCHIVE_ENTRY_SQL)
        timings.steps["entries"] = time.perf_counter() - began
        print(f"  section-1 entries: {timings.steps['entries']:.1f} s  [{load()}]", flush=True)
        await rebuild(connection, restore, timings)
        await _timed(connection, "VACUUM ANALYZE archive", "VACUUM ANALYZE archive", timings)
        await _timed(
            connection, "VACUUM ANALYZE archive_entry", "VACUUM ANALYZE archive_entry", timings
        )
    finally:
        await connection.close()
    return timings
