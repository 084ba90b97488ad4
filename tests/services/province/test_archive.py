"""The province archive through registration and key-field changes, on SQLite and PostgreSQL.

Messages are applied through the province service's own handlers (as its consumer would) on a
database migrated with its own revisions; the archive is read back through its HTTP API.
"""

from __future__ import annotations

import random
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from services.province.adapters.orm import RegistrationOutcomeRecord
from shared.contracts.decider import Decider
from shared.contracts.registration import (
    KeyFieldChangeDecided,
    KeyFieldChanges,
    RegistrationOutcome,
)
from shared.contracts.students import IdType
from shared.contracts.transfer import ProofRef
from shared.federation.config import NATIONAL, Tier
from shared.messaging.errors import PermanentMessageError
from shared.resident_id import generate_resident_id, student_number_for, temporary_student_number
from tests.components.approval_desk.support import (
    HANGZHOU_SCHOOL,
    PRIMARY,
    basic,
    batch,
    deliver,
    unit,
)
from tests.services.province.support import HENAN, Province


def issued(item: Any, number: str | None = None) -> RegistrationOutcome:
    number = number or student_number_for(item.basic.id_number)
    return RegistrationOutcome(
        registration_id=item.registration_id, outcome="issued", student_number=number
    )


def rejected(item: Any) -> RegistrationOutcome:
    return RegistrationOutcome(
        registration_id=item.registration_id,
        outcome="rejected",
        reason="duplicate",
        rule="duplicate_registration",
    )


def held(item: Any) -> RegistrationOutcome:
    return RegistrationOutcome(registration_id=item.registration_id, outcome="held_for_review")


async def test_a_filed_archive_is_pending_until_the_number_is_issued(province: Province) -> None:
    submitted = batch(size=2)
    await province.file(submitted)
    ids = [str(i.registration_id) for i in submitted.items]
    assert await province.stored() == dict.fromkeys(ids, "pending")

    first = submitted.items[0]
    await province.decide(submitted, issued(first))

    response = await province.archive(student_number_for(first.basic.id_number or ""))
    assert response.status_code == 200, response.text
    archive = response.json()
    assert (archive["status"], archive["school_code"]) == ("active", PRIMARY)
    assert archive["extended"]["guardians"][0]["relation"] == "mother"
    assert archive["basic"]["name"] == first.basic.name
    [entry] = archive["entries"]
    assert (entry["section"], entry["kind"]) == ("basic", "registered")
    assert entry["data"]["decided_by"] == "national:CN"
    assert (await province.stored())[ids[1]] == "pending"


async def test_a_rejected_registration_leaves_no_extended_info(province: Province) -> None:
    submitted = batch(size=2)
    await province.file(submitted)
    await province.decide(submitted, rejected(submitted.items[0]), held(submitted.items[1]))

    assert await province.stored() == {str(submitted.items[1].registration_id): "pending"}


async def test_held_for_review_stays_pending_until_issued(province: Province) -> None:
    submitted = batch(size=1)
    [item] = submitted.items
    await province.file(submitted)
    await province.decide(submitted, held(item))
    assert set((await province.stored()).values()) == {"pending"}

    await province.decide(submitted, issued(item))
    assert set((await province.stored()).values()) == {"active"}
    # a late "held" (retries reorder deliveries) never turns an archive back
    await province.decide(submitted, held(item))
    assert set((await province.stored()).values()) == {"active"}


async def test_outcomes_arriving_before_the_filing_are_applied_on_filing(
    province: Province,
) -> None:
    submitted = batch(size=2)
    kept, dropped = submitted.items
    await province.decide(submitted, issued(kept), rejected(dropped))
    assert await province.stored() == {}

    await province.file(submitted)

    assert await province.stored() == {str(kept.registration_id): "active"}
    response = await province.archive(student_number_for(kept.basic.id_number or ""))
    assert [e["kind"] for e in response.json()["entries"]] == ["registered"]
    async with province.runtime.sessions() as session:
        count = select(func.count()).select_from(RegistrationOutcomeRecord)
        assert (await session.execute(count)).scalar_one() == 2


async def test_a_repeated_filing_or_outcome_changes_nothing(province: Province) -> None:
    submitted = batch(size=1)
    [item] = submitted.items
    await province.file(submitted)
    await province.decide(submitted, issued(item))
    await province.file(submitted)
    await province.decide(submitted, issued(item))

    response = await province.archive(student_number_for(item.basic.id_number or ""))
    assert len(response.json()["entries"]) == 1
    assert await province.stored() == {str(item.registration_id): "active"}


async def test_a_filing_from_another_province_is_dead_lettered(province: Province) -> None:
    submitted = batch(HANGZHOU_SCHOOL)
    with pytest.raises(PermanentMessageError):
        await province.file(submitted)


async def test_an_archive_is_read_only_in_its_province(province: Province) -> None:
    submitted = batch(size=1)
    [item] = submitted.items
    await province.file(submitted)
    await province.decide(submitted, issued(item))
    number = student_number_for(item.basic.id_number or "")

    assert (await province.archive(number, "33")).status_code == 404  # not hosted here
    assert (await province.archive("G" + "0" * 18)).status_code == 404
    assert (await province.archive(number)).status_code == 200


