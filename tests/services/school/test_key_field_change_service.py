"""Key-field changes: checked at the school, sent with proof, applied when decided."""

from __future__ import annotations

import base64
import uuid
from datetime import date
from typing import Any

import pytest

from services.school.entrypoints import messages
from services.school.service_layer import key_field_change, registration, roster
from services.school.service_layer.errors import InvalidInput, PayloadTooLarge
from shared.contracts.registration import (
    KeyFieldChangeDecided,
    KeyFieldChanges,
    ProofDocument,
    RegistrationOutcome,
)
from shared.db.engine import SessionFactory
from shared.federation.config import Tier, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.testing import InProcessDelivery
from shared.messaging.uow import UnitOfWork
from shared.resident_id import student_number_for, temporary_student_number
from shared.rules import ALWAYS_KEY_FIELDS, KEY_FIELD_NAMES
from shared.runtime.errors import Conflict, NotFound
from tests.services.school.conftest import (
    EXTENDED,
    FEDERATION,
    PRIMARY,
    TODAY,
    basic,
    decided,
    deliver,
    resident_id,
    school_ref,
    staged,
)

PROOF = ProofDocument(
    kind="hukou_proof", filename="hukou.pdf", content_base64=base64.b64encode(b"%PDF-1.4").decode()
)


async def enrolled(sessions: SessionFactory, number: str | None = None, **overrides: Any) -> str:
    """Register and approve a student; return the student number."""
    info = basic(**overrides) if number is None else basic(id_number=number, **overrides)
    async with UnitOfWork(sessions) as uow:
        registration_id = await registration.register_student(
            uow, PRIMARY, info, EXTENDED, today=TODAY
        )
        await uow.commit()
    if info.id_type == "resident_id":
        student_number = student_number_for(info.id_number or "")
    else:
        student_number = temporary_student_number(info.birth_date, info.gender, PRIMARY.code, 1)
    outcome = RegistrationOutcome(
        registration_id=registration_id, outcome="issued", student_number=student_number
    )
    await deliver(sessions, decided(outcome))
    return student_number


async def submit(
    sessions: SessionFactory,
    student_number: str,
    proofs: tuple[ProofDocument, ...] = (PROOF,),
    key_fields: tuple[str, ...] = KEY_FIELD_NAMES,
    hukou_region: str | None = None,
    **changes: Any,
) -> uuid.UUID:
    async with UnitOfWork(sessions) as uow:
        result = await key_field_change.submit_change(
            uow,
            PRIMARY,
            student_number,
            KeyFieldChanges(**changes),
            "户口本姓名更正",
            proofs,
            today=TODAY,
            max_proof_bytes=1024,
            key_fields=key_fields,
            hukou_region=hukou_region,
        )
        await uow.commit()
        return result


def decision(
    change_id: uuid.UUID, student_number: str, outcome: str = "applied", **fields: Any
) -> KeyFieldChangeDecided:
    changes = fields.pop("changes", KeyFieldChanges(name="张三丰"))
    return KeyFieldChangeDecided(
        change_id=change_id,
        school_code=PRIMARY.code,
        student_number=student_number,
        outcome=outcome,
        changes=changes,
        decided_by="national:CN",
        **fields,
    )


async def state(sessions: SessionFactory, change_id: uuid.UUID) -> str:
    async with sessions() as session:
        row = await key_field_change.get_change(session, change_id, lambda _code: True)
    return str(row.status)


async def test_a_name_change_goes_to_the_authority_with_its_proof(
    sessions: SessionFactory,
) -> None:
    number = await enrolled(sessions)
    change_id = await submit(sessions, number, name="张三丰")

    message = (await staged(sessions))[-1]
    assert (message.type, str(message.target)) == ("key_field_change.submitted", "county:410102")
    changes = {name: value for name, value in message.payload["changes"].items() if value}
    assert changes == {"name": "张三丰"}
    assert message.payload["proofs"][0]["content_base64"] == PROOF.content_base64
    assert await state(sessions, change_id) == "submitted"


async def test_an_applied_change_rewrites_the_roster_entry(sessions: SessionFactory) -> None:
    number = await enrolled(sessions)
    change_id = await submit(sessions, number, name="张三丰")
    await deliver(sessions, decision(change_id, number))
    await deliver(sessions, decision(change_id, number, outcome="rejected"))  # late: ignored

    assert await state(sessions, change_id) == "applied"
    async with sessions() as session:
        assert (await roster.get_student(session, PRIMARY.code, number)).name == "张三丰"


async def test_an_l_number_becomes_a_g_number_when_a_resident_id_is_recorded(
    sessions: SessionFactory,
) -> None:
    number = await enrolled(sessions, id_type="none", id_number=None)
    assert number.startswith("L")
    new_id = resident_id()
    change_id = await submit(sessions, number, id_type="resident_id", id_number=new_id)
    changes = KeyFieldChanges(id_type="resident_id", id_number=new_id)
    await deliver(sessions, decision(change_id, number, changes=changes))

    async with sessions() as session:
        student = await roster.get_student(session, PRIMARY.code, "G" + new_id)
        change = await key_field_change.get_change(session, change_id, lambda _code: True)
        with pytest.raises(NotFound):
            await roster.get_student(session, PRIMARY.code, number)
    assert (student.id_type, student.id_number) == ("resident_id", new_id)
    assert change.new_student_number == "G" + new_id


