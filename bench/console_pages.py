"""Server time per console page for a 3,000-student school (the roster, a student page, the
home page and the audit viewer) and for a county officer's approval queue with 1,000 open
tasks, each through the console and the API calls behind it.

Runs national, province 33, county 330102 and the school 3301020001 (Zhejiang approves
registrations that pass every check) as separate processes over a real broker, admits an
intake of 3,000 students, starts the console, logs in as the school's registrar and requests
each page N times one after another (a registrar clicking; the console and the services share
the machine's cores). Then province 41, county 41 and school 41: 1,000 first-graders submitted
one by one at 4101020001 (Henan: the county officer approves each registration) are 1,000
open tasks in county 410102's queue, whose officer requests the queue (by due date, 50 a
page), the queue filtered by kind and school, and a task. Prints p50/p95 per page. Target:
p95 under 150 ms.

    python -m bench.console_pages [N] [queue]  (queue: the approval queue only;
                                                BENCH_DB=postgresql for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import httpx

from bench.bulk_admission import INSTANCES, SCHOOL, admit, intake_csv
from bench.infra import amqp_url, describe, load, postgres_server
from bench.promotion import Generated, generate, load_postgres, load_sqlite
from devtools.broker import free_port
from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from devtools.postgres import LocalPostgres
from devtools.testing import federation_copy, instance_name
from services.console.dashboard_pages import HEADCOUNT, MOVEMENTS, SCHOOLS
from shared.db.migrate import upgrade
from shared.federation.config import load_federation
from shared.resident_id import generate_resident_id
from shared.security.principal import Role
from shared.security.testing import Minter

STUDENTS = 3_000
TARGET_MS = 150.0
# The approval queue: a Henan county, whose officer approves each registration.
QUEUE_TASKS = 1_000
QUEUE_SCHOOL, QUEUE_COUNTY = "4101020001", "410102"
QUEUE_INSTANCES = ("province-41", "county-41", "school-41")
# The dashboard: province 41 with 2,000 schools, half in each of its two counties.
DASHBOARD_SCHOOLS = 2_000
DASHBOARD_STUDENTS = 200_000
DASHBOARD_PROVINCE, DASHBOARD_COUNTY = "41", "410102"
DASHBOARD_INSTANCES = ("national", "province-41", "county-41")


def log_in(console: httpx.Client, username: str, password: str, unit: str = SCHOOL) -> None:
    form = console.get("/login").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found, "no CSRF token on the login page"
    answer = console.post(
        "/login",
        data={
            "csrf_token": found.group(1),
            "unit_code": unit,
            "username": username,
            "password": password,
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text[:300]


def timed(console: httpx.Client, path: str, n: int) -> list[float]:
    console.get(path).raise_for_status()  # warm: templates compiled, connections open
    spent = []
    for _ in range(n):
        started = time.perf_counter()
        response = console.get(path)
        spent.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return spent


def report(name: str, spent: list[float]) -> bool:
    """Print p50 and p95 of ``spent`` (ms); whether p95 is under the target."""
    cuts = statistics.quantiles(spent, n=100)
    p50, p95 = statistics.median(spent), cuts[94]
    met = p95 < TARGET_MS
    print(f"  {name:<34} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   {'met' if met else 'NOT met'}")
    return met


def pages(
    base_url: str, school_url: str, username: str, password: str, n: int, minter: Minter
) -> bool:
    """Log in as the registrar and time each page; whether every p95 met the target. The
    roster API called directly, for comparison, shows what the console itself adds."""
    print(f"console pages, {STUDENTS} students at school {SCHOOL}, {n} requests each:")
    headers = minter.headers(f"school:{SCHOOL}", Role.REGISTRAR)
    with httpx.Client(base_url=school_url, timeout=30, headers=headers) as api:
        report(
            "(the roster API alone, no console)",
            timed(api, f"/api/v1/schools/{SCHOOL}/students?limit=50", n),
        )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        log_in(http, username, password)
        roster = http.get("/students", params={"grade": 1}).text
        number = re.search(r'href="/students/(G[0-9X]{18})"', roster)
        assert number, "no student on the roster page"
        met = [
            report("roster (first page of 50)", timed(http, "/students", n)),
            report("roster search (a name)", timed(http, "/students?q=%E7%8E%8B", n)),
            report("student page", timed(http, f"/students/{number.group(1)}", n)),
            report("home page", timed(http, "/", n)),
            # the school's trail (first 50) and its chain walked from the last head found
            # whole: each request adds one entry to walk
            report("audit viewer", timed(http, "/audit", n)),
        ]
    return all(met)


def first_grader(rng: random.Random, i: int) -> dict[str, object]:
    birth = date(2019, 1, 1) + timedelta(days=rng.randrange(365))
    sex: Literal["male", "female"] = "male" if i % 2 else "female"
    return {
        "name": f"审核学生{i:04d}",
        "gender": sex,
        "birth_date": birth.isoformat(),
        "id_type": "resident_id",
        "id_number": generate_resident_id(rng, QUEUE_COUNTY, birth, sex),
        "ethnicity": "汉族",
        "grade": 1,
        "enrolled_on": "2026-09-01",
        "extended": {
            "guardians": [{"name": f"家长{i:04d}", "relation": "父亲", "phone": "13800000000"}],
            "address": "示例路 1 号",
            "hukou_region": QUEUE_COUNTY,
        },
    }


async def fill_queue(school_url: str, county_url: str, minter: Minter) -> None:
    """``QUEUE_TASKS`` registrations submitted one by one (8 at a time): as many open tasks
    in the county's queue."""
    registrar = minter.headers(f"school:{QUEUE_SCHOOL}", Role.REGISTRAR)
    officer = minter.headers(f"county:{QUEUE_COUNTY}", Role.APPROVER)
    rng = random.Random(2026)
    bodies = [first_grader(rng, i) for i in range(QUEUE_TASKS)]
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=school_url, timeout=60, headers=registrar) as http:
        gate = asyncio.Semaphore(8)

        async def submit(body: dict[str, object]) -> None:
            async with gate:
                answer = await http.post(f"/api/v1/schools/{QUEUE_SCHOOL}/students", json=body)
                assert answer.status_code == 202, answer.text

        await asyncio.gather(*(submit(b) for b in bodies))
    path = f"/api/v1/counties/{QUEUE_COUNTY}/tasks"
    async with httpx.AsyncClient(base_url=county_url, timeout=60, headers=officer) as http:
        while True:
            found = await http.get(path, params={"status": "open", "limit": 1})
            if found.json()["total"] >= QUEUE_TASKS:
                break
            await asyncio.sleep(0.5)
    print(
        f"  {QUEUE_TASKS} open tasks at county {QUEUE_COUNTY}"
        f" in {time.perf_counter() - started:.0f} s"
    )


