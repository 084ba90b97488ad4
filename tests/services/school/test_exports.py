"""A school's roster export: asked by its registrar, approved by its county, basic info only."""

from __future__ import annotations

import csv
import io

import pytest

from tests.services.school.conftest import PRIMARY, Service
from tests.services.school.test_promotion import roster_row, seed
from tests.shared.audit.support import Principal, as_user

pytestmark = pytest.mark.broker

REGISTRAR = Principal("li.registrar", "school", PRIMARY.code, frozenset({"registrar"}))
COUNTY_APPROVER = Principal("wang.approver", "county", PRIMARY.county, frozenset({"approver"}))


async def test_a_roster_export_through_the_county(service: Service) -> None:
    await seed(
        service.runtime.sessions,
        [
            roster_row(PRIMARY.code, 1, 3),
            roster_row(PRIMARY.code, 2, 4),
            roster_row("4101020002", 3, 1),
        ],
    )
    async with as_user(service.app, REGISTRAR, "http://school") as registrar:
        asked = await registrar.post(
            "/api/v1/exports",
            json={
                "population": f"school:{PRIMARY.code}",
                "fields": ["student_number", "grade", "class_name"],
                "purpose": "体检名单",
            },
        )
        assert asked.status_code == 201, asked.text
        assert asked.json()["approver_unit"] == f"county:{PRIMARY.county}"
        other_school = await registrar.post(
            "/api/v1/exports",
            json={"population": "school:4101020002", "fields": ["name"], "purpose": "体检名单"},
        )
        assert other_school.status_code == 403
        export_id = asked.json()["export_id"]
        async with as_user(service.app, COUNTY_APPROVER, "http://school") as county:
            pending = await county.get("/api/v1/exports", params={"status": "requested"})
            assert [e["export_id"] for e in pending.json()["items"]] == [export_id]
            decided = await county.post(
                f"/api/v1/exports/{export_id}/decision", json={"decision": "approve"}
            )
            assert decided.json()["row_count"] == 2
        got = await registrar.get(f"/api/v1/exports/{export_id}/download")
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows == [
        ["student_number", "grade", "class_name"],
        ["G410102201501010001", "3", "3年级1班"],
        ["G410102201501010002", "4", "4年级1班"],
    ]
