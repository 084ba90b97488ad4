"""A September progression (升学) at national scale: one cohort of N graduates, one request,
from the request to every student enrolled at the next-stage school.

Runs the real services as separate processes (national, province 41, county 41 and the
schools of school-41) over a real broker. Setup, not timed: one CSV of N grade-6 pupils
admitted at the primary school 4101020001 (the county approves the registration batches in
bulk requests), their graduating lists (2,000 a list) approved by the county. Timed: the
junior school 4101020002 asks for every graduate of 2027 in one request; each deciding party
(Henan's province step, the county, the graduating school: one task each for the whole
cohort) approves as soon as its task appears; done when the junior school shows every student
``progressed`` and the province has moved their archives (the graduating school keeping its
backups). Prints seconds, the services' CPU per student (national, province, county,
school instances, from /proc), and the target.

    python -m bench.progression [N]     N = 10,000     (BENCH_DB=postgresql for PostgreSQL)

Target: 10,000 in < 30 s on this machine (printed, never failed on). National holds the odd
generated pupil for review (same name, gender and birth date as another): the cohort is the
pupils actually registered, about 10,000.

Measured (SQLite, 2 cores shared with six other sessions' tests, load average 10-11,
2026-12-06, commit "progression: ... one wholly left out"): a cohort of 9,996 in **36.8 s**
(NOT met) — the province's task approved at 9.3 s, the county's at 14.7 s, the school's at
19.5 s, every student enrolled and every archive moved 17 s later; the services' CPU 13.9 s,
**1.39 ms per student** (national 3.5 s, province 5.3 s incl. the archive moves, school 3.9 s,
county 1.2 s). The wall time is three times the CPU: on a machine this loaded each process
waits for a core; an earlier run (the same code, without waiting for the archives) had the
last approval at 12.7 s.
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
from typing import Any

import httpx

from bench.infra import amqp_url, postgres_server
from bench.transfer_latency import cpu_seconds
from devtools.launcher import LocalFederation
from devtools.testing import federation_copy, instance_name
from shared.resident_id import generate_resident_id
from shared.security.testing import Minter

PRIMARY, JUNIOR, COUNTY, PROVINCE = "4101020001", "4101020002", "410102", "41"
INSTANCES = ("national", "province-41", "county-41", "school-41")
TODAY = "2026-09-07"
TARGET_STUDENTS, TARGET_SECONDS = 10_000, 30.0
GRADUATION_LIST = 2_000
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
    "家庭住址",
    "户籍所在地",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梓涵子轩浩宇欣怡雨桐一诺思彤"


def sixth_graders_csv(n: int, seed: int = 2027) -> bytes:
    """N grade-6 pupils of the primary school, born 2014-09 .. 2015-08, IDs distinct."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    seen: set[str] = set()
    while len(seen) < n:
        sex = rng.choice(["male", "female"])
        born = date(2014, 9, 1) + timedelta(days=rng.randrange(365))
        number = generate_resident_id(rng, PRIMARY[:6], born, sex)  # type: ignore[arg-type]
        if number in seen:
            continue
        seen.add(number)
        surname = rng.choice(SURNAMES)
        writer.writerow(
            [
                surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2]))),
                "男" if sex == "male" else "女",
                born.isoformat(),
                "居民身份证",
                number,
                "汉族",
                "6",
                "2026-09-01",
                surname + rng.choice(GIVEN),
                "父亲",
                f"13{rng.randrange(10**9):09d}",
                "郑州市中原区示例路 1 号",
                PRIMARY[:6],
            ]
        )
    return out.getvalue().encode("utf-8-sig")


class Client:
    """The federation's HTTP APIs, each call as the unit it names (all roles)."""

    def __init__(self, federation: LocalFederation, config: Path, minter: Minter) -> None:
        self.federation, self.config, self.minter = federation, config, minter
        self.http = httpx.AsyncClient(timeout=600)

    def url(self, instance: str, path: str) -> str:
        return self.federation.base_url(instance_name(self.config, instance)) + path

    async def call(self, method: str, instance: str, unit: str, path: str, **kw: Any) -> Any:
        headers = self.minter.headers(unit)
        response = await self.http.request(method, self.url(instance, path), headers=headers, **kw)
        response.raise_for_status()
        return response.json()


async def approve_open(c: Client, kind: str, *, progression: str | None = None) -> int:
    """Approve every open task of ``kind`` at the county, 200 a request; how many."""
    path = f"/api/v1/counties/{COUNTY}/tasks"
    page = await c.call(
        "GET",
        "county-41",
        f"county:{COUNTY}",
        path,
        params={"status": "open", "kind": kind, "limit": 200},
    )
    ids = [t["task_id"] for t in page["items"] if progression in (None, t.get("transfer_id"))]
    if ids:
        body = {"decisions": [{"task_id": i, "decision": "approve"} for i in ids]}
        await c.call("POST", "county-41", f"county:{COUNTY}", "/api/v1/tasks/decisions", json=body)
    return len(ids)