def queue_pages(
    base_url: str, county_url: str, username: str, password: str, n: int, minter: Minter
) -> bool:
    """Log in as the county officer and time the queue; whether every p95 met the target."""
    print(f"approval queue, {QUEUE_TASKS} open tasks at county {QUEUE_COUNTY}, {n} requests each:")
    headers = minter.headers(f"county:{QUEUE_COUNTY}", Role.APPROVER)
    path = f"/api/v1/counties/{QUEUE_COUNTY}/tasks?status=open&order=due&limit=50"
    with httpx.Client(base_url=county_url, timeout=30, headers=headers) as api:
        report("(the task list API alone, no console)", timed(api, path, n))
    with httpx.Client(base_url=base_url, timeout=30) as http:
        log_in(http, username, password, QUEUE_COUNTY)
        queue = http.get("/").text
        task = re.search(r'href="(/authority/tasks/[0-9a-f-]{36})"', queue)
        assert task, "no task on the queue page"
        assert f"共 {QUEUE_TASKS} 项待审核" in queue, "the queue does not count the open tasks"
        filtered = f"/?kind=registration_batch&school={QUEUE_SCHOOL}"
        met = [
            report("queue (first 50 by due date)", timed(http, "/", n)),
            report("queue, by kind and school", timed(http, filtered, n)),
            report("queue, tenth page", timed(http, "/?offset=450", n)),
            report("task page", timed(http, task.group(1), n)),
        ]
    return all(met)


