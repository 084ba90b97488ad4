"""Counts travel up and down the tiers as messages (分级汇总, ZJ art. 5; decision 0047), the
tiers as separate processes over the real broker: after national's and Henan's runs, the
county keeps in its own database exactly what national answers for it (the census at the end
of the day, the day's movements) and what Henan counts of its schools' archives; a county
never holds another county's figures; a second run replaces, never doubles.

The federation is shared by the package: every comparison is with the tiers' own answers at
the time, never with fixed numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.clock import CHINA
from tests.integration.conftest import Federation
from tests.integration.status_support import registered
from tests.shared.messaging.harness import eventually

HENAN, HENAN_OTHER_COUNTY = "4101020001", "4101050001"
COUNTY, OTHER_COUNTY = "410102", "410105"
BY = "school,grade,gender,status"


async def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def received(fed: Federation, tier: str, code: str, day: str) -> dict[str, Any]:
    """What the unit keeps of the figures sent to it, by kind, read by its own officer."""
    found = await ok(
        await fed.get(
            tier, code, "/api/v1/statistics/received",
            params={"unit": f"{tier}:{code}", "period": day},
        )
    )  # fmt: skip
    return {item["kind"]: item for item in found["items"]}


async def national_answer(fed: Federation, county: str, day: str) -> dict[str, Any]:
    unit = f"county:{county}"
    census = await ok(
        await fed.get(
            "national", "CN", "/api/v1/statistics/headcount",
            params={"unit": unit, "by": BY, "as_of": day}, headers=fed.auth(unit),
        )
    )  # fmt: skip
    moved = await ok(
        await fed.get(
            "national", "CN", "/api/v1/statistics/movements",
            params={"unit": unit, "from": day, "to": day}, headers=fed.auth(unit),
        )
    )  # fmt: skip
    assert not census["suppressed"]
    rows = sorted([*(r["keys"][d] for d in BY.split(",")), r["students"]] for r in census["rows"])
    return {"rows": rows, "movements": {k: moved[k] for k in ("counts", "transfers")}
            | {"other_provinces": moved["other_provinces"]}}  # fmt: skip


async def province_answer(fed: Federation, county: str) -> dict[str, Any]:
    found = await ok(
        await fed.get(
            "province", "41", "/api/v1/statistics/extended",
            params={"unit": f"county:{county}"}, headers=fed.auth(f"county:{county}"),
        )
    )  # fmt: skip
    rows = sorted(
        [school, f["students"], f["migrant"], f["home_instruction"], f["yi_track"]]
        for school, f in found["by_school"].items()
    )
    return {"rows": rows, "archives_overdue": found["archives_overdue"]}


async def publish(fed: Federation, day: str) -> None:
    await ok(
        await fed.post(
            "national", "CN", "/api/v1/operations/statistics/publish", json={"period": day}
        )
    )
    await ok(
        await fed.post(
            "province", "41", "/api/v1/provinces/41/operations/statistics/publish",
            json={"period": day},
        )
    )  # fmt: skip


async def test_each_county_keeps_what_national_and_its_province_answer_for_it(
    fed: Federation,
) -> None:
    migrant = await registered(fed, HENAN, extended={"migrant": True})
    await registered(fed, HENAN_OTHER_COUNTY)
    day = datetime.now(CHINA).date().isoformat()

    async def archive_filed() -> bool:  # the province keeps the archive a moment later
        rows = (await province_answer(fed, COUNTY))["rows"]
        return any(r[0] == migrant["school"] and r[2] > 0 for r in rows)

    await eventually(archive_filed, timeout=45, interval=0.2)
    expected = await national_answer(fed, COUNTY, day)
    extended = await province_answer(fed, COUNTY)
    await publish(fed, day)

    async def arrived() -> bool:
        kept = await received(fed, "county", COUNTY, day)
        basic, ext = kept.get("county_figures"), kept.get("county_extended")
        return (
            basic is not None
            and ext is not None
            and sorted(basic["figures"]["rows"]) == expected["rows"]
            and sorted(ext["figures"]["rows"]) == extended["rows"]
        )

    await eventually(arrived, timeout=45, interval=0.2)
    kept = await received(fed, "county", COUNTY, day)
    basic = kept["county_figures"]
    assert (basic["source"], basic["period"]) == ("national:CN", day)
    assert basic["figures"]["movements"] == expected["movements"]
    assert basic["figures"]["movements"]["counts"]["registered"] >= 1
    ext = kept["county_extended"]
    assert ext["source"] == "province:41"
    assert ext["figures"]["archives_overdue"] == extended["archives_overdue"]

    # a county never holds another county's figures, and the province holds its counties'
    other = await received(fed, "county", OTHER_COUNTY, day)
    assert HENAN_OTHER_COUNTY in {r[0] for r in other["county_figures"]["figures"]["rows"]}
    assert HENAN_OTHER_COUNTY not in {r[0] for r in basic["figures"]["rows"]}
    assert HENAN not in {r[0] for r in other["county_figures"]["figures"]["rows"]}
    assert HENAN not in {r[0] for r in other["county_extended"]["figures"]["rows"]}
    province = (await received(fed, "province", "41", day))["province_figures"]
    county_total = sum(r[4] for r in basic["figures"]["rows"])
    assert sum(r[4] for r in province["figures"]["rows"] if r[0] == COUNTY) == county_total

    # a second run: replaced (a later computation), never added to
    first_at = basic["computed_at"]
    await publish(fed, day)

    async def replaced() -> bool:
        again = await received(fed, "county", COUNTY, day)
        return bool(again["county_figures"]["computed_at"] > first_at)

    await eventually(replaced, timeout=45, interval=0.2)
    again = await received(fed, "county", COUNTY, day)
    assert sorted(again) == ["county_extended", "county_figures"]
    assert sorted(again["county_figures"]["figures"]["rows"]) == expected["rows"]
    assert sum(r[4] for r in again["county_figures"]["figures"]["rows"]) == county_total
    assert sorted(again["county_extended"]["figures"]["rows"]) == extended["rows"]
