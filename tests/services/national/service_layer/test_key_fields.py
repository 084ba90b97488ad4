"""Key-field changes against a real national database: re-dedup, apply, L → G upgrade."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from services.national.adapters.orm import RegistryEntry, SupersededNumber
from services.national.adapters.repository import NationalRepository
from services.national.service_layer import registry
from shared.contracts.students import IdType
from shared.contracts.transfer import ProofRef
from tests.services.national.builders import (
    ZHEJIANG_SCHOOL,
    NationalDriver,
    basic,
    batch,
    key_change,
    outcomes_of,
    resident_id,
    targets,
)

BORN = date(2018, 3, 14)


async def register(
    national: NationalDriver, *infos: object, school: str = "4101020001"
) -> list[str]:
    envelopes = await national.deliver(batch(*infos, school=school))  # type: ignore[arg-type]
    return [o["student_number"] for o in outcomes_of(envelopes[0])]


async def test_recording_a_resident_id_upgrades_the_l_number_on_the_same_entry(
    national: NationalDriver,
) -> None:
    [l_number] = await register(national, basic("王芳", "female", BORN, id_type=IdType.NONE))
    async with national.sessions() as session:
        entry_id = (await session.scalars(select(RegistryEntry.entry_id))).one()
    new_id = resident_id(BORN, "female")

    [to_school, to_province] = await national.deliver(
        key_change(l_number, id_type=IdType.RESIDENT_ID, id_number=new_id)
    )

    assert (str(to_school.target), str(to_province.target)) == ("school:4101020001", "province:41")
    decided = to_school.payload
    assert decided["outcome"] == "applied" and decided["student_number"] == l_number
    assert decided["new_student_number"] == "G" + new_id
    async with national.sessions() as session:
        entry = (await session.scalars(select(RegistryEntry))).one()
        old = (await session.scalars(select(SupersededNumber))).one()
        found = await registry.look_up(NationalRepository(session), l_number)
    assert (entry.entry_id, entry.student_number, entry.id_number) == (
        entry_id,
        "G" + new_id,
        new_id,
    )
    assert (old.student_number, old.entry_id) == (l_number, entry_id)
    assert found.superseded and found.entry.student_number == "G" + new_id


async def test_an_old_l_number_can_still_name_the_student_in_a_later_change(
    national: NationalDriver,
) -> None:
    [l_number] = await register(national, basic("王芳", "female", BORN, id_type=IdType.NONE))
    new_id = resident_id(BORN, "female")
    await national.deliver(key_change(l_number, id_type=IdType.RESIDENT_ID, id_number=new_id))
    [sent, _] = await national.deliver(key_change(l_number, name="王芳芳"))
    assert sent.payload["outcome"] == "applied" and sent.payload["new_student_number"] is None


async def test_a_new_document_registered_to_another_student_is_refused_naming_its_place(
    national: NationalDriver,
) -> None:
    [taken] = await register(national, basic("李娜", "female", BORN), school=ZHEJIANG_SCHOOL)
    [mine] = await register(national, basic("王芳", "female", BORN, id_type=IdType.NONE))

    [sent, _] = await national.deliver(
        key_change(mine, id_type=IdType.RESIDENT_ID, id_number=taken[1:])
    )

    assert sent.payload["outcome"] == "rejected"
    assert sent.payload["rule"] == "duplicate_registration"
    assert sent.payload["reason"] == "already registered at school 3301020001 in province 33"
    async with national.sessions() as session:
        entry = (
            await session.scalars(select(RegistryEntry).where(RegistryEntry.student_number == mine))
        ).one()
    assert entry.id_type == "none"


async def test_a_new_name_resembling_another_student_is_refused(national: NationalDriver) -> None:
    await register(national, basic("李娜", "female", BORN), school=ZHEJIANG_SCHOOL)
    [mine] = await register(national, basic("王芳", "female", BORN))
    [sent, _] = await national.deliver(key_change(mine, name="李 娜"))
    assert sent.payload["outcome"] == "rejected"
    assert sent.payload["rule"] == "suspect_same_name_gender_birth"
    assert "school 3301020001 in province 33" in sent.payload["reason"]


async def test_a_name_change_is_applied_and_keeps_the_number(national: NationalDriver) -> None:
    [mine] = await register(national, basic("王芳", "female", BORN))
    proofs = (ProofRef(index=0, kind="hukou_proof"),)
    envelopes = await national.deliver(
        key_change(mine, name="王芳菲").model_copy(update={"proofs": proofs})
    )
    assert targets(envelopes) == ["school:4101020001", "province:41"]
    assert envelopes[0].payload["outcome"] == "applied"
    # the proofs' references pass on to the archive's section 2 (decision 0043)
    assert [e.payload["proofs"] for e in envelopes] == [[{"index": 0, "kind": "hukou_proof"}]] * 2
    async with national.sessions() as session:
        found = await registry.look_up(NationalRepository(session), mine)
    assert found.entry.name == "王芳菲" and not found.superseded


async def test_unknown_numbers_and_other_schools_students_are_refused(
    national: NationalDriver,
) -> None:
    [mine] = await register(national, basic("王芳", "female", BORN))
    [unknown, _] = await national.deliver(key_change("G" + resident_id(BORN, "male"), name="x"))
    [elsewhere, _] = await national.deliver(key_change(mine, ZHEJIANG_SCHOOL, name="x"))
    assert unknown.payload["rule"] == "unknown_student_number"
    assert elsewhere.payload["rule"] == "not_registered_at_school"
