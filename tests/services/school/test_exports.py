"""A school's roster export: asked by its registrar, approved by its county, basic info only."""

from __future__ import annotations

import base64
import csv
import io

import httpx
import pytest

from devtools.testing import REPO_CONFIG
from shared.rules import load_province_rules, rules_path
from shared.workdays import WorkdayCalendar
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


# --- the export's approval is a task on the school's desk, owned by the county -----------

OTHER_COUNTY = Principal("zhao.approver", "county", "410105", frozenset({"approver"}))
COUNTY_OFFICER = Principal(
    "sun.officer", "county", PRIMARY.county, frozenset({"registrar", "approver"})
)
APPROVALS = "/api/v1/approvals"


async def ask(client: httpx.AsyncClient, fields: list[str]) -> str:
    body = {"population": f"school:{PRIMARY.code}", "fields": fields, "purpose": "体检名单"}
    asked = await client.post("/api/v1/exports", json=body)
    assert asked.status_code == 201, asked.text
    export_id: str = asked.json()["export_id"]
    return export_id


async def test_an_export_is_the_countys_task_on_the_schools_desk(service: Service) -> None:
    await seed(
        service.runtime.sessions,
        [roster_row(PRIMARY.code, 1, 3), roster_row(PRIMARY.code, 2, 4)],
    )
    county_unit = {"unit": f"county:{PRIMARY.county}"}
    app = service.app
    async with (
        as_user(app, REGISTRAR, "http://school") as registrar,
        as_user(app, COUNTY_APPROVER, "http://school") as county,
        as_user(app, OTHER_COUNTY, "http://school") as other,
        as_user(app, COUNTY_OFFICER, "http://school") as officer,
    ):
        first = await ask(registrar, ["student_number", "grade"])
        second = await ask(registrar, ["student_number"])

        # the county's list on the school service: both requests, as export approvals
        listed = await county.get(APPROVALS, params={**county_unit, "status": "open"})
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [(i["subject_id"], i["kind"]) for i in items] == [
            (first, "export_approval"),
            (second, "export_approval"),
        ]
        assert {i["authority_unit"] for i in items} == {f"county:{PRIMARY.county}"}
        first_task, second_task = (i["task_id"] for i in items)
        unchanged = await county.get(
            APPROVALS,
            params={**county_unit, "status": "open"},
            headers={"If-None-Match": listed.headers["etag"]},
        )
        assert unchanged.status_code == 304

        # another county neither sees nor decides it
        assert (await other.get(APPROVALS, params=county_unit)).status_code == 404
        assert (await other.get(f"/api/v1/tasks/{first_task}")).status_code == 404
        refused = await other.post(
            f"/api/v1/tasks/{first_task}/decision", json={"decision": "approve"}
        )
        assert refused.status_code == 404 and refused.json()["rule"] == "task_not_found"
        bulk = {"decisions": [{"task_id": second_task, "decision": "approve"}]}
        refused_bulk = await other.post("/api/v1/tasks/decisions", json=bulk)
        assert [r["status"] for r in refused_bulk.json()["results"]] == [404]

        # the county decides the first through the desk's decision: the CSV is produced
        read = await county.get(f"/api/v1/tasks/{first_task}")
        assert read.json()["export"]["fields"] == ["student_number", "grade"]
        assert read.json()["export"]["requested_by"] == REGISTRAR.username
        decided = await county.post(
            f"/api/v1/tasks/{first_task}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "approved"
        assert decided.json()["decided_by"] == COUNTY_APPROVER.username
        export = (await registrar.get(f"/api/v1/exports/{first}")).json()
        assert (export["status"], export["row_count"]) == ("approved", 2)
        again = await county.post(f"/api/v1/exports/{first}/decision", json={"decision": "approve"})
        assert again.status_code == 409 and again.json()["rule"] == "export_decided"

        # and the second through the bulk decision, with the other county's try refused
        done = await county.post("/api/v1/tasks/decisions", json=bulk)
        assert [r["status"] for r in done.json()["results"]] == [200], done.text
        got = await registrar.get(f"/api/v1/exports/{second}/download")
        assert got.status_code == 200
        rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
        assert rows == [["student_number"], ["G410102201501010001"], ["G410102201501010002"]]
        assert (await county.get(APPROVALS, params={**county_unit, "status": "open"})).json()[
            "items"
        ] == []

        # a county officer's own request is the county's task too: another officer decides it
        own = await ask(officer, ["grade"])
        [task] = (await county.get(APPROVALS, params={**county_unit, "status": "open"})).json()[
            "items"
        ]
        assert task["subject_id"] == own
        path = f"/api/v1/tasks/{task['task_id']}/decision"
        alone = await officer.post(path, json={"decision": "approve"})
        assert alone.status_code == 403 and alone.json()["rule"] == "export_four_eyes"
        assert alone.json()["article"] == "N2013 art. 25"
        many = {"decisions": [{"task_id": task["task_id"], "decision": "approve"}]}
        [outcome] = (await officer.post("/api/v1/tasks/decisions", json=many)).json()["results"]
        assert (outcome["status"], outcome["rule"]) == (403, "export_four_eyes")
        rejected = await county.post(
            f"/api/v1/exports/{own}/decision", json={"decision": "reject", "reason": "用途不明"}
        )
        assert rejected.json()["status"] == "rejected"  # the alias closes the desk's task
        closed = await county.get(f"/api/v1/tasks/{task['task_id']}")
        assert (closed.json()["status"], closed.json()["reason"]) == ("rejected", "用途不明")


# --- the signed data-security pledge before a request (附表4, LS 7) --------------------------


def _require_pledge(service: Service) -> None:
    """Henan's rules file of this test's federation copy, as Sichuan's says (51.toml)."""
    path = rules_path(service.runtime.settings.federation_config, "41")
    path.write_text(path.read_text() + '\n[exports]\nsigned_pledge = "request"\n')


async def test_a_school_asks_for_an_export_once_its_signed_pledge_is_on_file(
    service: Service,
) -> None:
    _require_pledge(service)
    await seed(service.runtime.sessions, [roster_row(PRIMARY.code, 1, 3)])
    base = f"/api/v1/schools/{PRIMARY.code}/documents"
    pledge_state = {"unit": f"school:{PRIMARY.code}"}
    async with as_user(service.app, REGISTRAR, "http://school") as registrar:
        before = await registrar.get("/api/v1/exports/pledge", params=pledge_state)
        refused = await registrar.post(
            "/api/v1/exports",
            json={
                "population": f"school:{PRIMARY.code}",
                "fields": ["name"],
                "purpose": "体检名单",
            },
            headers={"Accept-Language": "zh-CN"},
        )
        await registrar.get(f"{base}/security-pledge.pdf")
        printed = await registrar.get("/api/v1/exports/pledge", params=pledge_state)
        unsigned = await registrar.post(
            "/api/v1/exports",
            json={
                "population": f"school:{PRIMARY.code}",
                "fields": ["name"],
                "purpose": "体检名单",
            },
        )
        document_id = printed.json()["document_id"]
        scan = {
            "filename": "承诺书.pdf",
            "content_base64": base64.b64encode(b"%PDF-1.4 s").decode(),
        }
        uploaded = await registrar.put(f"{base}/{document_id}/signed-scan", json=scan)
        after = await registrar.get("/api/v1/exports/pledge", params=pledge_state)
        await ask(registrar, ["name"])
    assert before.json() == {
        "unit": f"school:{PRIMARY.code}",
        "required": True,
        "on_file": False,
        "document_id": None,
    }
    assert refused.status_code == 403
    body = refused.json()
    assert (body["code"], body["article"]) == ("export_pledge_missing", "LS 7")
    assert body["message_zh"].startswith("须先上传已签字盖章的数据管理安全承诺书（附表4）")
    assert (printed.json()["on_file"], unsigned.status_code) == (False, 403)
    assert uploaded.status_code == 204, uploaded.text
    assert after.json()["on_file"] is True and after.json()["document_id"] == document_id


async def test_without_the_provinces_rule_no_pledge_is_asked(service: Service) -> None:
    async with as_user(service.app, REGISTRAR, "http://school") as registrar:
        state = await registrar.get(
            "/api/v1/exports/pledge", params={"unit": f"school:{PRIMARY.code}"}
        )
        export_id = await ask(registrar, ["name"])
    async with as_user(service.app, COUNTY_APPROVER, "http://school") as county:
        listed = await county.get(APPROVALS, params={"unit": f"county:{PRIMARY.county}"})
    [task] = [t for t in listed.json()["items"] if t["subject_id"] == export_id]
    # due five working days after the request, like any task with a deadline on the desk
    due = WorkdayCalendar().add_workdays(service.runtime.clock.today(), 5).due
    assert (task["due_on"], task["overdue"]) == (due.isoformat(), False)
    assert task["export"]["fields"] == ["name"]
    assert (state.json()["required"], state.json()["on_file"]) == (False, False)
    sichuan = load_province_rules(REPO_CONFIG, "5134010001").exports
    assert sichuan.signed_pledge == "request"
