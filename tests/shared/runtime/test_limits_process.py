"""A real school service process (uvicorn, as deployed) refuses oversized bodies before it
reads them and before authentication, without its memory growing, and keeps answering under
a login flood (decision 0026).

The test never holds the bodies either: they are generated as they are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.launcher import LocalFederation
from devtools.testing import federation_copy, instance_name
from shared.runtime.limits import MiB
from shared.security.principal import Role
from shared.security.testing import Minter

pytestmark = pytest.mark.federation

SCHOOL = "4101020001"
ROSTER = f"/api/v1/schools/{SCHOOL}/students"
# a JSON route without files: the default body limit (registration takes proofs, HA art. 4)
PROGRESSIONS = f"/api/v1/schools/{SCHOOL}/progressions"
UPLOAD = f"/api/v1/schools/{SCHOOL}/admission-jobs"
TOKEN = "/api/v1/auth/token"
CHUNK = b"x" * (64 * 1024)


def body(size: int) -> Iterator[bytes]:
    for _ in range(size // len(CHUNK)):
        yield CHUNK


PART = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
END = b"\r\n--x--\r\n"
MULTIPART = {"Content-Type": "multipart/form-data; boundary=x"}


def upload(size: int) -> Iterator[bytes]:
    """A well-formed multipart intake of a ``size``-byte file, never whole in memory."""
    yield PART
    yield from body(size)
    yield END


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def school(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, Minter]]:
    base = tmp_path_factory.mktemp("limits")
    config = federation_copy(base / "config")
    running = LocalFederation(config, base / "data", amqp_url)
    name = instance_name(config, "school-41")
    running.start_instance(name, timeout=120)
    try:
        pid = running.pid(name)
        assert pid is not None
        yield (
            running.base_url(name),
            pid,
            Minter.for_federation(running.keys_dir, running.federation),
        )
    finally:
        running.stop()


def refused(response: httpx.Response, status: int, rule: str) -> bool:
    return (response.status_code, response.json()["rule"]) == (status, rule)


def test_a_100_mb_body_is_refused_unread_and_unauthenticated(
    school: tuple[str, int, Minter],
) -> None:
    url, pid, _minter = school
    with httpx.Client(base_url=url, timeout=60) as client:
        # warm up: the first requests of a process allocate what every later one reuses
        for _ in range(3):
            assert client.post(PROGRESSIONS, json={}).status_code == 401
            assert refused(client.post(PROGRESSIONS, content=body(2 * MiB)), 413, "body_too_large")
        before = rss_kib(pid)
        declared = client.post(
            PROGRESSIONS,
            content=body(100 * MiB),
            headers={"Content-Length": str(100 * MiB), "Content-Type": "application/json"},
        )
        chunked = client.post(
            PROGRESSIONS, content=body(100 * MiB), headers={"Content-Type": "application/json"}
        )
        length = {"Content-Length": str(len(PART) + 100 * MiB + len(END))}
        too_big = client.post(UPLOAD, content=upload(100 * MiB), headers=MULTIPART | length)
        # over the default limit, within the upload route's: an anonymous caller's is not read
        # on (streamed, its size is unknown until it passes the default)
        anonymous = client.post(UPLOAD, content=upload(100 * MiB), headers=MULTIPART)
        after = rss_kib(pid)
    # no token was sent: 413, not 401 (authentication never ran, the body was never held)
    assert refused(declared, 413, "body_too_large"), declared.text
    assert refused(chunked, 413, "body_too_large"), chunked.text
    assert refused(too_big, 413, "body_too_large"), too_big.text
    assert "33619968" in too_big.json()["message"]  # the upload route's own, larger limit
    assert refused(anonymous, 401, "authentication_required"), anonymous.text
    assert declared.headers["connection"] == "close"
    assert after - before < 4 * 1024, (before, after)


async def test_a_login_flood_leaves_the_api_answering(school: tuple[str, int, Minter]) -> None:
    """The review's 9 Argon2 logins a second made a roster read take 1.5 s: logins now wait
    for a bounded number of hashing slots and hold no database connection meanwhile."""
    url, _pid, minter = school
    bearer = minter.headers(f"school:{SCHOOL}", Role.REGISTRAR)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        flood = [
            asyncio.create_task(
                client.post(TOKEN, data={"username": f"someone{n}", "password": "guess"})
            )
            for n in range(16)
        ]
        await asyncio.wait(flood, return_when=asyncio.FIRST_COMPLETED)  # hashing has begun
        read = await client.get(ROSTER, headers=bearer)
        still_hashing = not all(task.done() for task in flood)
        answers = await asyncio.gather(*flood)
    assert read.status_code == 200
    assert still_hashing  # the read did not queue behind the logins
    statuses = {a.status_code for a in answers}
    assert 401 in statuses and statuses <= {401, 503}, statuses  # 503: come back in a second
