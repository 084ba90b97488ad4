"""Status changes (学籍变动) across the federation: separate processes, the real broker, SQLite
and PostgreSQL. Each change starts at the school, is decided by the county officer (or
recorded by the system where the province says so), is checked and applied by national, and
is reflected on the school's roster, in the national registry and in the province archive
with its proofs; refusals name their rule."""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.conftest import Federation
from tests.integration.status_support import (
    LS_ILLNESS,
    approve,
    archive_entries,
    ask,
    change,
    outcome,
    registered,
    registry,
    roster,
)
from tests.integration.transfer_support import request_transfer, transfer, waiting_step
from tests.shared.messaging.harness import eventually

pytestmark = pytest.mark.federation

HENAN, HENAN_OTHER_COUNTY = "4101020001", "4101050001"
ZHEJIANG = "3301020001"
SICHUAN, SICHUAN_SENIOR = "5134010001", "5134010002"


async def test_suspension_then_resumption_in_the_next_grade(fed: Federation) -> None:
    kid = await registered(fed, HENAN)
    suspended = await change(
        fed, kid, "suspend", ground="illness", proofs=("hospital_certificate",)
    )
    assert suspended["status"] == "applied", suspended
    assert suspended["outcome"]["suspended_until"] == "2027-09-01"
    assert (await roster(fed, kid))["status"] == "suspended"
    assert (await registry(fed, kid))["status"] == "suspended"
    entries = await archive_entries(fed, kid, suspended["change_id"])
    assert {e["kind"] for e in entries} == {"status_change", "status_change_proofs"}
    [proofs] = [e for e in entries if e["kind"] == "status_change_proofs"]
    link = proofs["data"]["proofs"][0]["url"]
    # the archive's proof points to the school's file (read here as the school)
    served = await fed.http.get(link, headers=fed.headers("school", HENAN, None))
    assert served.content == b"%PDF-1.4 hospital_certificate"

    # after an illness, Henan asks the hospital's proof of recovery (HA art. 13(三))
    bare = await fed.post(
        "school",
        HENAN,
        f"/api/v1/schools/{HENAN}/status-changes",
        json={
            "student_number": kid["student_number"],
            "change": "resume",
            "effective_on": "2026-09-07",
            "target_grade": 2,
            "reason": "已康复",
        },
    )
    assert bare.status_code == 422
    assert (bare.json()["rule"], bare.json()["article"]) == ("proof_required", "HA art. 13(三)")
    resumed = await change(
        fed, kid, "resume", target_grade=2, on=date(2026, 9, 7), proofs=("recovery_certificate",)
    )
    assert (resumed["status"], resumed["outcome"]["to_grade"]) == ("applied", 2)
    assert ((await roster(fed, kid))["status"], (await roster(fed, kid))["grade"]) == (
        "enrolled",
        2,
    )
    assert (await registry(fed, kid))["grade"] == 2


async def test_an_extension_beyond_the_limit_is_refused(fed: Federation) -> None:
    """Sichuan: the county only records an extension (LS 2(二)4), national counts them."""
    kid = await registered(fed, SICHUAN)
    first = await change(fed, kid, "suspend", ground="illness", proofs=LS_ILLNESS)
    assert first["status"] == "applied"
    extended = await change(
        fed, kid, "extend_suspension", officer=False, proofs=("hospital_certificate",)
    )
    assert (extended["status"], extended["decided_by"]) == ("applied", "national:CN")
    assert extended["outcome"]["suspended_until"] == "2028-09-01"
    again = await change(
        fed, kid, "extend_suspension", officer=False, proofs=("hospital_certificate",)
    )
    assert (again["status"], again["rule"]) == ("rejected", "suspension_extension_limit")
    assert "凉山州 rules" in again["article"] and "LS 2(二)4" in again["article"]
    assert (await roster(fed, kid))["status"] == "suspended"


async def test_a_death_is_reported_and_cannot_be_undone(fed: Federation) -> None:
    kid = await registered(fed, ZHEJIANG)
    death = await change(fed, kid, "decease", ground="death", proofs=("death_certificate",))
    assert death["status"] == "applied"
    assert (death["outcome"]["report_due_on"], death["outcome"]["reported_late"]) == (
        "2026-11-30",  # 60 working days (N2025 art. 21)
        False,
    )
    assert (await registry(fed, kid))["status"] == "deceased"
    at_national = await fed.get("national", "CN", f"/api/v1/status-changes/{death['change_id']}")
    assert (at_national.json()["outcome"], at_national.json()["to_status"]) == (
        "applied",
        "deceased",
    )
    later = await change(fed, kid, "return", target_grade=1)
    assert (later["status"], later["rule"]) == ("rejected", "deceased_is_final")
    assert "LS 2(五)" in later["article"]
    assert (await roster(fed, kid))["status"] == "deceased"


async def test_a_missing_student_is_not_cancelled(fed: Federation) -> None:
    kid = await registered(fed, HENAN)
    missing = await change(fed, kid, "decease", ground="missing", proofs=("death_certificate",))
    assert (missing["status"], missing["rule"]) == ("rejected", "missing_or_detained_not_cancelled")
    assert (await registry(fed, kid))["status"] == "enrolled"


