"""Liangshan's rules (LS) across the federation: separate processes, the real broker, SQLite
and PostgreSQL (decision 0034). They apply at a school of prefecture 5134, not at one of
Chengdu (Sichuan outside it), and the prefecture (city:5134, served by the province-51
instance) gets what its schools file with it."""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.conftest import Federation
from tests.integration.registration_support import decide, open_task
from tests.integration.status_support import LS_ILLNESS, ask, change, registered

pytestmark = pytest.mark.federation

XICHANG = "5134010001"  # 凉山州西昌市 (LS applies)
CHENGDU = "5101040001"  # 成都市锦江区 (Sichuan outside Liangshan: LS does not)


async def test_liangshans_rules_apply_at_a_liangshan_school_and_not_at_a_chengdu_school(
    fed: Federation,
) -> None:
    """LS 2(二)1: a suspension for illness needs the hospital's certificate — in Liangshan."""
    chengdu = await registered(fed, CHENGDU)
    suspended = await change(fed, chengdu, "suspend", ground="illness")
    assert suspended["status"] == "applied", suspended

    xichang = await registered(fed, XICHANG)
    refused = await fed.post(
        "school",
        XICHANG,
        f"/api/v1/schools/{XICHANG}/status-changes",
        json={
            "student_number": xichang["student_number"],
            "change": "suspend",
            "ground": "illness",
            "effective_on": "2026-09-01",
            "reason": "监护人书面申请",
            "proofs": [],
        },
        headers={"Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["rule"], problem["message_zh"]) == (
        "proof_required",
        "该变动须附证明材料。（凉山 第二部分（二）1）",  # the article of the ground's proofs
    )
    assert "hospital_certificate" in problem["message"] and problem["article"] == "LS 2(二)1"


async def test_a_graduating_year_suspension_is_filed_with_the_prefecture(fed: Federation) -> None:
    """LS 2(二)5: 毕业年级学生办理休学…报州教育局备案审核 — the city's officer finds the
    filing on its desk (hosted by the province-51 instance) and marks it reviewed."""
    kid = await registered(fed, XICHANG, grade=6, birth=date(2014, 3, 1))
    change_id = await ask(fed, kid, "suspend", ground="illness", proofs=LS_ILLNESS)
    task = await open_task(fed, "county", "513401", XICHANG, "status_change")
    assert (await decide(fed, "county", "513401", task["task_id"], "approve")).status_code == 200

    filing = await open_task(fed, "city", "5134", XICHANG, "filing")
    assert filing["authority_unit"] == "city:5134"
    assert filing["item_count"] == 1
    read = await fed.get("city", "5134", f"/api/v1/tasks/{filing['task_id']}")
    assert read.status_code == 200, read.text
    filed = read.json()["filing"]
    assert (filed["filing"], filed["subject_id"], filed["article"]) == (
        "graduating_suspension",
        change_id,
        "LS 2(二)5",
    )
    assert filed["student_numbers"] == [kid["student_number"]]
    answer = await decide(fed, "city", "5134", filing["task_id"], "approve", "已审核备案")
    assert answer.status_code == 200, answer.text
