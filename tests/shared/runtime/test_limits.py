"""Bounded requests through a school app in-process (shared/runtime/limits.py, decision 0026):
headers, URL, forms and per-route body limits. The process test beside this one measures a
real server's memory under a 100 MB body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from services.school.config import PROOF_BODY_LIMIT, UPLOAD_BODY_LIMIT
from shared.runtime.limits import HttpLimits, MiB, declared_body_limits
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.security.support import Instance, school_instance
from tests.services.school.admission_files import HEADER, as_csv, row

SCHOOL = "4101020001"
ROSTER = f"/api/v1/schools/{SCHOOL}/students"
# a JSON route without files: the default body limit (registration takes proofs, HA art. 4)
PROGRESSIONS = f"/api/v1/schools/{SCHOOL}/progressions"
UPLOAD = f"/api/v1/schools/{SCHOOL}/admission-jobs"
STATUS_CHANGES = f"/api/v1/schools/{SCHOOL}/status-changes"


def registrar() -> dict[str, str]:
    """A fresh token: one minted at import would have expired in a long run."""
    return auth_headers(f"school:{SCHOOL}", Role.REGISTRAR)


LIMITS = HttpLimits()


@pytest.fixture
async def school(tmp_path: Path) -> AsyncIterator[Instance]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'school.sqlite'}"
    async with school_instance(tmp_path, url) as instance:
        yield instance


def rule_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["rule"]


async def chunks(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body streamed without a declared length (chunked)."""
    for _ in range(size // chunk):
        yield b" " * chunk


async def multipart(size: int) -> AsyncIterator[bytes]:
    """A well-formed one-file form streamed without a declared length."""
    yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    async for chunk in chunks(size):
        yield chunk
    yield b"\r\n--x--\r\n"


async def test_headers_and_urls_over_their_limits_are_refused(school: Instance) -> None:
    get = school.client.get
    assert (await get(ROSTER, headers=registrar())).status_code == 200
    many = {f"x-filler-{i}": "1" for i in range(LIMITS.max_headers)}
    assert rule_of(await get(ROSTER, headers=registrar() | many)) == (431, "headers_too_large")
    big = {"x-filler": "a" * LIMITS.max_header_bytes}
    assert rule_of(await get(ROSTER, headers=registrar() | big)) == (431, "headers_too_large")
    query = {"q": "a" * LIMITS.max_query_bytes}
    refused = await get(ROSTER, params=query, headers=registrar() | {"Accept-Language": "zh-CN"})
    assert rule_of(refused) == (414, "url_too_long")
    assert "查询" in refused.json()["message_zh"]  # the officer reads it in Chinese
    assert refused.headers["connection"] == "close"
    long_path = ROSTER + "/" + "1" * LIMITS.max_path_bytes
    assert rule_of(await get(long_path, headers=registrar())) == (414, "url_too_long")
    # just within: answered by the route
    fits = {"x": "a" * (LIMITS.max_query_bytes - 2)}  # a parameter the roster ignores
    assert (await get(ROSTER, params=fits, headers=registrar())).status_code == 200
    # the refusals at the edge are in the request metrics (no route matched them)
    metrics = (await get("/metrics")).text
    for status in ("414", "431"):
        sample = (
            f'xueji_http_request_duration_seconds_count{{method="GET",route="<unmatched>",'
            f'status="{status}"}} 2.0'
        )
        assert sample in metrics, status


async def test_a_body_over_the_default_is_refused_unless_its_route_takes_more(
    school: Instance,
) -> None:
    post = school.client.post
    declared = {"content-type": "application/json", "content-length": str(2 * MiB)}
    # an ordinary route: 1 MiB, declared or streamed, with a token or without
    for headers in (declared, registrar() | declared):
        refused = await post(PROGRESSIONS, content=b" " * (2 * MiB), headers=headers)
        assert rule_of(refused) == (413, "body_too_large")
        assert str(LIMITS.max_body_bytes) in refused.json()["message"]
    streamed = await post(PROGRESSIONS, content=chunks(2 * MiB), headers=registrar())
    assert rule_of(streamed) == (413, "body_too_large")
    # a route with base64 proofs takes 12 MiB, from an authenticated caller only
    proof = {"kind": "x", "filename": "a.pdf", "content_base64": "A" * (2 * MiB)}
    body = {"student_number": "G0", "kind": "suspension", "reason": "r", "proofs": [proof]}
    anonymous = await post(STATUS_CHANGES, json=body)
    assert rule_of(anonymous) == (401, "authentication_required")
    accepted = await post(STATUS_CHANGES, json=body, headers=registrar())
    assert accepted.status_code not in (401, 413), accepted.text  # read, and judged on content
    over = await post(STATUS_CHANGES, content=chunks(PROOF_BODY_LIMIT + MiB), headers=registrar())
    assert rule_of(over) == (413, "body_too_large")
    assert str(PROOF_BODY_LIMIT) in over.json()["message"]


async def test_uploads_within_their_limits_still_work(school: Instance) -> None:
    post = school.client.post
    # over the default 1 MiB (an ignored column pads it), within the upload route's limit
    padding = "备" * (6 * 1024)
    # births spread over the year: one day's resident IDs (500 per sex) are shared by the suite
    births = [date(2018, 1 + i % 8, 1 + i // 8) for i in range(70)]
    big = as_csv(
        [[*row(f"学生{i}", birth=births[i]), padding] for i in range(70)], header=[*HEADER, "备注"]
    )
    assert MiB < len(big) < UPLOAD_BODY_LIMIT
    job = await post(UPLOAD, files={"file": ("intake.csv", big)}, headers=registrar())
    assert job.status_code == 202, job.text
    assert job.json()["rows"]["total"] == 70

    over = await post(
        UPLOAD,
        content=multipart(UPLOAD_BODY_LIMIT + MiB),
        headers=registrar() | {"content-type": "multipart/form-data; boundary=x"},
    )
    assert rule_of(over) == (413, "body_too_large")
    two_files = {"file": ("a.csv", as_csv([row("甲")])), "other": ("b.csv", b"x")}
    refused = await post(UPLOAD, files=two_files, headers=registrar())
    assert refused.status_code == 400  # one file per form
    fields = {f"field{i}": "x" for i in range(20)}
    assert (await post("/api/v1/auth/token", data=fields)).status_code == 400
    huge_field = {"username": "li", "password": "p" * (32 * 1024)}
    assert (await post("/api/v1/auth/token", data=huge_field)).status_code == 400


def test_only_the_routes_that_carry_files_take_more_than_the_default(tmp_path: Path) -> None:
    from tests.shared.audit.test_coverage import app_of

    for tier in ("national", "province", "county"):
        assert declared_body_limits(app_of(tier, tmp_path)) == {}
    school = declared_body_limits(app_of("school", tmp_path))
    assert school == {
        "POST /api/v1/schools/{school_code}/admission-jobs": UPLOAD_BODY_LIMIT,
        "POST /api/v1/schools/{school_code}/students/{student_number}/key-field-changes": (
            PROOF_BODY_LIMIT
        ),
        "POST /api/v1/schools/{school_code}/transfers-in": PROOF_BODY_LIMIT,
        "POST /api/v1/schools/{school_code}/status-changes": PROOF_BODY_LIMIT,
        "POST /api/v1/schools/{school_code}/duplicate-resolutions": PROOF_BODY_LIMIT,
        # an under-age first-grader's approval (HA art. 4); the signed security pledge's scan
        "POST /api/v1/schools/{school_code}/students": PROOF_BODY_LIMIT,
        "PUT /api/v1/schools/{school_code}/documents/{document_id}/signed-scan": PROOF_BODY_LIMIT,
    }
