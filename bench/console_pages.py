"""Server time per console page for a 3,000-student school: the roster, a student page, the
home page and the audit viewer, each through the console and the API calls behind it.

Runs national, province 33, county 330102 and the school 3301020001 (Zhejiang approves
registrations that pass every check) as separate processes over a real broker, admits an
intake of 3,000 students, starts the console, logs in as the school's registrar and requests
each page N times one after another (a registrar clicking; the console and the services share
the machine's cores). Prints p50/p95 per page. Target: p95 under 150 ms.

    python -m bench.console_pages [N]          (BENCH_DB=postgresql for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bulk_admission import INSTANCES, SCHOOL, admit, intake_csv
from bench.infra import amqp_url, postgres_server
from devtools.broker import free_port
from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from devtools.testing import federation_copy, instance_name
from shared.security.principal import Role
from shared.security.testing import Minter

STUDENTS = 3_000
TARGET_MS = 150.0


def log_in(console: httpx.Client, username: str, password: str) -> None:
    form = console.get("/login").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found, "no CSRF token on the login page"
    answer = console.post(
        "/login",
        data={
            "csrf_token": found.group(1),
            "unit_code": SCHOOL,
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
            dev_accounts=True,
        )
        console = LocalConsole(config, Path(scratch) / "data", port=free_port())
        try:
            federation.write_dev_credentials()
            for base in INSTANCES:
                federation.start_instance(instance_name(config, base), timeout=120)
            school = federation.base_url(instance_name(config, "school-33"))
            minter = Minter.for_federation(federation.keys_dir, federation.federation)
            await admit(school, intake_csv(STUDENTS), STUDENTS, minter)
            console.start()
            username, password = federation.dev_account("school", SCHOOL)
            met = await asyncio.to_thread(pages, console.url, school, username, password, n, minter)
            print(f"  target: p95 < {TARGET_MS:.0f} ms -> {'met' if met else 'NOT met'}")
        finally:
            console.stop()
            federation.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
