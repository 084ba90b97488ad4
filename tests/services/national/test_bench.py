"""Benchmark: 100,000 students in 1,000-student batches through the national batch handler.

Opt-in (``XUEJI_BENCH=1``; ``XUEJI_BENCH_STUDENTS`` to change the size) because it takes a
minute per database on a small machine. Runs on SQLite and PostgreSQL; prints throughput
and the slowest batch, and fails if the last batches are much slower than the first ones
(a dedup query that scans instead of seeking would make the cost grow with the registry).
"""

from __future__ import annotations

import os
import random
import time
from datetime import date, timedelta

import pytest

from shared.contracts.students import BasicInfo, IdType
from shared.resident_id import generate_resident_id
from tests.services.national.builders import FEDERATION, NationalDriver, batch, outcomes_of

pytestmark = pytest.mark.skipif(
    not os.environ.get("XUEJI_BENCH"), reason="benchmark: set XUEJI_BENCH=1 to run"
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"


def student(rng: random.Random, division: str) -> BasicInfo:
    gender = rng.choice(["male", "female"])
    born = date(2012, 9, 1) + timedelta(days=rng.randrange(6 * 365))
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
    without_id = rng.random() < 0.05
    return BasicInfo(
        name=name,
        gender=gender,  # type: ignore[arg-type]
        birth_date=born,
        id_type=IdType.NONE if without_id else IdType.RESIDENT_ID,
        id_number=None if without_id else generate_resident_id(rng, division, born, gender),  # type: ignore[arg-type]
        grade=1 + rng.randrange(6),
        enrolled_on=date(2024, 9, 1),
    )


async def test_100k_students_in_1000_student_batches(national: NationalDriver) -> None:
    total = int(os.environ.get("XUEJI_BENCH_STUDENTS", "100000"))
    rng = random.Random(42)
    schools = [s for s in FEDERATION.schools if s.authority == "county"]
    timings: list[float] = []
    counts = {"issued": 0, "rejected": 0, "held_for_review": 0}
    for n in range(total // 1000):
        school = schools[n % len(schools)]
        sent = batch(*(student(rng, school.county) for _ in range(1000)), school=school.code)
        started = time.perf_counter()
        envelopes = await national.deliver(sent)
        timings.append(time.perf_counter() - started)
        for outcome in outcomes_of(envelopes[0]):
            counts[outcome["outcome"]] += 1
    tenth = max(1, len(timings) // 10)
    first, last = sum(timings[:tenth]) / tenth, sum(timings[-tenth:]) / tenth
    print(
        f"\n{total} students in {sum(timings):.1f}s ({total / sum(timings):.0f}/s); batch of "
        f"1000: first {first * 1000:.0f} ms, last {last * 1000:.0f} ms, slowest "
        f"{max(timings) * 1000:.0f} ms; outcomes {counts}"
    )
    assert sum(counts.values()) == total
    assert last < 3 * first + 0.5
