"""ID numbers in responses: full for registrars and approvers, masked for everyone else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import build_app
from shared.runtime.settings import ServiceSettings
from shared.security.masking import mask_id_number, mask_ids
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.databases import migrate_to_head
from tests.services.national.builders import NationalDriver, enrol


def test_a_resident_id_keeps_its_division_and_last_four() -> None:
    assert mask_id_number("410102201803070017") == "4101**********0017"
    assert mask_id_number("E1234567") == "********"
    nested = {"items": [{"basic": {"id_number": "410102201803070017", "name": "张三"}}]}
    assert mask_ids(nested) == {
        "items": [{"basic": {"id_number": "4101**********0017", "name": "张三"}}]
    }


@pytest.fixture
async def national(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await asyncio.to_thread(migrate_to_head, "national", database_url)
    config = federation_copy(tmp_path / "federation")
    app = build_app(
        ServiceSettings(
            env="test",
            instance=instance_name(config, "national"),
            federation_config=config,
            database_url=database_url,
        )
    )
    app.state.enrolled = await enrol(NationalDriver(app.state.runtime.sessions), "4101020001")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://national") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.runtime.engine.dispose()


async def test_registrars_and_approvers_read_full_numbers_auditors_masked(
    national: httpx.AsyncClient,
) -> None:
    number = national.app.state.enrolled  # type: ignore[attr-defined]
    entry = f"/api/v1/registry/{number}"
    page = "/api/v1/registry?school_code=4101020001"
    full = await national.get(entry, headers=auth_headers("school:4101020001", Role.REGISTRAR))
    id_number = full.json()["id_number"]
    assert len(id_number) == 18 and "*" not in id_number
    approver = await national.get(entry, headers=auth_headers("county:410102", Role.APPROVER))
    assert approver.json()["id_number"] == id_number

    masked = id_number[:4] + "*" * 10 + id_number[-4:]
    for unit in ("school:4101020001", "county:410102", "national:CN"):
        auditor = await national.get(entry, headers=auth_headers(unit, Role.AUDITOR))
        assert auditor.status_code == 200
        assert auditor.json()["id_number"] == masked, unit
        # (the G student number is "G" + the resident ID by the national standard, decision
        # 0004: it stays whole, every reference needs it — see decision 0014)
        listed = await national.get(page, headers=auth_headers(unit, Role.AUDITOR))
        assert [i["id_number"] for i in listed.json()["items"]] == [masked]
        assert int(listed.headers["content-length"]) == len(listed.content)
    both = auth_headers("school:4101020001", Role.AUDITOR, Role.REGISTRAR)
    assert (await national.get(entry, headers=both)).json()["id_number"] == id_number
