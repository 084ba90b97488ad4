"""The federation as separate processes over the real broker, started once for this package.

Every instance of ``config/federation.toml`` runs as its own ``python -m services.<tier>``
process (unique instance names and free ports, so it never collides with ``make run``).
The whole package runs twice: with a SQLite file per instance, and with a PostgreSQL database
per instance (``XUEJI_TEST_DB=sqlite`` or ``postgresql`` runs just one of them). Every test
here is marked ``federation`` by tests/conftest.py (a ``pytestmark`` here would mark nothing).
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.broker import LocalRabbitMQ
from devtools.broker_users import provision_instance_users
from devtools.launcher import LocalFederation
from devtools.testing import dump_toml, federation_copy
from shared.federation.config import Tier, load_federation
from shared.security.principal import Role
from shared.security.testing import Minter
from tests.databases import database_kinds

TODAY = "2026-09-07"  # inside Henan's and Zhejiang's transfer windows
FAST_KERNEL = {
    "XUEJI_RETRY_DELAYS_MS": "[200, 500, 1000]",
    "XUEJI_RELAY_POLL_INTERVAL": "0.2",
    "XUEJI_TODAY": TODAY,  # every service acts on the same pinned Beijing date
    "XUEJI_DEADLINE_SWEEP_INTERVAL": "0",  # tests drive deadlines with an explicit sweep date
    "XUEJI_STATISTICS_PUBLISH_INTERVAL": "0",  # and the provinces' figures with an explicit run
}


# A school only tests/integration/test_school_merger.py uses: it closes it (N2013 art. 9), and
# the package's federation is shared by every test here.
MERGED_SCHOOL = {
    "code": "4101020008",
    "name": "郑州市中原区合并撤销试点小学",
    "county": "410102",
    "stage": "primary",
    "instance": "school-41",
}


# Package scope: the federation hosts the real unit codes, so it must be gone before tests
# elsewhere bind queues for the same units on the same broker.
def _open_new_registrations(path: Path, scope: str) -> None:
    """Lift LS 1(二) (new registrations in grade 1 only) in this copy of the rules."""
    rules = tomllib.loads(path.read_text(encoding="utf-8"))
    rules["scope"][scope].setdefault("registration", {})["new_registration_grades"] = []
    path.write_text(dump_toml(rules), encoding="utf-8")


@pytest.fixture(
    scope="package",
    params=[
        pytest.param(kind, marks=[pytest.mark.postgresql] if kind == "postgresql" else [])
        for kind in database_kinds()
    ],
)
def federation(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalFederation]:
    base = tmp_path_factory.mktemp(f"federation-{request.param}")
    # Liangshan opens new registrations in grade 1 only (LS 1(二)); these tests register
    # students of later grades there directly, as no progression brings them yet. The rule
    # itself is tested at the school (tests/services/school/test_new_registration_grades.py).
    # The schools in a school directory, as a country's file has them (decisions 0052, 0054):
    # every flow here resolves its schools through the compiled directory; the console's
    # browser tests and `make run` keep the repository's `[[school]]` tables.
    config = federation_copy(base / "config", schools=[MERGED_SCHOOL], school_directory=True)
    _open_new_registrations(config.parent / "provinces" / "51.toml", "5134")
    database_url_for = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")

        def database_url_for(name: str) -> str:
            return str(server.create_database(name.replace("-", "_"), exist_ok=True))

    # Each instance with its own least-privileged broker user, as `make run` does (decision
    # 0025), when the broker is ours to administer; an external AMQP_URL is used as given.
    broker = request.getfixturevalue("broker")
    amqp_urls = (
        provision_instance_users(broker, load_federation(config), base / "data")
        if isinstance(broker, LocalRabbitMQ)
        else {}
    )
    running = LocalFederation(
        config,
        base / "data",
        amqp_url,
        database_url_for=database_url_for,
        extra_env=FAST_KERNEL,
        dev_accounts=True,
        amqp_urls=amqp_urls,
    )
    running.start(timeout=240)
    try:
        yield running
    finally:
        running.stop()


class Federation:
    """HTTP access to the running federation by unit: ``fed.client("school", "4101020001")``."""

    def __init__(self, running: LocalFederation, http: httpx.AsyncClient) -> None:
        self.running = running
        self.http = http
        self.minter = Minter.for_federation(running.keys_dir, running.federation)

    def url(self, tier: str, code: str, path: str) -> str:
        instance = self.running.instance_for_unit(Tier(tier), code)
        return f"http://{instance.host}:{instance.port}{path}"

    async def get(self, tier: str, code: str, path: str, **kw: Any) -> httpx.Response:
        """GET at the instance hosting ``tier:code``, as that unit (all roles) unless the
        caller gives its own ``Authorization`` header."""
        kw["headers"] = self.headers(tier, code, kw.get("headers"))
        return await self.http.get(self.url(tier, code, path), **kw)

    async def post(self, tier: str, code: str, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = self.headers(tier, code, kw.get("headers"))
        return await self.http.post(self.url(tier, code, path), **kw)

    def headers(self, tier: str, code: str, given: dict[str, str] | None) -> dict[str, str]:
        return self.minter.headers(f"{tier}:{code}") | (given or {})

    def auth(self, unit: str, *roles: Role) -> dict[str, str]:
        """A token for ``unit``, signed with the key of the instance hosting it (its
        instances run on real keys: nothing else would be accepted)."""
        return self.minter.headers(unit, *roles)


@pytest.fixture
async def fed(federation: LocalFederation) -> AsyncIterator[Federation]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Federation(federation, http)


def data_dir(federation: LocalFederation) -> Path:
    return federation.data_dir
