"""The console in Debian's Chromium against a federation of separate processes.

One federation and one console for the whole package (the federation hosts the real unit
codes, like tests/integration's). The console is an HTTP client of the tier APIs: the
database behind them does not change what it shows, so the package runs on SQLite (the API's
PostgreSQL paths are tests/integration's), or on PostgreSQL with ``XUEJI_TEST_DB=postgresql``.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright for Python; Playwright's own
browser download is never used.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from devtools.broker import free_port
from devtools.console import LocalConsole
from devtools.launcher import LocalFederation
from devtools.testing import federation_copy
from services.console.session import SessionCodec
from tests.integration.conftest import FAST_KERNEL

pytestmark = pytest.mark.federation

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
VIEWPORT = {"width": 1366, "height": 768}
# A Yi-track primary school of Xichang (一类模式, LS 6): the students it registers in grade 1
# are filed with the prefecture (city:5134), whose officer reviews the filing in the console.
# The repository's federation has Yi-track junior and senior schools only, where a new
# registration is refused in Liangshan (LS 1(二): grade 1 only).
YI_PRIMARY = {
    "code": "5134010005",
    "name": "西昌市彝汉双语小学",
    "county": "513401",
    "stage": "primary",
    "yi_track": True,
    "instance": "school-51",
}

# The roster test counts a school's whole roster and its pages: it has a school of its own,
# where no other console test admits anyone.
ROSTER_SCHOOL = {
    "code": "3301060002",
    "name": "杭州市西湖区名册小学",
    "county": "330106",
    "stage": "primary",
    "instance": "school-33",
}

# The approval queue's test fills one school's queue with registrations of its own: a school
# of Zhongyuan (Henan: the county officer approves each registration) no other test uses.
QUEUE_SCHOOL = {
    "code": "4101020009",
    "name": "郑州市中原区审核实验小学",
    "county": "410102",
    "stage": "primary",
    "instance": "school-41",
}

# The early-warning test registers a week's worth of students at one school (N2025 art. 23): a
# school of Shangcheng (Zhejiang: clean registrations approved by the system) of its own.
ALERT_SCHOOL = {
    "code": "3301020007",
    "name": "杭州市上城区预警试点小学",
    "county": "330102",
    "stage": "primary",
    "instance": "school-33",
}

# The merger test closes a school (N2013 art. 9): one of its own, which no other test uses.
MERGED_SCHOOL = {
    "code": "4101050009",
    "name": "郑州市金水区合并撤销试点小学",
    "county": "410105",
    "stage": "primary",
    "instance": "school-41",
}

# The province merges a school it runs (N2013 art. 9; decision 0049): a province-direct
# school of its own, which no other test uses.
PROVINCE_MERGED_SCHOOL = {
    "code": "4100000009",
    "name": "河南省直属合并试点小学",
    "county": "410105",
    "stage": "primary",
    "authority": "province",
    "instance": "school-41",
}
# The dashboard's county drill-down lists a county's schools 50 a page: 55 more schools of
# Xihu (no students) make county 330106 two pages.
PAGED_SCHOOLS = [
    {
        "code": f"33010650{i:02d}",
        "name": f"杭州市西湖区分页测试学校{i:02d}",
        "county": "330106",
        "stage": "primary",
        "instance": "school-33",
    }
    for i in range(55)
]


@pytest.fixture(scope="package")
def federation(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalFederation]:
    base = tmp_path_factory.mktemp("console-federation")
    config = federation_copy(
        base / "config",
        schools=[
            YI_PRIMARY,
            ROSTER_SCHOOL,
            QUEUE_SCHOOL,
            MERGED_SCHOOL,
            PROVINCE_MERGED_SCHOOL,
            ALERT_SCHOOL,
            *PAGED_SCHOOLS,
        ],
    )
    database_url_for = None
    if os.environ.get("XUEJI_TEST_DB") == "postgresql":
        server = request.getfixturevalue("postgres")

        def database_url_for(name: str) -> str:
            return str(server.create_database(name.replace("-", "_"), exist_ok=True))

    running = LocalFederation(
        config,
        base / "data",
        amqp_url,
        database_url_for=database_url_for,
        extra_env=FAST_KERNEL,
        dev_accounts=True,
    )
    running.start(timeout=240)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def console_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="package")
def console(federation: LocalFederation, console_secret: str) -> Iterator[LocalConsole]:
    running = LocalConsole(
        federation.config_path,
        federation.data_dir,
        port=free_port(),
        extra_env={"XUEJI_CONSOLE_SECRET": console_secret},
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def codec(console_secret: str) -> SessionCodec:
    return SessionCodec(console_secret)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (scripts/bootstrap.sh installs it)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