async def seed(c: Client, n: int) -> int:
    """N graduates of 2027 at the primary school (not timed); how many (national holds the
    odd pupil with another's name, gender and birth date for review: not registered)."""
    school = f"school:{PRIMARY}"
    job = await c.call(
        "POST",
        "school-41",
        school,
        f"/api/v1/schools/{PRIMARY}/admission-jobs",
        files={"file": ("grade6.csv", sixth_graders_csv(n), "text/csv")},
    )
    while True:
        await approve_open(c, "registration_batch")
        outcome = await c.call(
            "GET", "school-41", school, f"/api/v1/admission-jobs/{job['job_id']}"
        )
        if outcome["registrations"]["pending"] == 0:
            break
        await asyncio.sleep(0.5)
    numbers = await roster(c, "enrolled")
    for start in range(0, len(numbers), GRADUATION_LIST):
        items = [
            {"student_number": x, "outcome": "graduated"}
            for x in numbers[start : start + GRADUATION_LIST]
        ]
        await c.call(
            "POST",
            "school-41",
            school,
            f"/api/v1/schools/{PRIMARY}/graduations",
            json={"graduation_year": 2027, "items": items},
        )
    while len(await roster(c, "graduated")) < len(numbers):
        await approve_open(c, "graduation_batch")
        await asyncio.sleep(0.5)
    print(f"  seeded {len(numbers)} graduates of {PRIMARY} (2027)")
    return len(numbers)


async def roster(c: Client, status: str) -> list[str]:
    numbers: list[str] = []
    while True:
        page = await c.call(
            "GET",
            "school-41",
            f"school:{PRIMARY}",
            f"/api/v1/schools/{PRIMARY}/students",
            params={"grade": 6, "status": status, "limit": 1000, "offset": len(numbers)},
        )
        numbers += [s["student_number"] for s in page["items"]]
        if len(numbers) >= page["total"] or not page["items"]:
            return numbers


async def progress(c: Client, n: int) -> float:
    """The timed part: request, three parties' approvals, every student progressed."""
    parties = [
        ("province-41", f"province:{PROVINCE}", f"/api/v1/provinces/{PROVINCE}/tasks"),
        ("county-41", f"county:{COUNTY}", f"/api/v1/counties/{COUNTY}/tasks"),
        ("school-41", f"school:{PRIMARY}", f"/api/v1/schools/{PRIMARY}/progression-tasks"),
    ]
    started = time.perf_counter()
    asked = await c.call(
        "POST",
        "school-41",
        f"school:{JUNIOR}",
        f"/api/v1/schools/{JUNIOR}/progressions",
        json={"from_school": PRIMARY, "graduation_year": 2027},
    )
    pid = asked["progression_id"]
    for instance, unit, path in parties:
        while True:
            page = await c.call(
                "GET", instance, unit, path, params={"status": "open", "limit": 200}
            )
            found = [t for t in page["items"] if t.get("transfer_id") == pid]
            if found:
                break
            await asyncio.sleep(0.1)
        body = {"decisions": [{"task_id": found[0]["task_id"], "decision": "approve"}]}
        await c.call("POST", instance, unit, "/api/v1/tasks/decisions", json=body)
        print(
            f"  {unit} approved its task for the cohort at {time.perf_counter() - started:6.1f} s"
        )
    while True:
        done = await c.call("GET", "school-41", f"school:{JUNIOR}", f"/api/v1/progressions/{pid}")
        if done["status"] in ("completed", "rejected", "refused"):
            break
        await asyncio.sleep(0.2)
    assert done["status"] == "completed", done["status"]
    # the province moves the whole cohort's archives in one transaction: one student's will do
    sample = done["items"][-1]["named"]
    archive = f"/api/v1/schools/{JUNIOR}/archives/{sample}"
    while True:
        try:
            await c.call("GET", "province-41", f"province:{PROVINCE}", archive)
            break
        except httpx.HTTPStatusError:
            await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    progressed = done["counts"].get("progressed", 0)
    assert progressed == n, done["counts"]
    return elapsed


async def main(n: int) -> None:
    with (
        amqp_url() as url,
        tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch,
        postgres_server() as pg,
    ):
        config = federation_copy(Path(scratch) / "config")
        federation = LocalFederation(
            config,
            Path(scratch) / "data",
            url,
            database_url_for=(lambda name: pg.create_database(name.replace("-", "_")))
            if pg
            else None,
            extra_env={"XUEJI_TODAY": TODAY},
        )
        try:
            for base in INSTANCES:
                federation.start_instance(instance_name(config, base), timeout=180)
            minter = Minter.for_federation(federation.keys_dir, federation.federation)
            client = Client(federation, config, minter)
            seeded = await seed(client, n)
            before = {name: cpu_seconds(pid) for name, pid in federation.pids.items()}
            elapsed = await progress(client, seeded)
            used = {name: cpu_seconds(pid) - before[name] for name, pid in federation.pids.items()}
            await client.http.aclose()
        finally:
            federation.stop()
    total = sum(used.values())
    n = seeded
    print(
        f"progression of a cohort of {n} graduates (request → every student enrolled):"
        f" {elapsed:6.1f} s"
    )
    print(
        f"  services' CPU {total:6.1f} s = {1000 * total / n:5.2f} ms per student ("
        + ", ".join(f"{k.rsplit('-', 1)[0]} {v:.1f} s" for k, v in sorted(used.items()))
        + ")"
    )
    met = n >= 0.99 * TARGET_STUDENTS and elapsed < TARGET_SECONDS
    print(
        f"  target: {TARGET_STUDENTS:,} in < {TARGET_SECONDS:.0f} s"
        f" -> {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else TARGET_STUDENTS))