def many_schools() -> list[dict[str, object]]:
    """``DASHBOARD_SCHOOLS`` schools of province 41 (serials from 1000), on school-41."""
    counties = ("410102", "410105")
    return [
        {
            "code": f"{counties[i % 2]}{1000 + i // 2:04d}",
            "name": f"基准学校{i:04d}",
            "county": counties[i % 2],
            "stage": "primary" if i % 3 else "junior",
            "instance": "school-41",
        }
        for i in range(DASHBOARD_SCHOOLS)
    ]


async def seed_registry(config: Path, data: Path, pg: LocalPostgres | None, name: str) -> None:
    """``DASHBOARD_STUDENTS`` registry rows (and their periods, by the triggers) loaded into
    national's database in chunks, spread over every school of the federation by size —
    before national starts, so that its first roll-up counts them (the rows are dated
    September 2025: a roll-up already made would take them for counted)."""
    federation = load_federation(config)
    out = Generated()
    started = time.perf_counter()
    if pg is not None:
        url = pg.create_database(name.replace("-", "_"), exist_ok=True)
    else:
        (data / "db").mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{data / 'db' / name}.sqlite"
    await asyncio.to_thread(upgrade, "national", url)
    rows = generate(federation, DASHBOARD_STUDENTS, 2026, out)
    if pg is not None:
        await load_postgres(pg.dsn(name.replace("-", "_")), rows, out)
    else:
        await asyncio.to_thread(load_sqlite, str(data / "db" / f"{name}.sqlite"), rows, out)
    print(
        f"  {out.rows:,} registry rows over {len(federation.schools):,} schools loaded"
        f" in {time.perf_counter() - started:.0f} s"
    )


def dashboard_apis(national_url: str, province_url: str, unit: str, n: int, minter: Minter) -> None:
    """The API calls behind one dashboard, each alone (the officer's token): where the page's
    time goes."""
    headers = minter.headers(f"province:{DASHBOARD_PROVINCE}", Role.APPROVER)
    today = date.today()
    start = today - timedelta(days=27)
    calls = [
        ("headcount by grade", {"by": "grade"}, HEADCOUNT),
        ("headcount by status", {"by": "status"}, HEADCOUNT),
        (
            "headcount by county",
            {"by": "county"},
            HEADCOUNT,
        )
        if unit.startswith("province")
        else ("the schools, first page of 50", {"limit": "50"}, SCHOOLS),
        ("movements, 4 weeks", {"from": start.isoformat(), "to": today.isoformat()}, MOVEMENTS),
        ("overdue steps", {}, "/api/v1/statistics/overdue"),
        ("data quality", {}, "/api/v1/statistics/quality"),
        ("alerts", {}, "/api/v1/statistics/alerts"),
    ]
    with httpx.Client(base_url=national_url, timeout=60, headers=headers) as api:
        for name, params, path in calls:
            query = "&".join(f"{k}={v}" for k, v in ({"unit": unit} | params).items())
            report(f"  ({name}, API alone)", timed(api, f"{path}?{query}", n))
    with httpx.Client(base_url=province_url, timeout=60, headers=headers) as api:
        report(
            "  (province's extended figures, API alone)",
            timed(api, f"/api/v1/statistics/extended?unit={unit}", n),
        )


