"""A school merged into another (N2013 art. 9; decision 0043) at national, on SQLite and
PostgreSQL: the registrations move in one UPDATE, each is logged under the operator, the
held ones stay and are reported refused, and the closed school registers no one after."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from services.national.adapters.orm import RegistryChange, RegistryEntry
from shared.contracts.decider import Decider
from shared.contracts.merger import SchoolMerged
from shared.db.testing import recorded_statements
from shared.federation.config import Tier, UnitRef
from shared.messaging.authorization import NotAParty
from tests.services.national.builders import (
    HENAN_OTHER_COUNTY,
    SCHOOL,
    NationalDriver,
    basic,
    batch,
    enrol,
    of_type,
    outcomes_of,
    targets,
    transfer_request,
)

RECEIVING = "4101020003"  # a primary school of the same county (410102)
COUNTY = UnitRef(tier=Tier.COUNTY, code="410102")


def merger(decider_unit: str = "county:410102") -> SchoolMerged:
    return SchoolMerged(
        merger_id=uuid.uuid4(),
        from_school=SCHOOL,
        to_school=RECEIVING,
        kind="merged",
        closed_on=date(2026, 9, 7),
        decider=Decider(account="zhao.yunwei", unit=decider_unit),
    )


async def test_the_registrations_move_and_each_is_logged_under_the_operator(
    national: NationalDriver,
) -> None:
    await national.deliver(batch(basic("张伟"), basic("李娜", "female"), basic("王芳", "female")))
    async with national.sessions() as session:
        numbers = sorted((await session.scalars(select(RegistryEntry.student_number))).all())
        held = await session.get(
            RegistryEntry,
            (
                await session.scalars(
                    select(RegistryEntry.entry_id).where(RegistryEntry.student_number == numbers[0])
                )
            ).one(),
        )
        assert held is not None
        held.active_transfer_id = str(uuid.uuid4())  # a transfer in flight holds this one
        await session.commit()
    sent = merger()

    with recorded_statements(national.sessions.kw["bind"]) as statements:
        envelopes = await national.deliver(sent, source=COUNTY)

    assert sum(s.lstrip().upper().startswith("UPDATE REGISTRY_ENTRY") for s in statements) == 1
    assert targets(envelopes) == [
        "county:410102",
        f"school:{SCHOOL}",
        f"school:{RECEIVING}",
        "province:41",
    ]
    applied = envelopes[0].payload
    assert sorted(s["student_number"] for s in applied["moved"]) == numbers[1:]
    assert applied["refused"] == [
        {"student_number": numbers[0], "rule": "school_merger_held", "article": "N2013 art. 9"}
    ]
    assert (applied["batch"], applied["batches"]) == (1, 1)
    async with national.sessions() as session:
        schools = dict(
            (
                await session.execute(
                    select(RegistryEntry.student_number, RegistryEntry.school_code)
                )
            ).all()
        )
        changes = (
            await session.scalars(
                select(RegistryChange).where(RegistryChange.kind == "school_merged")
            )
        ).all()
    assert schools == {numbers[0]: SCHOOL, numbers[1]: RECEIVING, numbers[2]: RECEIVING}
    assert sorted(
        (c.student_number, c.school_code, c.decided_by, c.decided_unit, c.subject_id)
        for c in changes
    ) == [(n, RECEIVING, "zhao.yunwei", "county:410102", str(sent.merger_id)) for n in numbers[1:]]

    # the closed school registers no one afterwards (a batch approved before the closure)
    late = await national.deliver(batch(basic("赵强")))
    [outcome] = outcomes_of(late[0])
    assert (outcome["outcome"], outcome["rule"]) == ("rejected", "school_closed")
    # nor takes a transfer in
    student = await enrol(national, HENAN_OTHER_COUNTY, name="钱多多")
    answered = await national.request(transfer_request(student, HENAN_OTHER_COUNTY, SCHOOL))
    [refused] = of_type(answered, "transfer.refused")
    assert refused.payload["rule"] == "school_closed"


async def test_only_the_closing_schools_authority_merges_it_in_its_own_name(
    national: NationalDriver,
) -> None:
    with pytest.raises(NotAParty):
        await national.deliver(merger(), source=UnitRef(tier=Tier.COUNTY, code="410105"))
    with pytest.raises(NotAParty):
        await national.deliver(merger("county:410105"), source=COUNTY)
