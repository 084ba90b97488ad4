"""Duplicate admission resolution at national on a real database (SQLite, PostgreSQL): the
request refused or opened with one approval request per authority, the registration moved to
the real school only when both approved, a rejection, a late or foreign decision."""

from __future__ import annotations

import uuid

import pytest

from shared.contracts.duplicates import (
    DuplicateApprovalDecided,
    DuplicateResolutionRequested,
)
from shared.contracts.transfer import ProofRef
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentMessageError
from tests.services.national.builders import (
    HENAN_OTHER_COUNTY,
    OTHER_SCHOOL_SAME_COUNTY,
    SCHOOL,
    NationalDriver,
    enrol,
    of_type,
    transfer_request,
)

REAL = SCHOOL  # county 410102
OTHER = HENAN_OTHER_COUNTY  # county 410105


def requested(number: str, real: str = REAL, other: str = OTHER) -> DuplicateResolutionRequested:
    return DuplicateResolutionRequested(
        resolution_id=uuid.uuid4(),
        student_number=number,
        real_school=real,
        other_school=other,
        registration_id=uuid.uuid4(),
        reason="the student attends here",
        proofs=(ProofRef(index=0, kind="attendance_proof"),),
    )


def school(code: str) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=code)


def county(code: str) -> UnitRef:
    return UnitRef(tier=Tier.COUNTY, code=code)


async def ask(national: NationalDriver, request: DuplicateResolutionRequested) -> list[Envelope]:
    return await national.deliver(request, source=school(request.real_school))


async def decide(
    national: NationalDriver, request: DuplicateResolutionRequested, unit: str, decision: str
) -> list[Envelope]:
    decided = DuplicateApprovalDecided(
        resolution_id=request.resolution_id,
        decision=decision,  # type: ignore[arg-type]
        reason=None if decision == "approve" else "证明不实",
        decided_by="科长",
        decided_unit=f"county:{unit}",
    )
    return await national.deliver(decided, source=county(unit))


async def test_both_approvals_move_the_registration(national: NationalDriver) -> None:
    number = await enrol(national, OTHER, grade=3, name="周一")
    request = requested(number)
    sent = await ask(national, request)
    asked = of_type(sent, "duplicate.approval_requested")
    assert sorted(str(e.target) for e in asked) == ["county:410102", "county:410105"]

    assert await decide(national, request, "410102", "approve") == []
    assert (await national.entry(number)).school_code == OTHER
    done = await decide(national, request, "410105", "approve")

    entry = await national.entry(number)
    assert (entry.school_code, entry.province_code, entry.status) == (REAL, "41", "enrolled")
    decided = of_type(done, "duplicate.resolution_decided")
    assert sorted(str(e.target) for e in decided) == [
        "province:41",
        f"school:{REAL}",
        f"school:{OTHER}",
    ]
    payload = decided[0].payload
    assert (payload["outcome"], payload["other_school"]) == ("resolved", OTHER)
    assert payload["basic"]["grade"] == 3
    # a late second decision changes nothing
    assert await decide(national, request, "410105", "reject") == []


async def test_a_rejection_keeps_the_registration(national: NationalDriver) -> None:
    number = await enrol(national, OTHER, grade=3, name="周二")
    request = requested(number)
    await ask(national, request)
    sent = await decide(national, request, "410105", "reject")
    [answer] = of_type(sent, "duplicate.resolution_decided")
    assert (str(answer.target), answer.payload["outcome"], answer.payload["rule"]) == (
        f"school:{REAL}",
        "rejected",
        "authority_rejected",
    )
    assert (await national.entry(number)).school_code == OTHER


async def test_refused_requests_name_their_rule(national: NationalDriver) -> None:
    here = await enrol(national, REAL, grade=2, name="周三")
    moving = await enrol(national, OTHER, grade=1, name="周四")
    await national.request(transfer_request(moving, OTHER, "4101020003"))
    for number, rule in (
        ("G" + "4" * 18, "unknown_student_number"),
        (here, "not_a_duplicate"),
        (moving, "transfer_in_progress"),
    ):
        [answer] = of_type(await ask(national, requested(number)), "duplicate.resolution_decided")
        assert (answer.payload["outcome"], answer.payload["rule"]) == ("refused", rule)
        assert str(answer.target) == f"school:{REAL}"
    elsewhere = await enrol(national, OTHER, grade=2, name="周八")
    for number, rule in ((elsewhere, "other_school_mismatch"),):
        wrong = requested(number, other="4101020003")
        [answer] = of_type(await ask(national, wrong), "duplicate.resolution_decided")
        assert (answer.payload["outcome"], answer.payload["rule"]) == ("refused", rule)
        assert str(answer.target) == f"school:{REAL}"


async def test_one_authority_for_both_schools_decides_once(national: NationalDriver) -> None:
    number = await enrol(national, OTHER_SCHOOL_SAME_COUNTY, grade=7, name="周五")
    request = requested(number, other=OTHER_SCHOOL_SAME_COUNTY)
    [asked] = of_type(await ask(national, request), "duplicate.approval_requested")
    assert asked.payload["roles"] == ["real_authority", "other_authority"]
    done = await decide(national, request, "410102", "approve")
    assert of_type(done, "duplicate.resolution_decided")[0].payload["outcome"] == "resolved"


async def test_an_opened_resolution_blocks_a_second_one(national: NationalDriver) -> None:
    number = await enrol(national, OTHER, grade=3, name="周六")
    await ask(national, requested(number))
    [answer] = of_type(await ask(national, requested(number)), "duplicate.resolution_decided")
    assert answer.payload["rule"] == "duplicate_resolution_in_progress"


async def test_who_may_ask_and_decide(national: NationalDriver) -> None:
    number = await enrol(national, OTHER, grade=3, name="周七")
    request = requested(number)
    with pytest.raises(PermanentMessageError):  # another school cannot ask for the real one
        await national.deliver(request, source=school(OTHER))
    await ask(national, request)
    with pytest.raises(PermanentMessageError):  # a county with no say
        await decide(national, request, "330102", "approve")
