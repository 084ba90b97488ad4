"""The audit trail across the tiers as separate processes: a registration's reads and
decisions leave their entries where they happened, and every instance's chain holds."""

from __future__ import annotations

import asyncio
import io

from devtools.launcher import LocalFederation
from shared.ops.cli import main as ops
from tests.integration.conftest import Federation
from tests.integration.registration_support import (
    decide,
    open_task,
    register,
    settled,
    student,
)

HENAN_SCHOOL, HENAN_COUNTY = "4101020001", "410102"


def database_url(running: LocalFederation, name: str) -> str:
    if running.database_url_for is not None:
        return running.database_url_for(name)
    return f"sqlite+aiosqlite:///{running.data_dir / 'db' / f'{name}.sqlite'}"


async def verify(url: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(ops, ["audit", "verify", "--database-url", url], out)
    return code, out.getvalue()


async def test_a_registration_is_audited_where_it_happened_and_every_chain_holds(
    fed: Federation,
) -> None:
    registration_id = await register(fed, HENAN_SCHOOL, student(HENAN_SCHOOL))
    task = await open_task(fed, "county", HENAN_COUNTY, HENAN_SCHOOL, "registration_batch")
    decided = await decide(fed, "county", HENAN_COUNTY, task["task_id"], "approve", "材料齐全")
    assert decided.status_code == 200, decided.text
    await settled(fed, HENAN_SCHOOL, registration_id, "approved")

    trail = await fed.get(
        "county",
        HENAN_COUNTY,
        "/api/v1/audit",
        params={"unit": f"county:{HENAN_COUNTY}", "object_id": task["task_id"]},
    )
    assert trail.status_code == 200, trail.text
    [decision] = [e for e in trail.json()["items"] if e["action"] == "decide"]
    assert (decision["unit"], decision["outcome"], decision["purpose"]) == (
        f"county:{HENAN_COUNTY}",
        "ok",
        "材料齐全",
    )
    assert decision["route"] == "POST /api/v1/tasks/{task_id}/decision"

    school = await fed.get(
        "school", HENAN_SCHOOL, "/api/v1/audit", params={"unit": f"school:{HENAN_SCHOOL}"}
    )
    actions = {(e["action"], e["object_type"]) for e in school.json()["items"]}
    assert ("register", "student") in actions and ("read", "registration") in actions

    for instance in fed.running.instances:
        code, out = await verify(database_url(fed.running, instance.name))
        assert code == 0, f"{instance.name}: {out}"
        assert "ok," in out