def dashboard_pages(base_url: str, username: str, password: str, n: int) -> bool:
    """Log in as the province officer and time the dashboard; whether every p95 met."""
    print(
        f"statistics dashboard, province {DASHBOARD_PROVINCE} with {DASHBOARD_SCHOOLS:,} more"
        f" schools, {n} requests each ({load()}):"
    )
    with httpx.Client(base_url=base_url, timeout=60) as http:
        log_in(http, username, password, DASHBOARD_PROVINCE)
        first = http.get("/dashboard")
        first.raise_for_status()
        total = re.search(r'<strong id="total">([^<]+)</strong>', first.text)
        print(f"  the province's headcount on the page: {total.group(1) if total else '?'}")
        assert f"unit=county:{DASHBOARD_COUNTY}" in first.text, "no drill-down to the county"
        county = f"/dashboard?unit=county:{DASHBOARD_COUNTY}"
        listed = re.search(r'<p[^>]*id="below-count">([^<]+)</p>', http.get(county).text)
        print(f"  the county's schools: {listed.group(1) if listed else '?'}")
        met = [
            report("province dashboard", timed(http, "/dashboard", n)),
            report(
                f"county {DASHBOARD_COUNTY} (drill-down)",
                timed(http, f"/dashboard?unit=county:{DASHBOARD_COUNTY}", n),
            ),
            # the county's schools: the eleventh page of 50 (keyset), a search by name
            report(
                "county, schools page 11",
                timed(http, f"{county}&after={DASHBOARD_COUNTY}{1000 + 499:04d}", n),
            ),
            report("county, schools by name", timed(http, f"{county}&q=基准学校01", n)),
        ]
    print(f"  after: {load()}")
    return all(met)


async def dashboard_main(n: int) -> None:
    with (
        amqp_url() as url,
        tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch,
        postgres_server() as pg,
    ):
        print(describe(pg))
        config = federation_copy(Path(scratch) / "config", schools=many_schools())
        data = Path(scratch) / "data"
        federation = LocalFederation(
            config,
            data,
            url,
            database_url_for=(
                lambda name: pg.create_database(name.replace("-", "_"), exist_ok=True)
            )
            if pg
            else None,
            dev_accounts=True,
        )
        console = LocalConsole(config, data, port=free_port())
        try:
            federation.write_dev_credentials()
            await seed_registry(config, data, pg, instance_name(config, "national"))
            for base in DASHBOARD_INSTANCES:
                federation.start_instance(instance_name(config, base), timeout=120)
            console.start()
            username, password = federation.dev_account("province", DASHBOARD_PROVINCE)
            met = await asyncio.to_thread(dashboard_pages, console.url, username, password, n)
            minter = Minter.for_federation(federation.keys_dir, federation.federation)
            national = federation.base_url(instance_name(config, "national"))
            province = federation.base_url(instance_name(config, "province-41"))
            for unit in (f"province:{DASHBOARD_PROVINCE}", f"county:{DASHBOARD_COUNTY}"):
                print(f"  the API calls behind the {unit} page, each alone:")
                await asyncio.to_thread(dashboard_apis, national, province, unit, n, minter)
            print(f"  target: p95 < {TARGET_MS:.0f} ms -> {'met' if met else 'NOT met'}")
        finally:
            console.stop()
            federation.stop()


async def main(n: int, only_queue: bool = False) -> None:
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
            dev_accounts=True,
        )
        console = LocalConsole(config, Path(scratch) / "data", port=free_port())
        try:
            federation.write_dev_credentials()
            wanted = ("national", *QUEUE_INSTANCES) if only_queue else INSTANCES + QUEUE_INSTANCES
            for base in wanted:
                federation.start_instance(instance_name(config, base), timeout=120)
            minter = Minter.for_federation(federation.keys_dir, federation.federation)
            met = True
            if not only_queue:
                school = federation.base_url(instance_name(config, "school-33"))
                await admit(school, intake_csv(STUDENTS), STUDENTS, minter)
            county = federation.base_url(instance_name(config, "county-41"))
            queue_school = federation.base_url(instance_name(config, "school-41"))
            await fill_queue(queue_school, county, minter)
            console.start()
            if not only_queue:
                username, password = federation.dev_account("school", SCHOOL)
                met = await asyncio.to_thread(
                    pages, console.url, school, username, password, n, minter
                )
            username, password = federation.dev_account("county", QUEUE_COUNTY)
            queue_met = await asyncio.to_thread(
                queue_pages, console.url, county, username, password, n, minter
            )
            met = met and queue_met
            print(f"  target: p95 < {TARGET_MS:.0f} ms -> {'met' if met else 'NOT met'}")
        finally:
            console.stop()
            federation.stop()


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    runs = int(numbers[0]) if numbers else 200
    if "dashboard" in sys.argv[1:]:
        asyncio.run(dashboard_main(runs))
    else:
        asyncio.run(main(runs, only_queue="queue" in sys.argv[1:]))
