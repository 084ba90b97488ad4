"""Replicas as a tested configuration: two processes of national and of a county on PostgreSQL.

Production runs more than one process of an instance (Kubernetes replicas): the same
configuration, the same database and the same queues, each process consuming beside the
others (decision 0044). This runs its own small federation (national, provinces 33 and 41,
their counties and schools) in a virtual host of its own on the session's broker, so it shares
no queue with the package's federation, with a second process of ``national`` and of
``county-41`` (Henan's county of the receiving school), and shows:

- the transfers complete exactly once: each student moves once, each archive is handed over
  once, although each message may be taken by either process;
- a deadline sweep run by both national processes at the same moment reports each overdue step
  once, and the superior gets one intervention task per step;
- a process killed with SIGKILL while transfers are in flight loses nothing: the messages it
  held unacknowledged go back to the queue and the other process applies them.

PostgreSQL only: SQLite is the embedded single-process database (decision 0002). The database
server is the tests' (durability off, tests/conftest.py); that changes no ordering here.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from devtools.broker import LocalRabbitMQ
from devtools.broker_users import declare_exchanges
from devtools.launcher import LocalFederation
from devtools.postgres import LocalPostgres
from devtools.testing import federation_copy, instance_name
from tests.databases import database_kinds
from tests.integration.conftest import FAST_KERNEL, Federation
from tests.integration.transfer_support import (
    application_form,
    drive,
    enrolled_student,
    party_task,
    request_transfer,
    waiting_step,
)

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.broker,
    pytest.mark.skipif(
        "postgresql" not in database_kinds(), reason="replicas share a PostgreSQL database"
    ),
]

INSTANCES = (
    "national",
    "province-33",
    "province-41",
    "county-33",
    "county-41",
    "school-33",
    "school-41",
)
REPLICATED = ("national", "county-41")
VHOST = "xueji-replicas"
FROM_SCHOOL, TO_SCHOOL = "3301020001", "4101020001"  # Zhejiang → Henan, cross-province
NEAR_SCHOOL = "3301060001"  # Zhejiang, another county: the sweep's transfers
TRANSFERS = 8  # driven while a replica of each is killed
SWEPT = 3  # left open for the sweep


@pytest.fixture(scope="module")
def replicated(
    broker: LocalRabbitMQ | Any | None,
    postgres: LocalPostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalFederation, dict[str, str]]]:
    if not isinstance(broker, LocalRabbitMQ):
        pytest.skip("needs a broker of our own to give this federation a virtual host")
    broker.rabbitmqctl("add_vhost", VHOST)
    broker.rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    url = f"{broker.amqp_url.rstrip('/')}/{VHOST}"
    base = tmp_path_factory.mktemp("replicas")
    config = federation_copy(base / "config")
    names = {base_name: instance_name(config, base_name) for base_name in INSTANCES}
    running = LocalFederation(
        config,
        base / "data",
        url,
        database_url_for=lambda name: str(
            postgres.create_database(f"r_{name.replace('-', '_')}", exist_ok=True)
        ),
        extra_env=FAST_KERNEL,
    )
    declare_exchanges(url, running.federation)
    try:
        running.start_instances(list(names.values()), timeout=240)
        # Once the first processes have migrated the databases (production migrates in a Job).
        replicas = running.start_replicas([names[n] for n in REPLICATED], 2, timeout=240)
        yield running, names | {f"{n}#2": key for n, key in zip(REPLICATED, replicas, strict=True)}
    finally:
        running.stop()
        broker.rabbitmqctl("delete_vhost", VHOST)


@pytest.fixture
async def fed(replicated: tuple[LocalFederation, dict[str, str]]) -> AsyncIterator[Federation]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Federation(replicated[0], http)


async def _rows(postgres: LocalPostgres, instance: str, sql: str, *args: Any) -> list[Any]:
    connection = await asyncpg.connect(postgres.dsn(f"r_{instance.replace('-', '_')}"))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def test_a_sweep_run_by_two_replicas_at_once_reports_each_step_once(
    fed: Federation, replicated: tuple[LocalFederation, dict[str, str]]
) -> None:
    running, names = replicated
    kids = await asyncio.gather(*(enrolled_student(fed, FROM_SCHOOL) for _ in range(SWEPT)))
    started = [await request_transfer(fed, kid, NEAR_SCHOOL) for kid in kids]
    ids = [str(s["transfer_id"]) for s in started]
    for transfer_id in ids:  # each waits for the sending school, which does not decide
        step = await waiting_step(fed, transfer_id)
        assert step is not None and step["role"] == "sending_school"

    # Both national processes sweep past the due date at the same moment.
    operator = fed.auth("national:CN")
    urls = [running.base_url(names["national"]), running.base_url(names["national#2"])]

    async def sweep(base_url: str) -> dict[str, Any]:
        response = await fed.http.post(
            f"{base_url}/api/v1/operations/deadline-sweep",
            json={"as_of": "2026-10-30"},
            headers=operator,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    first, second = await asyncio.gather(*(sweep(url) for url in urls))
    assert first["overdue"] + second["overdue"] == SWEPT
    again = await asyncio.gather(*(sweep(url) for url in urls))
    assert [r["overdue"] for r in again] == [0, 0]

    # The superior (county 330102) is asked once per step, whichever process sent it.
    for transfer_id in ids:
        await party_task(fed, "county:330102", transfer_id, kind="transfer_intervention")
    tasks = await fed.get(
        "county",
        "330102",
        "/api/v1/counties/330102/tasks",
        params={"kind": "transfer_intervention", "limit": 200},
    )
    listed = [str(t.get("transfer_id")) for t in tasks.json()["items"]]
    assert sorted(t for t in listed if t in ids) == sorted(ids)


async def test_transfers_complete_exactly_once_while_a_replica_is_killed(
    fed: Federation,
    replicated: tuple[LocalFederation, dict[str, str]],
    postgres: LocalPostgres,
) -> None:
    running, names = replicated
    kids = await asyncio.gather(*(enrolled_student(fed, FROM_SCHOOL) for _ in range(TRANSFERS)))
    proof = [application_form("origin_registration_proof")]  # Henan asks for it (HA art. 11(二))
    started = [await request_transfer(fed, kid, TO_SCHOOL, proofs=proof) for kid in kids]
    ids = [str(s["transfer_id"]) for s in started]
    driving = asyncio.gather(*(drive(fed, transfer_id) for transfer_id in ids))

    # Mid-run: the second process of national and of the county die without a goodbye; the
    # deliveries they held go back to the queues, and the first processes carry on.
    await asyncio.sleep(1.5)
    for base_name in REPLICATED:
        running.kill(names[f"{base_name}#2"], signal.SIGKILL)
    done = await asyncio.wait_for(driving, timeout=240)
    assert [d["state"] for d in done] == ["completed"] * TRANSFERS

    numbers = [kid["student_number"] for kid in kids]
    # National: one transfer per student, completed once.
    rows = await _rows(
        postgres,
        names["national"],
        "SELECT student_number, count(*), min(state), max(state) FROM transfer "
        "WHERE student_number = ANY($1) GROUP BY student_number",
        numbers,
    )
    assert sorted((r[0], r[1], r[2], r[3]) for r in rows) == sorted(
        (n, 1, "completed", "completed") for n in numbers
    )
    # The receiving school: each student enrolled once; the sending school: each left once.
    arrived = await _rows(
        postgres,
        names["school-41"],
        "SELECT student_number, status FROM school_student "
        "WHERE school_code = $1 AND student_number = ANY($2)",
        TO_SCHOOL,
        numbers,
    )
    assert sorted(arrived) == sorted((n, "enrolled") for n in numbers)
    transferred_in = await _rows(
        postgres,
        names["school-41"],
        "SELECT student_number, count(*) FROM school_transfer_in "
        "WHERE student_number = ANY($1) GROUP BY student_number",
        numbers,
    )
    assert sorted(tuple(r) for r in transferred_in) == sorted((n, 1) for n in numbers)

    # Each archive handed over 33 → 41 once, and received.
    async def handed_over() -> list[Any]:
        return await _rows(
            postgres,
            names["province-33"],
            "SELECT transfer_id, count(*), min(state) FROM archive_handover "
            "WHERE transfer_id = ANY($1) GROUP BY transfer_id",
            ids,
        )

    for _ in range(120):
        handed = await handed_over()
        if len(handed) == TRANSFERS and all(r[2] == "received" for r in handed):
            break
        await asyncio.sleep(0.5)
    assert sorted(tuple(r) for r in handed) == sorted((i, 1, "received") for i in ids)