async def test_a_suspension_stops_the_transfer_in_progress(fed: Federation) -> None:
    kid = await registered(fed, HENAN)
    started = await request_transfer(fed, kid, HENAN_OTHER_COUNTY)
    transfer_id = str(started["transfer_id"])
    assert await waiting_step(fed, transfer_id) is not None  # the first party has its step

    suspended = await change(
        fed, kid, "suspend", ground="illness", proofs=("hospital_certificate",)
    )
    assert suspended["status"] == "applied"
    assert suspended["outcome"]["stopped_transfer_id"] == transfer_id
    stopped = await transfer(fed, transfer_id)
    assert (stopped["state"], stopped["closing_rule"]) == ("stopped", "status_changed")

    async def told() -> bool:
        path = f"/api/v1/schools/{HENAN_OTHER_COUNTY}/transfers-in/{transfer_id}"
        answer = await fed.get("school", HENAN_OTHER_COUNTY, path)
        return bool(answer.json()["status"] == "stopped")

    await eventually(told, timeout=45, interval=0.2)
    assert (await registry(fed, kid))["school_code"] == HENAN


async def test_a_migrant_dropout_s_archive_goes_to_the_hukou_county(fed: Federation) -> None:
    """N2013 art. 22: registration kept; the archive to the hukou county at term end, here
    from Henan to a county of Zhejiang."""
    kid = await registered(fed, HENAN, extended={"migrant": True, "hukou_region": "330102"})
    dropout = await change(fed, kid, "report_dropout")
    assert dropout["status"] == "applied"
    assert (await registry(fed, kid))["status"] == "dropout"  # kept, not deleted
    number = kid["student_number"]

    async def waiting() -> bool:
        listed = await fed.get("province", "41", "/api/v1/provinces/41/dropout-handovers")
        return any(i["student_number"] == number for i in listed.json()["items"])

    await eventually(waiting, timeout=45, interval=0.2)
    sweep = await fed.post(
        "province",
        "41",
        "/api/v1/provinces/41/operations/dropout-handovers",
        json={"as_of": "2027-01-31"},
    )
    assert sweep.status_code == 200 and sweep.json()["sent"] >= 1

    async def arrived() -> bool:
        path = "/api/v1/provinces/33/counties/330102/hukou-archives"
        kept = await fed.get("province", "33", path, params={"limit": 200})
        return any(i["student_number"] == number for i in kept.json()["items"])

    await eventually(arrived, timeout=45, interval=0.2)


async def test_a_grade_skip_into_the_graduating_year_is_refused_in_zhejiang(
    fed: Federation,
) -> None:
    kid = await registered(fed, ZHEJIANG, grade=5, birth=date(2015, 4, 1))
    skip = await change(fed, kid, "skip_grade", target_grade=6)
    assert (skip["status"], skip["rule"]) == ("rejected", "grade_skip_graduating_year")
    assert "ZJ art. 12" in skip["article"] and "浙江省 rules" in skip["article"]
    assert (await roster(fed, kid))["grade"] == 5


async def test_the_high_school_repeat_cap(fed: Federation) -> None:
    """LS 2(三): repeats of a grade within 2 % over three years; a grade of one allows none,
    and compulsory grades never repeat."""
    senior = await registered(fed, SICHUAN_SENIOR, grade=11, birth=date(2010, 5, 1))
    capped = await change(fed, senior, "repeat_grade", target_grade=10)
    assert (capped["status"], capped["rule"]) == ("rejected", "repeat_cap_exceeded")
    assert "2 % allows 0" in capped["decision_reason"]
    primary = await registered(fed, SICHUAN, grade=3, birth=date(2017, 2, 1))
    compulsory = await change(fed, primary, "repeat_grade", target_grade=2)
    assert compulsory["rule"] == "repeat_not_allowed_compulsory"


async def test_an_officer_s_rejection_reaches_the_school(fed: Federation) -> None:
    kid = await registered(fed, HENAN)
    change_id = await ask(fed, kid, "go_abroad")
    await approve(fed, kid, "reject")
    refused = await outcome(fed, kid, change_id)
    assert (refused["status"], refused["rule"], refused["decision_reason"]) == (
        "rejected",
        "authority_rejected",
        "材料不全",
    )
    assert (await registry(fed, kid))["status"] == "enrolled"


async def test_a_suspension_over_without_resumption_lapses_in_sichuan(fed: Federation) -> None:
    """LS 2(二)3: 休学期满 … 仍未复学 … 学校可以做其他离校处理 — national's sweep does it."""
    kid = await registered(fed, SICHUAN)
    suspended = await change(
        fed,
        kid,
        "suspend",
        ground="illness",
        proofs=LS_ILLNESS,
        on=date(2025, 9, 1),
    )
    assert suspended["outcome"]["suspended_until"] == "2026-09-01"
    sweep = await fed.post(
        "national", "CN", "/api/v1/operations/suspension-sweep", json={"as_of": "2026-09-07"}
    )
    assert sweep.status_code == 200 and sweep.json()["lapsed"] >= 1, sweep.text

    async def lapsed() -> bool:
        return (await roster(fed, kid))["status"] == "other_departure"

    await eventually(lapsed, timeout=45, interval=0.2)
    school = kid["school"]
    listed = await fed.get(
        "school",
        school,
        f"/api/v1/schools/{school}/status-changes",
        params={"student_number": kid["student_number"]},
    )
    assert [i["change"] for i in listed.json()["items"]] == ["lapse", "suspend"]
    assert (await registry(fed, kid))["status"] == "other_departure"