async def test_a_rejected_change_leaves_the_roster_alone(sessions: SessionFactory) -> None:
    number = await enrolled(sessions)
    change_id = await submit(sessions, number, name="张三丰")
    await deliver(
        sessions,
        decision(change_id, number, outcome="rejected", reason="证明材料不全", rule="proof"),
    )
    assert await state(sessions, change_id) == "rejected"
    async with sessions() as session:
        assert (await roster.get_student(session, PRIMARY.code, number)).name == "张三"


async def test_a_new_resident_id_must_agree_with_the_recorded_birth_date(
    sessions: SessionFactory,
) -> None:
    number = await enrolled(sessions)
    other = resident_id(birth=date(2018, 3, 8))
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, number, id_number=other)
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("changes.id_number", "birth_date_mismatch")
    ]
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, number, id_number=other[:-1] + ("1" if other[-1] != "1" else "2"))
    assert refused.value.violations[0].rule.startswith("resident_id.")


async def test_refusals(sessions: SessionFactory) -> None:
    number = await enrolled(sessions)
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, number, name="张三")  # the current name: nothing changes
    assert refused.value.violations[0].rule == "no_change"
    with pytest.raises(NotFound):
        await submit(sessions, "G" + resident_id(), name="李四")
    bad = ProofDocument(kind="hukou_proof", filename="a.pdf", content_base64="not base64!")
    with pytest.raises(InvalidInput):
        await submit(sessions, number, (bad,), name="李四")
    big = ProofDocument(
        kind="hukou_proof", filename="a.pdf", content_base64=base64.b64encode(b"x" * 2048).decode()
    )
    with pytest.raises(PayloadTooLarge):
        await submit(sessions, number, (big,), name="李四")
    await submit(sessions, number, name="李四")
    with pytest.raises(Conflict):
        await submit(sessions, number, name="王五")


async def test_a_decision_for_an_unknown_change_never_applies(sessions: SessionFactory) -> None:
    with pytest.raises(PermanentMessageError):
        await deliver(sessions, decision(uuid.uuid4(), "G" + resident_id()))


async def test_gender_birth_date_nationality_and_ethnicity_change_where_the_province_lists_them(
    sessions: SessionFactory,
) -> None:
    """Decision 0043: the basic fields beyond name and document go the same way, checked at
    the school; an applied change rewrites them on the roster."""
    number = await enrolled(sessions, id_type="passport", id_number="E12345678")
    change_id = await submit(
        sessions,
        number,
        birth_date=date(2019, 2, 2),
        gender="female",
        nationality="fra",
        ethnicity="回族",
    )
    message = (await staged(sessions))[-1]
    sent = {name: value for name, value in message.payload["changes"].items() if value}
    assert sent == {
        "birth_date": "2019-02-02",
        "gender": "female",
        "nationality": "FRA",
        "ethnicity": "回族",
    }
    changes = KeyFieldChanges.model_validate(message.payload["changes"])
    await deliver(sessions, decision(change_id, number, changes=changes))
    async with sessions() as session:
        student = await roster.get_student(session, PRIMARY.code, number)
    assert (student.birth_date, student.gender, student.nationality, student.ethnicity) == (
        date(2019, 2, 2),
        "female",
        "FRA",
        "回族",
    )


async def test_a_field_the_province_does_not_list_is_refused(sessions: SessionFactory) -> None:
    number = await enrolled(sessions, id_type="passport", id_number="E22345678")
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, number, key_fields=ALWAYS_KEY_FIELDS, ethnicity="回族", name="李四")
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("changes.ethnicity", "not_a_key_field")
    ]


async def test_a_resident_id_holder_s_birth_date_changes_with_the_id(
    sessions: SessionFactory,
) -> None:
    """A resident ID encodes birth date and gender: changing one alone is refused."""
    number = await enrolled(sessions)
    with pytest.raises(InvalidInput) as refused:
        await submit(sessions, number, birth_date=date(2018, 3, 8))
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("changes", "birth_date_mismatch")
    ]
    other = resident_id(birth=date(2018, 3, 8))
    await submit(sessions, number, birth_date=date(2018, 3, 8), id_number=other)


async def test_a_hukou_place_change_goes_alone_where_the_province_lists_it(
    sessions: SessionFactory,
) -> None:
    """Decision 0043: a province-held key field; the county's approval closes the change."""
    number = await enrolled(sessions)
    with pytest.raises(InvalidInput) as unlisted:
        await submit(sessions, number, hukou_region="410105")
    assert [(v.field, v.rule) for v in unlisted.value.violations] == [
        ("hukou_region", "not_a_key_field")
    ]
    listed = (*KEY_FIELD_NAMES, "hukou_place")
    with pytest.raises(InvalidInput) as mixed:
        await submit(sessions, number, key_fields=listed, hukou_region="410105", name="张三丰")
    assert [v.rule for v in mixed.value.violations] == ["hukou_place_alone"]

    change_id = await submit(sessions, number, key_fields=listed, hukou_region="410105")
    message = (await staged(sessions))[-1]
    assert (message.type, message.payload["hukou_region"]) == (
        "key_field_change.submitted",
        "410105",
    )
    handlers = HandlerRegistry()
    messages.register_decisions(handlers, FEDERATION)
    applied = decision(change_id, number, changes=KeyFieldChanges(), hukou_region="410105")
    county = UnitRef(tier=Tier.COUNTY, code="410102")
    await InProcessDelivery(sessions, handlers).deliver(applied, source=county, target=school_ref())
    assert await state(sessions, change_id) == "applied"
    async with sessions() as session:
        assert (await roster.get_student(session, PRIMARY.code, number)).name != "张三丰"
