"""Archive sections 3-7 across the tiers as separate processes over the real broker, on both
databases (N2013 arts. 7, 9; N2025 arts. 5, 23): a Henan student with an entry in every
section transfers to Zhejiang and every entry arrives there and stays in the sending school's
backup; a primary graduate with the same entries progresses to the junior school in Henan; a
class's term-results sheet is stored row by row with every bad row reported. None of it ever
reaches national: its database is searched for each entry's marker.
Today is 2026-09-07 everywhere (conftest).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import create_async_engine

from shared.security.principal import Role
from tests.integration.conftest import Federation
from tests.integration.test_audit import database_url
from tests.integration.test_progression import (
    JUNIOR,
    PRIMARY,
    approve_steps,
    leavers,
    settled,
)
from tests.integration.transfer_support import drive, enrolled_student, request_transfer
from tests.shared.messaging.harness import eventually

HENAN_SCHOOL, HANGZHOU_SCHOOL, HENAN_COUNTY = "4101020001", "3301020001", "410102"
WRITTEN = ("quality", "health", "awards", "aid", "other")


def every_section(marker: str) -> list[tuple[str, str, dict[str, Any]]]:
    """One entry of each section a school writes, each carrying ``marker``."""
    return [
        ("quality", "conduct", {"term": "2025-2026-2", "level": "优秀", "comment": marker}),
        ("quality", "term_results", {"term": "2025-2026-2", "results": {"语文": 90, marker: 88}}),
        ("quality", "sports", {"term": "2025-2026-2", "level": "良好", "activities": marker}),
        ("quality", "arts", {"term": "2025-2026-2", "level": "合格", "activities": marker}),
        (
            "quality",
            "community_service",
            {"served_on": "2026-05-01", "activity": marker, "hours": 3},
        ),
        ("health", "fitness_test", {"tested_on": "2026-05-20", "score": 80, "level": "良好"}),
        (
            "health",
            "checkup",
            {"examined_on": "2026-04-10", "height_cm": 130, "weight_kg": 27, "conclusion": marker},
        ),
        ("health", "vaccination", {"vaccinated_on": "2026-03-02", "vaccine": marker, "dose": 2}),
        (
            "awards",
            "award",
            {"awarded_on": "2026-06-01", "title": marker, "level": "县级", "awarded_by": "教育局"},
        ),
        ("aid", "aid", {"granted_on": "2026-03-15", "programme": marker, "amount_yuan": 500}),
        (
            "other",
            "province.labour",
            {"practised_on": "2026-06-10", "activity": marker, "hours": 2},
        ),
    ]


async def write_every_section(fed: Federation, school: str, number: str, marker: str) -> None:
    registrar = fed.auth(f"school:{school}", Role.REGISTRAR)
    for section, kind, fields in every_section(marker):
        response = await fed.post(
            "province",
            school[:2],
            f"/api/v1/schools/{school}/archives/{number}/sections/{section}/entries",
            json={"kind": kind, "fields": fields},
            headers=registrar,
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["written_by"]["unit"] == f"school:{school}"


def written_kinds(archive: dict[str, Any]) -> dict[str, str]:
    return {e["kind"]: e["section"] for e in archive["entries"] if e["section"] in WRITTEN}


EXPECTED = {kind: section for section, kind, _ in every_section("x")}


async def national_holds(fed: Federation, marker: str) -> list[str]:
    """Every national table whose rows hold ``marker`` anywhere."""
    engine = create_async_engine(database_url(fed.running, "national"))
    found: list[str] = []
    try:
        async with engine.connect() as connection:
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            for table in metadata.sorted_tables:
                rows = (await connection.execute(select(table))).all()
                if any(marker in str(tuple(row)) for row in rows):
                    found.append(table.name)
    finally:
        await engine.dispose()
    return found


async def live_archive(fed: Federation, province: str, school: str, number: str) -> dict[str, Any]:
    path = f"/api/v1/schools/{school}/archives/{number}"

    async def arrived() -> bool:
        return (await fed.get("province", province, path)).status_code == 200

    await eventually(arrived, timeout=60, interval=0.3)
    return dict((await fed.get("province", province, path)).json())


async def test_every_section_goes_from_henan_to_zhejiang_and_never_to_national(
    fed: Federation,
) -> None:
    marker = f"标记-{uuid.uuid4().hex[:12]}"
    kid = await enrolled_student(fed, HENAN_SCHOOL)
    number = kid["student_number"]
    await write_every_section(fed, HENAN_SCHOOL, number, marker)

    started = await request_transfer(fed, kid, HANGZHOU_SCHOOL)
    done = await drive(fed, str(started["transfer_id"]))
    assert done["state"] == "completed"

    arrived = await live_archive(fed, "33", HANGZHOU_SCHOOL, number)
    assert written_kinds(arrived) == EXPECTED
    [award] = [e for e in arrived["entries"] if e["kind"] == "award"]
    assert award["data"]["title"] == marker
    assert award["data"]["written_by"]["unit"] == f"school:{HENAN_SCHOOL}"
    backup = await fed.get(
        "province", "41", f"/api/v1/schools/{HENAN_SCHOOL}/archive-backups/{number}"
    )
    assert backup.status_code == 200, backup.text
    assert written_kinds(backup.json()["archive"]) == EXPECTED
    gone = await fed.get("province", "41", f"/api/v1/schools/{HENAN_SCHOOL}/archives/{number}")
    assert gone.status_code == 404

    national = await fed.get("national", "CN", f"/api/v1/registry/{number}")
    assert national.status_code == 200 and marker not in national.text
    assert await national_holds(fed, marker) == []


async def test_every_section_follows_a_progression_within_henan(fed: Federation) -> None:
    marker = f"标记-{uuid.uuid4().hex[:12]}"
    [number] = await leavers(fed, PRIMARY, 6, 1)
    await write_every_section(fed, PRIMARY, number, marker)

    asked = await fed.post(
        "school",
        JUNIOR,
        f"/api/v1/schools/{JUNIOR}/progressions",
        json={"from_school": PRIMARY, "students": [number]},
    )
    assert asked.status_code == 202, asked.text
    pid = asked.json()["progression_id"]
    await approve_steps(fed, pid, ["province:41", f"county:{HENAN_COUNTY}", f"school:{PRIMARY}"])
    await settled(fed, JUNIOR, pid, "completed")

    moved = await live_archive(fed, "41", JUNIOR, number)
    assert written_kinds(moved) == EXPECTED
    backup = await fed.get("province", "41", f"/api/v1/schools/{PRIMARY}/archive-backups/{number}")
    assert backup.status_code == 200, backup.text
    assert written_kinds(backup.json()["archive"]) == EXPECTED
    assert await national_holds(fed, marker) == []


async def test_a_class_term_results_sheet_reports_bad_rows(fed: Federation) -> None:
    kids = [await enrolled_student(fed, HENAN_SCHOOL) for _ in range(3)]
    a, b, c = (k["student_number"] for k in kids)
    sheet = "\n".join(
        [
            "学籍号,姓名,语文,数学,英语",
            f"{a},甲,95,88.5,优秀",
            f"{b},乙,95,151,90",  # row 3: 数学 over 150
            f"{c},丙,90,,良",  # row 4: 英语 neither score nor level
            "G000000000000000000,丁,90,90,90",  # row 5: no such student here
        ]
    ).encode("utf-8")
    response = await fed.post(
        "province",
        "41",
        f"/api/v1/schools/{HENAN_SCHOOL}/archive-uploads",
        files={"file": ("class.csv", sheet)},
        data={"kind": "term_results", "term": "2026-2027-1"},
        headers=fed.auth(f"school:{HENAN_SCHOOL}", Role.REGISTRAR) | {"Accept-Language": "zh"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["stored"], report["refused_rows"]) == (4, 1, 3)
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "数学", "archive_result_invalid"),
        (4, "英语", "archive_result_invalid"),
        (5, "学籍号", "archive_not_found"),
    ]
    archive = await live_archive(fed, "41", HENAN_SCHOOL, a)
    [results] = [e for e in archive["entries"] if e["kind"] == "term_results"]
    assert results["data"]["results"] == {"语文": 95, "数学": 88.5, "英语": "优秀"}
    refused = await live_archive(fed, "41", HENAN_SCHOOL, b)
    assert not [e for e in refused["entries"] if e["kind"] == "term_results"]
