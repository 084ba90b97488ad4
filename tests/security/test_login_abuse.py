"""Login that resists abuse (shared/security/throttle.py, passwords.py; decision 0026), through
the real token endpoint on both databases. Clients at different addresses are separate ASGI
clients; time moves with ``runtime.clock``, never a sleep.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from shared.security.passwords import HASHING, usable_cores
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.security.support import Instance, school_instance

TOKEN = "/api/v1/auth/token"
ROSTER = "/api/v1/schools/4101020001/students"
OFFICER = "li.registrar"
RIGHT = "correct horse battery"


@pytest.fixture
async def school(tmp_path: Path, database_url: str) -> AsyncIterator[Instance]:
    async with school_instance(tmp_path, database_url) as instance:
        await instance.create(OFFICER, "school:4101020001", Role.REGISTRAR)
        yield instance


@asynccontextmanager
async def client_at(school: Instance, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=school.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(TOKEN, data={"username": username, "password": password})


def answer(response: httpx.Response) -> tuple[int, str, dict[str, str]]:
    """Everything a client sees of a refusal: status, body bytes, headers."""
    return response.status_code, response.content.decode(), dict(response.headers)


async def test_a_flood_from_elsewhere_never_keeps_the_officer_out(school: Instance) -> None:
    desk = school.client  # 127.0.0.1: the officer's own address
    assert (await login(desk, OFFICER, RIGHT)).json()["failed_logins"] is None
    async with client_at(school, "203.0.113.66") as attacker:
        for _ in range(5):
            assert (await login(attacker, OFFICER, "guess")).status_code == 401
        for _ in range(50):  # throttled attempts cost no hash and count for nothing
            throttled = await login(attacker, OFFICER, "guess")
            assert throttled.status_code == 429
        assert throttled.json()["rule"] == "login_throttled"
        assert throttled.headers["Retry-After"] == "1"
        # the wait doubles with each further failure
        for seconds in (1, 2, 4, 8):
            school.clock.advance(seconds=seconds)
            assert (await login(attacker, OFFICER, "guess")).status_code == 401
            assert (await login(attacker, OFFICER, RIGHT)).status_code == 429  # even right
        assert (await login(attacker, OFFICER, "x")).headers["Retry-After"] == "16"
        # the same holds for the password-change endpoint (another way to try passwords)
        change = {"username": OFFICER, "password": "guess", "new_password": "n" * 14}
        assert (await attacker.post("/api/v1/auth/password", json=change)).status_code == 429

    async with client_at(school, "198.51.100.7") as new_place:
        # a login from an address the account never used waits too (a distributed guesser)
        assert (await login(new_place, OFFICER, RIGHT)).status_code == 429
        # ... but at the officer's own desk the flood changes nothing
        token = await login(desk, OFFICER, RIGHT)
        assert token.status_code == 200, token.text
        told = token.json()["failed_logins"]
        assert told["count"] == 9
        assert "9 次登录失败" in told["message"]
        assert told["last_at"].startswith(school.clock.now().isoformat()[:19])
        # told once; the success restarts the count everywhere
        assert (await login(desk, OFFICER, RIGHT)).json()["failed_logins"] is None
        assert (await login(new_place, OFFICER, RIGHT)).status_code == 200


async def test_unknown_wrong_and_throttled_answers_are_identical(school: Instance) -> None:
    async with client_at(school, "192.0.2.1") as one, client_at(school, "192.0.2.2") as two:
        runs = HASHING.runs
        wrong = await login(one, OFFICER, "guess")
        unknown = await login(two, "nobody.here", "guess")
        assert wrong.status_code == 401
        assert answer(wrong) == answer(unknown)
        assert wrong.json()["message"] == "wrong username or password"
        # an unknown account costs the same Argon2 verification as a wrong password
        assert HASHING.runs - runs == 2
        for _ in range(4):
            await login(one, OFFICER, "guess")
            await login(two, "nobody.here", "guess")
        runs = HASHING.runs
        throttled, throttled_unknown = (
            await login(one, OFFICER, RIGHT),
            await login(two, "nobody.here", "guess"),
        )
        assert throttled.status_code == 429
        assert answer(throttled) == answer(throttled_unknown)
        assert HASHING.runs == runs  # refused before any hash
        # there is no lock any more: 403 only ever follows the right password
        school.clock.advance(minutes=30)
        assert (await login(one, OFFICER, "guess")).status_code == 401


async def test_password_spraying_from_one_address_is_slowed_down(school: Instance) -> None:
    async with client_at(school, "203.0.113.9") as sprayer:
        for index in range(20):  # XUEJI_LOGIN_FREE_FAILURES_ADDRESS
            assert (await login(sprayer, f"user{index}", "Password2026")).status_code == 401
        assert (await login(sprayer, "user20", "Password2026")).status_code == 429
        assert (await login(sprayer, OFFICER, RIGHT)).status_code == 429
    assert (await login(school.client, OFFICER, RIGHT)).status_code == 200
    # the level above sees the account's failures and whether it is slowed down
    async with client_at(school, "203.0.113.10") as guesser:
        for _ in range(6):
            await login(guesser, OFFICER, "guess")
    listing = await school.client.get(
        "/api/v1/auth/accounts",
        params={"unit": "school:4101020001"},
        headers=auth_headers("county:410102"),
    )
    (account,) = listing.json()["items"]
    assert account["failed_logins"] == 5
    assert account["throttled_until"] is not None


async def test_failures_counted_by_one_replica_throttle_the_other(
    tmp_path: Path, database_url: str, school: Instance
) -> None:
    async with school_instance(tmp_path / "replica", database_url) as replica:
        replica.clock.moment = school.clock.moment
        async with client_at(school, "203.0.113.20") as first:
            for _ in range(5):
                assert (await login(first, OFFICER, "guess")).status_code == 401
        async with client_at(replica, "203.0.113.20") as second:
            assert (await login(second, OFFICER, RIGHT)).status_code == 429


async def test_a_login_flood_queues_for_a_bounded_number_of_hashes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'school.sqlite'}"
    async with school_instance(
        tmp_path, url, login_hash_concurrency=1, login_hash_queue_seconds=30
    ) as school:
        await school.create(OFFICER, "school:4101020001", Role.REGISTRAR)
        clients = [client_at(school, f"198.51.100.{n}") for n in range(8)]
        opened = [await c.__aenter__() for c in clients]
        try:
            flood = [
                asyncio.create_task(login(c, f"someone{n}", "x")) for n, c in enumerate(opened)
            ]
            await _until(lambda: HASHING.in_flight == 1)
            # an unrelated read is answered while the flood is still being hashed
            read = await school.client.get(ROSTER, headers=auth_headers("school:4101020001"))
            assert read.status_code == 200
            assert not all(task.done() for task in flood)
            answers = await asyncio.gather(*flood)
        finally:
            for c in clients:
                await c.__aexit__(None, None, None)
        assert [a.status_code for a in answers] == [401] * 8  # queued, none refused
        assert HASHING.peak == 1  # never more than the bound at once


async def test_beyond_the_queue_a_login_is_told_to_come_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'school.sqlite'}"
    async with school_instance(
        tmp_path, url, login_hash_concurrency=1, login_hash_queue_seconds=0
    ) as school:
        clients = [client_at(school, f"198.51.100.{n}") for n in range(10)]
        opened = [await c.__aenter__() for c in clients]
        try:
            answers = await asyncio.gather(
                *(login(c, f"someone{n}", "x") for n, c in enumerate(opened))
            )
        finally:
            for c in clients:
                await c.__aexit__(None, None, None)
    statuses = sorted(a.status_code for a in answers)
    assert 401 in statuses and 503 in statuses, statuses
    busy = next(a for a in answers if a.status_code == 503)
    assert (busy.json()["rule"], busy.headers["Retry-After"]) == ("login_busy", "1")
    assert HASHING.peak == 1


async def _until(condition: object, within: float = 30.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.001)


def test_the_hashing_bound_follows_the_pods_cpu_limit(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    for content, expected in (
        ("100000 100000\n", 1),  # limits.cpu: "1"
        ("150000 100000\n", min(cores, 2)),  # 1.5 cores round up
        ("max 100000\n", cores),  # no limit
    ):
        cpu_max.write_text(content)
        assert usable_cores(cpu_max) == expected, content
    assert usable_cores(tmp_path / "absent") == cores  # cgroup v1 or no cgroup: the affinity
