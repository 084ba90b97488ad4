"""A service is killed (SIGKILL) at a random point of many concurrent transfers.

Twelve cross-county transfers run at once with automated approvers; one tier process —
chosen at random among national, the province, the counties and the schools — is killed
mid-flight and restarted. Every transfer must still reach a final state, and the invariants
must hold: each student registered at exactly one school, the rosters agreeing, nothing
applied twice. ``XUEJI_FAULT_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from typing import Any

import httpx

from devtools.launcher import LocalFederation
from shared.federation.config import Tier
from tests.integration.conftest import Federation
from tests.integration.transfer_support import (
    FINAL,
    enrolled_student,
    request_transfer,
    roster_status,
)
from tests.shared.messaging.harness import eventually

SENDING, RECEIVING = "3301020001", "3301060001"
DECIDERS = ("school:3301020001", "county:330102", "county:330106")
TRANSFERS = 12


async def approve_everything(fed: Federation, unit: str, stop: asyncio.Event) -> None:
    """An officer who approves every open transfer task of ``unit``, and shrugs off outages."""
    tier, code = unit.split(":")
    path = f"/api/v1/schools/{code}/tasks" if tier == "school" else f"/api/v1/counties/{code}/tasks"
    params = {"status": "open", "limit": 200}
    while not stop.is_set():
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            page = await fed.get(tier, code, path, params=params)
            for task in page.json()["items"]:
                await fed.post(
                    tier,
                    code,
                    f"/api/v1/tasks/{task['task_id']}/decision",
                    json={"decision": "approve"},
                )
        await asyncio.sleep(0.1)


async def states(fed: Federation, transfer_ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for transfer_id in transfer_ids:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = await fed.get("national", "CN", f"/api/v1/transfers/{transfer_id}")
            if response.status_code == 200:
                found[transfer_id] = response.json()
    return found


async def test_kill_minus_nine_mid_flight_and_every_transfer_still_finishes(
    fed: Federation, federation: LocalFederation
) -> None:
    seed = int(os.environ.get("XUEJI_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    victim_unit = rng.choice(
        [
            (Tier.NATIONAL, "CN"),
            (Tier.PROVINCE, "33"),
            (Tier.COUNTY, "330102"),
            (Tier.COUNTY, "330106"),
            (Tier.SCHOOL, SENDING),
        ]
    )
    victim = federation.instance_for_unit(*victim_unit).name
    print(f"fault seed {seed}: killing {victim}")  # shown with -s or on failure

    kids = [await enrolled_student(fed, SENDING) for _ in range(TRANSFERS)]
    stop = asyncio.Event()
    officers = [asyncio.create_task(approve_everything(fed, unit, stop)) for unit in DECIDERS]
    try:
        started = await asyncio.gather(*(request_transfer(fed, kid, RECEIVING) for kid in kids))
        transfer_ids = [str(s["transfer_id"]) for s in started]
        await asyncio.sleep(rng.uniform(0.05, 1.5))  # somewhere in the middle of the flows
        await asyncio.to_thread(federation.kill, victim)
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        await asyncio.to_thread(federation.start_instance, victim)

        async def all_final() -> bool:
            now = await states(fed, transfer_ids)
            return len(now) == TRANSFERS and all(t["state"] in FINAL for t in now.values())

        await eventually(all_final, timeout=120, interval=0.3)
    finally:
        stop.set()
        await asyncio.gather(*officers)

    final = await states(fed, transfer_ids)
    assert {t["state"] for t in final.values()} == {"completed"}, (seed, final)
    for record in final.values():  # each party decided once, nothing left open
        assert [s["state"] for s in record["steps"]] == ["approved"] * len(record["steps"])
    for kid in kids:
        number = kid["student_number"]
        registry = (await fed.get("national", "CN", f"/api/v1/registry/{number}")).json()
        assert registry["school_code"] == RECEIVING, (seed, number)
        transfers = (
            await fed.get("national", "CN", "/api/v1/transfers", params={"student_number": number})
        ).json()
        assert len(transfers["items"]) == 1  # applied once, never twice

    async def rosters_agree() -> bool:
        for kid in kids:
            number = kid["student_number"]
            if (await roster_status(fed, RECEIVING, number)) != "enrolled":
                return False
            if (await roster_status(fed, SENDING, number)) != "transferred_out":
                return False
        return True

    await eventually(rosters_agree, timeout=60, interval=0.3)
