"""A September intake at national scale: one CSV of N students, from upload to issued numbers.

Runs the real services as separate processes (national, province 33, county 330102 and the
school 3301020001; Zhejiang approves registrations that pass every check automatically) over
a real broker, uploads one CSV of generated students (valid resident IDs, realistic names),
and waits until every student has a student number or is held for national review. Prints
seconds, students/s, and the ratio to the bare-broker message rate measured in the same run.
Target: 100,000 in < 60 s.

    python -m bench.bulk_admission [N]          (BENCH_DB=postgresql for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from bench.infra import amqp_url, postgres_server
from bench.kernel_throughput import bare_rate
from devtools.launcher import LocalFederation
from devtools.testing import federation_copy, instance_name
from shared.resident_id import generate_resident_id
from shared.security.principal import Role
from shared.security.testing import Minter

SCHOOL = "3301020001"
INSTANCES = ("national", "province-33", "county-33", "school-33")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梓涵子轩浩宇欣怡雨桐一诺思彤"
HEADER = [
    "姓名",
    "性别",
    "出生日期",
    "证件类型",
    "证件号码",
    "民族",
    "年级",
    "入学日期",
    "监护人",
    "监护人关系",
    "监护人电话",
    "住址",
    "户籍地",
]


def intake_csv(n: int, seed: int = 2026) -> bytes:
    """N first-graders of the school, born 2019-09 .. 2020-08, every ID number distinct."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    seen: set[str] = set()
    while len(seen) < n:
        sex = rng.choice(["male", "female"])
        born = date(2019, 9, 1) + timedelta(days=rng.randrange(366))
        number = generate_resident_id(rng, SCHOOL[:6], born, sex)  # type: ignore[arg-type]
        if number in seen:
            continue
        seen.add(number)
        surname = rng.choice(SURNAMES)
        name = surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        writer.writerow(
            [
                name,
                "男" if sex == "male" else "女",
                born.isoformat(),
                "居民身份证",
                number,
                "汉族",
                "1",
                "2026-09-01",
                surname + rng.choice(GIVEN),
                "父亲",
                f"13{rng.randrange(10**9):09d}",
                "杭州市上城区示例路 1 号",
                SCHOOL[:6],
            ]
        )
    return out.getvalue().encode("utf-8-sig")


async def admit(base_url: str, data: bytes, n: int, minter: Minter) -> float:
    registrar = minter.headers(f"school:{SCHOOL}", Role.REGISTRAR)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, headers=registrar) as http:
        started = time.perf_counter()
        response = await http.post(
            f"/api/v1/schools/{SCHOOL}/admission-jobs",
            files={"file": ("intake.csv", data, "text/csv")},
        )
        response.raise_for_status()
        job = response.json()
        assert job["rows"]["accepted"] == n, job["rows"]
        uploaded = time.perf_counter() - started
        print(f"  upload validated and registered at the school: {uploaded:6.1f} s")
        while True:  # settled: numbered, or held for a human (same name, gender, birthday)
            outcome = (await http.get(f"/api/v1/admission-jobs/{job['job_id']}")).json()[
                "registrations"
            ]
            if outcome["pending"] == 0:
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        print(
            f"  issued {outcome['approved']}, held for national review {outcome['held_for_review']}"
            f" (same name + gender + birth date as another child), rejected {outcome['rejected']}"
        )
        assert outcome["rejected"] == 0, outcome
        return elapsed


async def main(n: int) -> None:
    data = intake_csv(n)
    with (
        amqp_url() as url,
        tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch,
        postgres_server() as pg,
    ):
        bare = await bare_rate(url, 20_000)
        config = federation_copy(Path(scratch) / "config")
        federation = LocalFederation(
            config,
            Path(scratch) / "data",
            url,
            database_url_for=(lambda name: pg.create_database(name.replace("-", "_")))
            if pg
            else None,
        )
        try:
            for base in INSTANCES:
                federation.start_instance(instance_name(config, base), timeout=120)
            school = federation.base_url(instance_name(config, "school-33"))
            minter = Minter.for_federation(federation.keys_dir, federation.federation)
            elapsed = await admit(school, data, n, minter)
        finally:
            federation.stop()
    rate = n / elapsed
    print(
        f"bulk admission of {n} students (upload → approval → national numbers): {elapsed:6.1f} s"
    )
    print(f"  {rate:8.0f} students/s; bare broker {bare:8.0f} msg/s; ratio {rate / bare:.2f}")
    print(f"  target: 100,000 in < 60 s -> {'met' if n < 100_000 or elapsed < 60 else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
