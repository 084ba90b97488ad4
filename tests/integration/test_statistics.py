"""Statistics across the tiers as separate processes over the real broker (decision 0039):
students registered, transferred (cross-county in Henan, Henan → Zhejiang), suspended and
graduated through the real workflows; every level's counts move by exactly what happened, the
census as of a moment before the transfers still answers the figures of that moment, the
movements are classified, and each level sees its own units only.

The federation is shared by the package, so each figure is compared with the same figure
read before this test acted (every level's own officer reads it: no small-count suppression).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shared.clock import CHINA
from shared.security.principal import Role
from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task
from tests.integration.status_support import change, registered
from tests.integration.transfer_support import drive, request_transfer
from tests.shared.messaging.harness import eventually

HENAN, HENAN_OTHER_COUNTY, ZHEJIANG = "4101020001", "4101050001", "3301020001"
UNITS = (
    f"school:{HENAN}",
    f"school:{HENAN_OTHER_COUNTY}",
    f"school:{ZHEJIANG}",
    "county:410102",
    "county:410105",
    "county:330102",
    "province:41",
    "province:33",
    "national:CN",
)


async def headcount(fed: Federation, unit: str, as_of: str | None = None) -> Counter[str]:
    """The unit's students by status, read by the unit's own officer."""
    params = {"unit": unit, "by": "status"} | ({"as_of": as_of} if as_of else {})
    response = await fed.get(
        "national", "CN", "/api/v1/statistics/headcount", params=params,
        headers=fed.auth(unit, Role.APPROVER),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert not response.json()["suppressed"]
    return Counter({r["keys"]["status"]: r["students"] for r in response.json()["rows"]})


async def movements(fed: Federation, unit: str) -> dict[str, Any]:
    today = datetime.now(CHINA).date().isoformat()
    response = await fed.get(
        "national", "CN", "/api/v1/statistics/movements",
        params={"unit": unit, "from": today, "to": today}, headers=fed.auth(unit, Role.APPROVER),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


async def every_level(fed: Federation, as_of: str | None = None) -> dict[str, Counter[str]]:
    return {unit: await headcount(fed, unit, as_of) for unit in UNITS}


def delta(
    after: dict[str, Counter[str]], before: dict[str, Counter[str]]
) -> dict[str, dict[str, int]]:
    found = {}
    for unit in UNITS:
        moved = Counter(after[unit])
        moved.subtract(before[unit])
        found[unit] = {status: n for status, n in moved.items() if n}
    return found


async def graduate(fed: Federation, number: str) -> None:
    """The school's graduating list of one, approved by its county."""
    items = [{"student_number": number, "outcome": "graduated"}]
    sent = await fed.post(
        "school", HENAN, f"/api/v1/schools/{HENAN}/graduations",
        json={"graduation_year": 2027, "items": items},
    )  # fmt: skip
    assert sent.status_code == 202, sent.text
    task = await open_task(fed, "county", "410102", HENAN, "graduation_batch")
    assert (await decide(fed, "county", "410102", task["task_id"], "approve")).status_code == 200

    async def applied() -> bool:
        entry = await fed.get("national", "CN", f"/api/v1/registry/{number}")
        return bool(entry.json()["status"] == "graduated")

    await eventually(applied, timeout=45, interval=0.2)


async def test_every_level_counts_what_moved_and_the_census_before_a_transfer_stands(
    fed: Federation,
) -> None:
    before = await every_level(fed)
    moved_before = {u: await movements(fed, u) for u in ("county:410102", "province:33")}

    henan = [await registered(fed, HENAN) for _ in range(3)]
    leaver = await registered(fed, HENAN, grade=6)
    zhejiang = [await registered(fed, ZHEJIANG) for _ in range(2)]
    census = datetime.now(UTC).isoformat()
    at_census = await every_level(fed)
    assert delta(at_census, before)["national:CN"] == {"enrolled": 6}

    for kid, to_school in ((henan[0], HENAN_OTHER_COUNTY), (henan[1], ZHEJIANG)):
        done = await drive(fed, str((await request_transfer(fed, kid, to_school))["transfer_id"]))
        assert done["state"] == "completed", done
    suspended = await change(
        fed, henan[2], "suspend", ground="illness", proofs=("hospital_certificate",)
    )
    assert suspended["status"] == "applied", suspended
    await graduate(fed, leaver["student_number"])
    assert len(zhejiang) == 2

    after = await every_level(fed)
    assert delta(after, before) == {
        f"school:{HENAN}": {"suspended": 1, "graduated": 1},
        f"school:{HENAN_OTHER_COUNTY}": {"enrolled": 1},
        f"school:{ZHEJIANG}": {"enrolled": 3},
        "county:410102": {"suspended": 1, "graduated": 1},
        "county:410105": {"enrolled": 1},
        "county:330102": {"enrolled": 3},
        "province:41": {"enrolled": 1, "suspended": 1, "graduated": 1},
        "province:33": {"enrolled": 3},
        "national:CN": {"enrolled": 4, "suspended": 1, "graduated": 1},
    }
    # the census of the moment before the transfers: as it was then, at every level
    assert await every_level(fed, census) == at_census

    county = await movements(fed, "county:410102")
    old = moved_before["county:410102"]
    assert {k: county["counts"][k] - old["counts"][k] for k in (
        "registered", "transfer_out", "suspended", "graduated")} == {
        "registered": 4, "transfer_out": 2, "suspended": 1, "graduated": 1,
    }  # fmt: skip
    out, old_out = county["transfers"]["out"], old["transfers"]["out"]
    assert out["cross_county"] - old_out["cross_county"] == 1
    assert out["cross_province"] - old_out["cross_province"] == 1
    zj = await movements(fed, "province:33")
    assert zj["other_provinces"]["in"].get("41", 0) == (
        moved_before["province:33"]["other_provinces"]["in"].get("41", 0) + 1
    )


async def test_a_county_sees_only_its_schools_and_a_province_not_another(fed: Federation) -> None:
    for caller, unit, status in (
        ("county:410102", f"school:{HENAN}", 200),
        ("county:410102", f"school:{HENAN_OTHER_COUNTY}", 404),
        ("county:410102", "county:410105", 404),
        ("county:410102", "province:41", 404),
        ("province:41", "county:410105", 200),
        ("province:41", "province:33", 404),
        ("province:41", f"school:{ZHEJIANG}", 404),
        ("province:33", "county:410102", 404),
    ):
        response = await fed.get(
            "national", "CN", "/api/v1/statistics/headcount",
            params={"unit": unit, "by": "grade"}, headers=fed.auth(caller, Role.APPROVER),
        )  # fmt: skip
        assert response.status_code == status, (caller, unit, response.text)
    extended = await fed.get(
        "province", "41", "/api/v1/statistics/extended",
        params={"unit": "county:410102"}, headers=fed.auth("county:410102", Role.APPROVER),
    )  # fmt: skip
    assert extended.status_code == 200, extended.text
    barred = await fed.get(
        "province", "41", "/api/v1/statistics/extended",
        params={"unit": "province:41"}, headers=fed.auth("national:CN", Role.APPROVER),
    )  # fmt: skip
    assert barred.status_code in (403, 404)
