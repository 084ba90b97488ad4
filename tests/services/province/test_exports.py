"""Exports of extended info at the province: requested → approved → downloaded → expired.

Through the province service's HTTP API on both databases, with principals attached the way
authentication does; the export's rules (scope, fields, approver, four eyes, requester-only,
expiry) and its audit entries.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from components.exports.tables import export
from services.province.adapters.orm import Archive
from shared.audit.tables import audit_entry
from shared.clock import Clock
from tests.components.approval_desk.support import PRIMARY
from tests.services.province.support import Province
from tests.shared.audit.support import Principal, as_user

EXPORTS = "/api/v1/exports"
REGISTRAR = Principal("li.registrar", "school", PRIMARY, frozenset({"registrar"}))
OTHER_REGISTRAR = Principal("he.registrar", "school", PRIMARY, frozenset({"registrar"}))
COUNTY_APPROVER = Principal("wang.approver", "county", PRIMARY[:6], frozenset({"approver"}))
OTHER_COUNTY = Principal("zhao.approver", "county", "410105", frozenset({"approver"}))
PROVINCE_OFFICER = Principal("sun.officer", "province", "41", frozenset({"registrar", "approver"}))
PROVINCE_APPROVER = Principal("qian.approver", "province", "41", frozenset({"approver"}))


@dataclass(frozen=True)
class Later(Clock):
    """The clock ``shift`` ahead of now."""

    shift: timedelta = timedelta(0)

    def now(self) -> Any:
        return super().now() + self.shift


def user(province: Province, principal: Principal) -> httpx.AsyncClient:
    return as_user(province.client._transport.app, principal, "http://province")  # type: ignore[attr-defined]


@pytest.fixture
async def archives(province: Province) -> AsyncIterator[Province]:
    """Two active archives of the primary school and one of another school in 41."""
    now = province.runtime.clock.now()

    def archive(school: str, number: str, name: str, phone: str) -> Archive:
        return Archive(
            archive_id=str(uuid.uuid4()),
            province="41",
            school_code=school,
            batch_id=str(uuid.uuid4()),
            status="active",
            student_number=number,
            basic={"name": name},
            extended={
                "guardians": [{"name": f"{name}父", "relation": "父亲", "phone": phone}],
                "address": "郑州市中原区建设路 1 号",
                "hukou_region": "410102",
                "health_notes": "哮喘",
            },
            filed_at=now,
            updated_at=now,
        )

    async with province.runtime.sessions() as session:
        session.add_all(
            [
                archive(PRIMARY, "G410102201803070011", "张三", "13800000001"),
                archive(PRIMARY, "G410102201803070022", "李四", "13800000002"),
                archive("4101020002", "G410102201803070033", "王五", "13800000003"),
            ]
        )
        await session.commit()
    yield province


async def ask(province: Province, principal: Principal = REGISTRAR, **body: Any) -> httpx.Response:
    fields = {
        "population": f"school:{PRIMARY}",
        "fields": ["student_number", "guardians", "address"],
        "purpose": "家长会通知",
        **body,
    }
    async with user(province, principal) as client:
        return await client.post(EXPORTS, json=fields)


async def call(
    province: Province, principal: Principal, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    async with user(province, principal) as client:
        return await client.request(method, path, **kwargs)


async def test_requested_approved_downloaded_expired(archives: Province) -> None:
    asked = await ask(archives)
    assert asked.status_code == 201, asked.text
    export_id = asked.json()["export_id"]
    assert asked.json()["status"] == "requested"
    assert asked.json()["approver_unit"] == f"county:{PRIMARY[:6]}"  # the school's authority
    download = f"{EXPORTS}/{export_id}/download"

    early = await call(archives, REGISTRAR, "GET", download)
    assert early.status_code == 409 and early.json()["rule"] == "export_not_approved"

    approve = {"decision": "approve", "reason": "通知家长"}
    wrong = await call(
        archives, OTHER_COUNTY, "POST", f"{EXPORTS}/{export_id}/decision", json=approve
    )
    assert wrong.status_code == 403 and wrong.json()["rule"] == "export_approver"
    decided = await call(
        archives, COUNTY_APPROVER, "POST", f"{EXPORTS}/{export_id}/decision", json=approve
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved" and decided.json()["row_count"] == 2
    assert decided.json()["links"]["download"] == download

    stranger = await call(archives, OTHER_REGISTRAR, "GET", download)
    assert stranger.status_code == 403 and stranger.json()["rule"] == "export_requester_only"

    got = await call(archives, REGISTRAR, "GET", download)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0] == ["student_number", "guardians", "address"]  # exactly the approved fields
    assert rows[1:] == [
        ["G410102201803070011", "张三父 (父亲) 13800000001", "郑州市中原区建设路 1 号"],
        ["G410102201803070022", "李四父 (父亲) 13800000002", "郑州市中原区建设路 1 号"],
    ]
    assert "哮喘" not in got.content.decode("utf-8-sig")  # health notes were not approved

    archives.runtime.clock = Later(shift=timedelta(hours=24, seconds=1))
    late = await call(archives, REGISTRAR, "GET", download)
    assert late.status_code == 410 and late.json()["rule"] == "export_expired"
    async with archives.runtime.sessions() as session:
        stored = (await session.execute(select(export))).one()
    assert (stored.status, stored.content, stored.downloads) == ("expired", None, 1)

    async with archives.runtime.sessions() as session:
        trail = (
            await session.execute(
                select(
                    audit_entry.c.actor,
                    audit_entry.c.action,
                    audit_entry.c.outcome,
                    audit_entry.c.purpose,
                    audit_entry.c.unit_code,
                )
                .where(audit_entry.c.object_type == "export")
                .order_by(audit_entry.c.seq)
            )
        ).all()
    assert [tuple(row[:3]) for row in trail] == [
        ("li.registrar", "request", "ok"),
        ("li.registrar", "download", "refused 409 export_not_approved"),
        ("zhao.approver", "decide", "refused 403 export_approver"),
        ("wang.approver", "decide", "ok"),
        ("he.registrar", "download", "refused 403 export_requester_only"),
        ("li.registrar", "download", "ok"),
        ("li.registrar", "download", "refused 410 export_expired"),
    ]
    assert {row.unit_code for row in trail} == {PRIMARY}
    assert [row.purpose for row in trail if row.outcome == "ok"] == [
        "家长会通知",
        "通知家长",
        "家长会通知",
    ]


async def test_a_rejected_export_serves_nothing_and_is_decided_once(archives: Province) -> None:
    export_id = (await ask(archives)).json()["export_id"]
    reject = {"decision": "reject", "reason": "用途不明"}
    path = f"{EXPORTS}/{export_id}/decision"
    rejected = await call(archives, COUNTY_APPROVER, "POST", path, json=reject)
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "用途不明"
    again = await call(archives, COUNTY_APPROVER, "POST", path, json={"decision": "approve"})
    assert again.status_code == 409 and again.json()["rule"] == "export_decided"
    got = await call(archives, REGISTRAR, "GET", f"{EXPORTS}/{export_id}/download")
    assert got.status_code == 409 and got.json()["rule"] == "export_not_approved"


async def test_scope_fields_roles_and_population_are_enforced(archives: Province) -> None:
    foreign = await ask(archives, population="school:4101020002")
    assert foreign.status_code == 403 and foreign.json()["rule"] == "export_scope"
    unknown = await ask(archives, fields=["student_number", "id_number"])
    assert unknown.status_code == 422 and unknown.json()["rule"] == "export_fields"
    approver_asks = await ask(archives, COUNTY_APPROVER, population=f"county:{PRIMARY[:6]}")
    assert approver_asks.status_code == 403 and approver_asks.json()["rule"] == "export_role"
    national = Principal("cn.operator", "national", "CN", frozenset({"operator"}))
    elsewhere = await ask(archives, national, population="province:33")
    assert elsewhere.status_code == 404 and elsewhere.json()["rule"] == "population_not_served"
    async with as_user(archives.client._transport.app, None, "http://province") as client:  # type: ignore[attr-defined]
        body = {"population": "province:41", "fields": ["name"], "purpose": "统计人数"}
        anonymous = await client.post(EXPORTS, json=body)
    assert anonymous.status_code == 401 and anonymous.json()["rule"] == "authentication_required"


async def test_a_province_export_needs_another_officer(archives: Province) -> None:
    asked = await ask(archives, PROVINCE_OFFICER, population="province:41", fields=["name"])
    export_id = asked.json()["export_id"]
    assert asked.json()["approver_unit"] == "province:41"
    path = f"{EXPORTS}/{export_id}/decision"
    own = await call(archives, PROVINCE_OFFICER, "POST", path, json={"decision": "approve"})
    assert own.status_code == 403 and own.json()["rule"] == "export_four_eyes"
    other = await call(archives, PROVINCE_APPROVER, "POST", path, json={"decision": "approve"})
    assert other.json()["row_count"] == 3  # every active archive of the province
    listed = await call(archives, PROVINCE_APPROVER, "GET", EXPORTS)
    assert [item["export_id"] for item in listed.json()["items"]] == [export_id]
    assert (await call(archives, REGISTRAR, "GET", EXPORTS)).json()["items"] == []


async def test_the_county_decides_an_archive_export_on_the_provinces_desk(
    archives: Province,
) -> None:
    """The export's task is kept at the province, owned by the county: the county lists it
    there, decides it through the desk's decision, and the requester downloads the CSV."""
    export_id = (await ask(archives)).json()["export_id"]
    county = {"unit": f"county:{PRIMARY[:6]}"}
    listed = await call(archives, COUNTY_APPROVER, "GET", "/api/v1/approvals", params=county)
    [task] = listed.json()["items"]
    assert (task["kind"], task["subject_id"]) == ("export_approval", export_id)
    other = await call(archives, OTHER_COUNTY, "GET", "/api/v1/approvals", params=county)
    assert other.status_code == 404

    path = f"/api/v1/tasks/{task['task_id']}/decision"
    stranger = await call(archives, OTHER_COUNTY, "POST", path, json={"decision": "approve"})
    assert stranger.status_code == 404 and stranger.json()["rule"] == "task_not_found"
    decided = await call(archives, COUNTY_APPROVER, "POST", path, json={"decision": "approve"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["export"]["purpose"] == "家长会通知"
    got = await call(archives, REGISTRAR, "GET", f"{EXPORTS}/{export_id}/download")
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows] == [
        "student_number",
        "G410102201803070011",
        "G410102201803070022",
    ]
