"""The archive through status changes (SQLite and PostgreSQL): each applied change lands in
section 1 with its proofs in section 2; a migrant dropout's archive goes to the hukou county
at the end of the term, through the province of that county."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from shared.contracts.registration import ArchiveFiled, ArchiveItem
from shared.contracts.status import StatusChangeDecided, StatusChangeFacts
from shared.contracts.students import ExtendedInfo
from shared.contracts.transfer import ProofRef
from shared.federation.config import NATIONAL
from shared.resident_id import student_number_for
from tests.components.approval_desk.support import PRIMARY, apply, batch, deliver, staged
from tests.services.province.support import HENAN, SCHOOL, Province
from tests.services.province.test_archive import issued


async def active_student(province: Province, extended: ExtendedInfo | None = None) -> str:
    submitted = batch(size=1)
    [item] = submitted.items
    filing = ArchiveFiled(
        batch_id=submitted.batch_id,
        school_code=PRIMARY,
        items=(
            ArchiveItem(
                registration_id=item.registration_id,
                basic=item.basic,
                extended=extended or ExtendedInfo(hukou_region="410102"),
            ),
        ),
    )
    await deliver(province.runtime, filing, source=SCHOOL, target=HENAN)
    await province.decide(submitted, issued(item))
    return student_number_for(item.basic.id_number or "")


def applied(number: str, change: str, on: date, **fields: Any) -> StatusChangeDecided:
    return StatusChangeDecided(
        change_id=uuid.uuid4(),
        school_code=PRIMARY,
        student_number=number,
        facts=StatusChangeFacts(change=change, effective_on=on),  # type: ignore[arg-type]
        outcome="applied",
        decided_by="national:CN",
        article="N2013 art. 22",
        **fields,
    )


async def test_an_applied_change_is_recorded_with_its_proofs(province: Province) -> None:
    number = await active_student(province)
    change = applied(
        number,
        "suspend",
        date(2026, 9, 1),
        from_status="enrolled",
        to_status="suspended",
        from_grade=1,
        to_grade=1,
        suspended_until=date(2027, 9, 1),
        proofs=(ProofRef(index=0, kind="hospital_certificate"),),
    )
    await deliver(province.runtime, change, source=NATIONAL, target=HENAN)
    await deliver(province.runtime, change, source=NATIONAL, target=HENAN)  # once only
    entries = (await province.archive(number)).json()["entries"]
    recorded = [e for e in entries if e["reference"] == str(change.change_id)]
    assert [(e["section"], e["kind"]) for e in recorded] == [
        ("basic", "status_change"),
        ("proofs", "status_change_proofs"),
    ]
    assert recorded[0]["data"]["to_status"] == "suspended"
    assert recorded[0]["data"]["suspended_until"] == "2027-09-01"
    assert recorded[0]["occurred_on"] == "2026-09-01"
    [proof] = recorded[1]["data"]["proofs"]
    assert proof["kind"] == "hospital_certificate"
    assert proof["url"].endswith(f"/api/v1/status-changes/{change.change_id}/proofs/0")


async def test_a_new_grade_follows_and_a_refusal_changes_nothing(province: Province) -> None:
    number = await active_student(province)
    skip = applied(number, "skip_grade", date(2026, 9, 1), from_grade=1, to_grade=2,
                   from_status="enrolled", to_status="enrolled")  # fmt: skip
    await deliver(province.runtime, skip, source=NATIONAL, target=HENAN)
    assert (await province.archive(number)).json()["basic"]["grade"] == 2
    refused = skip.model_copy(
        update={"change_id": uuid.uuid4(), "outcome": "rejected", "to_grade": None}
    )
    await deliver(province.runtime, refused, source=NATIONAL, target=HENAN)
    entries = (await province.archive(number)).json()["entries"]
    assert str(refused.change_id) not in {e["reference"] for e in entries}


async def test_a_migrant_dropout_s_archive_goes_to_the_hukou_county_at_term_end(
    province: Province,
) -> None:
    """N2013 art. 22: 每学期末将学生学籍档案转交其户籍所在地县教育行政部门."""
    migrant = ExtendedInfo(hukou_region="410105", migrant=True)
    number = await active_student(province, migrant)
    local = await active_student(province)  # hukou here: nothing to hand over
    for student in (number, local):
        dropout = applied(student, "report_dropout", date(2026, 9, 1), from_status="enrolled",
                          to_status="dropout", from_grade=1, to_grade=1)  # fmt: skip
        await deliver(province.runtime, dropout, source=NATIONAL, target=HENAN)
    waiting = (await province.client.get("/api/v1/provinces/41/dropout-handovers")).json()
    assert [(i["student_number"], i["state"], i["due_on"]) for i in waiting["items"]] == [
        (number, "waiting", "2027-01-31")  # the autumn term's end
    ]

    early = await province.client.post(
        "/api/v1/provinces/41/operations/dropout-handovers", json={"as_of": "2026-12-31"}
    )
    assert early.json()["sent"] == 0
    sweep = await province.client.post(
        "/api/v1/provinces/41/operations/dropout-handovers", json={"as_of": "2027-01-31"}
    )
    assert (sweep.status_code, sweep.json()["sent"]) == (200, 1)
    [handed] = await staged(province.runtime, "dropout.archive_handed_over")
    assert (str(handed.target), handed.payload["hukou_county"]) == ("province:41", "410105")
    assert handed.payload["archive"]["extended"]["migrant"] is True
    again = await province.client.post(
        "/api/v1/provinces/41/operations/dropout-handovers", json={"as_of": "2027-02-01"}
    )
    assert again.json()["sent"] == 0  # each archive once

    # The hukou county's province (here the same one) keeps it for the county.
    await apply(province.runtime, handed)
    await apply(province.runtime, handed)
    kept = (await province.client.get("/api/v1/provinces/41/counties/410105/hukou-archives")).json()
    assert [(i["student_number"], i["from_school"]) for i in kept["items"]] == [(number, PRIMARY)]
    entries = (await province.archive(number)).json()["entries"]
    assert "sent_to_hukou_county" in {e["kind"] for e in entries}
