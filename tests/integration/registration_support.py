"""Students and steps for the cross-process registration tests."""

from __future__ import annotations

import base64
import random
from datetime import date, timedelta
from typing import Any

import httpx

from tests.ids import fresh_resident_id
from tests.integration.conftest import Federation
from tests.shared.messaging.harness import eventually

_rng = random.Random()
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def unique_name() -> str:
    return _rng.choice(SURNAMES) + "".join(_rng.choice(GIVEN) for _ in range(3))


def student(
    school_code: str,
    *,
    name: str | None = None,
    birth: date | None = None,
    sex: str = "male",
    grade: int = 1,
) -> dict[str, Any]:
    """A valid first-grader of ``school_code`` with a fresh resident ID."""
    birth = birth or date(2019, 1, 1) + timedelta(days=_rng.randrange(365))
    id_number = fresh_resident_id(_rng, school_code[:6], birth, sex)
    return {
        "name": name or unique_name(),
        "gender": sex,
        "birth_date": birth.isoformat(),
        "id_type": "resident_id",
        "id_number": id_number,
        "ethnicity": "汉族",
        "grade": grade,
        "enrolled_on": "2026-09-01",
        "extended": {
            "guardians": [
                {"name": "家长" + unique_name(), "relation": "父亲", "phone": "13800000000"}
            ],
            "address": "示例路 1 号",
            "hukou_region": school_code[:6],
        },
    }


async def register(fed: Federation, school: str, body: dict[str, Any]) -> str:
    response = await fed.post("school", school, f"/api/v1/schools/{school}/students", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["registration_id"])


async def registration(fed: Federation, school: str, registration_id: str) -> dict[str, Any]:
    response = await fed.get("school", school, f"/api/v1/registrations/{registration_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def settled(
    fed: Federation, school: str, registration_id: str, status: str
) -> dict[str, Any]:
    """Wait until the school shows the registration in ``status``."""

    async def reached() -> bool:
        return (await registration(fed, school, registration_id))["status"] == status

    await eventually(reached, timeout=45, interval=0.2)
    return await registration(fed, school, registration_id)


async def open_task(
    fed: Federation, tier: str, unit: str, school: str, kind: str
) -> dict[str, Any]:
    """Wait for the authority's open task of ``kind`` from ``school`` and return it."""
    plural = {"county": "counties", "city": "cities", "province": "provinces"}[tier]
    found: list[dict[str, Any]] = []

    async def appeared() -> bool:
        page = await fed.get(
            tier,
            unit,
            f"/api/v1/{plural}/{unit}/tasks",
            params={"status": "open", "kind": kind, "limit": 200},
        )
        assert page.status_code == 200, page.text
        found[:] = [t for t in page.json()["items"] if t["school_code"] == school]
        return bool(found)

    await eventually(appeared, timeout=45, interval=0.2)
    return found[-1]


async def decide(
    fed: Federation, tier: str, unit: str, task_id: str, decision: str, reason: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"decision": decision}
    if reason:
        body["reason"] = reason
    return await fed.post(tier, unit, f"/api/v1/tasks/{task_id}/decision", json=body)


def proof() -> dict[str, str]:
    return {
        "kind": "hukou_proof",
        "filename": "hukou.pdf",
        "content_base64": base64.b64encode(b"%PDF-1.4 hukou page").decode(),
    }