async def test_an_applied_key_field_change_rekeys_the_archive(province: Province) -> None:
    """An L number becomes a G number when the resident ID is recorded (N2013 art. 5)."""
    birth = date(2018, 3, 1)
    person = basic(id_type=IdType.NONE, birth=birth, name="阿依")
    submitted = batch(PRIMARY, person)
    [item] = submitted.items
    temporary = temporary_student_number(birth, "male", PRIMARY, 1)
    await province.file(submitted)
    await province.decide(submitted, issued(item, temporary))

    resident_id = generate_resident_id(random.Random(5), "513401", birth, "male")
    changes = KeyFieldChanges(name="阿依木", id_type=IdType.RESIDENT_ID, id_number=resident_id)
    decided = KeyFieldChangeDecided(
        change_id=uuid.uuid4(),
        school_code=PRIMARY,
        student_number=temporary,
        outcome="applied",
        new_student_number=student_number_for(resident_id),
        changes=changes,
        decided_by="national:CN",
    )
    await deliver(province.runtime, decided, source=NATIONAL, target=HENAN)
    await deliver(province.runtime, decided, source=NATIONAL, target=HENAN)  # a duplicate

    assert (await province.archive(temporary)).status_code == 404
    archive = (await province.archive(student_number_for(resident_id))).json()
    assert archive["basic"]["name"] == "阿依木"
    assert archive["basic"]["id_number"] == resident_id
    _registered, change = archive["entries"]
    assert (change["section"], change["kind"]) == ("basic", "key_field_change")
    assert change["data"]["before"] == {"name": "阿依", "id_type": "none", "id_number": None}
    assert change["data"]["previous_student_number"] == temporary
    assert change["data"]["student_number"] == student_number_for(resident_id)


async def test_an_applied_key_field_change_links_its_proofs_in_section_2(
    province: Province,
) -> None:
    """N2013 arts. 7(二), 13: the proofs stay at the school; section 2 says where, once."""
    submitted = batch(size=1)
    [item] = submitted.items
    number = student_number_for(item.basic.id_number or "")
    await province.file(submitted)
    await province.decide(submitted, issued(item))
    change_id = uuid.uuid4()
    decided = KeyFieldChangeDecided(
        change_id=change_id,
        school_code=PRIMARY,
        student_number=number,
        outcome="applied",
        changes=KeyFieldChanges(name="新名"),
        decided_by="national:CN",
        proofs=(ProofRef(index=0, kind="hukou_proof"), ProofRef(index=1, kind="application")),
    )
    await deliver(province.runtime, decided, source=NATIONAL, target=HENAN)
    await deliver(province.runtime, decided, source=NATIONAL, target=HENAN)  # a duplicate

    entries = (await province.archive(number)).json()["entries"]
    [proofs] = [e for e in entries if e["kind"] == "key_field_change_proofs"]
    assert proofs["section"] == "proofs"
    assert proofs["data"]["fields"] == ["name"]
    path = f"/api/v1/key-field-changes/{change_id}/proofs"
    assert [
        (p["kind"], p["url"].endswith(f"{path}/{p['index']}")) for p in proofs["data"]["proofs"]
    ] == [
        ("hukou_proof", True),
        ("application", True),
    ]
    assert all(p["url"].startswith("http://") for p in proofs["data"]["proofs"])  # the school's


async def test_a_rejected_key_field_change_leaves_the_archive_alone(province: Province) -> None:
    submitted = batch(size=1)
    [item] = submitted.items
    number = student_number_for(item.basic.id_number or "")
    await province.file(submitted)
    await province.decide(submitted, issued(item))
    decided = KeyFieldChangeDecided(
        change_id=uuid.uuid4(),
        school_code=PRIMARY,
        student_number=number,
        outcome="rejected",
        changes=KeyFieldChanges(name="新名"),
        reason="proof unreadable",
        rule="authority_rejected",
        decided_by="county:410102",
    )
    await deliver(province.runtime, decided, source=unit(Tier.COUNTY, "410102"), target=HENAN)

    archive = (await province.archive(number)).json()
    assert archive["basic"]["name"] == item.basic.name
    assert len(archive["entries"]) == 1


async def test_the_authority_applies_a_hukou_place_change_at_the_province_only(
    province: Province,
) -> None:
    """A province-held key field (decision 0043): the county's approval is the decision; the
    archive's extended info changes and sections 1 and 2 record it. The county may not apply
    a basic field in national's place."""
    submitted = batch(size=1)
    [item] = submitted.items
    number = student_number_for(item.basic.id_number or "")
    await province.file(submitted)
    await province.decide(submitted, issued(item))
    county = unit(Tier.COUNTY, "410102")
    decided = KeyFieldChangeDecided(
        change_id=uuid.uuid4(),
        school_code=PRIMARY,
        student_number=number,
        outcome="applied",
        changes=KeyFieldChanges(),
        hukou_region="410105",
        decided_by="county:410102",
        decider=Decider(account="wang.kezhang", unit="county:410102"),
        proofs=(ProofRef(index=0, kind="hukou_proof"),),
    )
    await deliver(province.runtime, decided, source=county, target=HENAN)
    await deliver(province.runtime, decided, source=county, target=HENAN)  # a duplicate

    archive = (await province.archive(number)).json()
    assert archive["extended"]["hukou_region"] == "410105"
    assert archive["basic"]["name"] == item.basic.name
    [change] = [e for e in archive["entries"] if e["kind"] == "key_field_change"]
    assert change["section"] == "basic"
    assert change["data"]["after"] == {"hukou_region": "410105"}
    assert (change["data"]["decided_by"], change["data"]["decided_unit"]) == (
        "wang.kezhang",
        "county:410102",
    )
    [proofs] = [e for e in archive["entries"] if e["kind"] == "key_field_change_proofs"]
    assert proofs["data"]["fields"] == ["hukou_region"]

    national_part = decided.model_copy(
        update={"change_id": uuid.uuid4(), "changes": KeyFieldChanges(name="新名")}
    )
    with pytest.raises(PermanentMessageError):
        await deliver(province.runtime, national_part, source=county, target=HENAN)
