"""Term re-verification at national on a real database (SQLite, PostgreSQL): a campaign
opened once per term and scope with one message per school, a school's confirmation compared
set-based with the registry (ghosts and mismatches to its authority, nothing when it
matches), and the county's unclaimed list."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from services.national.adapters.orm import RegistryEntry
from services.national.service_layer.statistics import data_quality
from services.national.service_layer.verification import (
    list_campaigns,
    open_campaign,
    read_campaign,
    unclaimed,
)
from shared.contracts.status import StatusChangeApproved, StatusChangeFacts
from shared.contracts.verification import RosterConfirmed, RosterLine
from shared.federation.config import Tier, UnitRef
from shared.messaging.errors import PermanentMessageError
from shared.runtime.errors import Conflict, DomainError
from tests.services.national.builders import (
    FEDERATION,
    HENAN_OTHER_COUNTY,
    SCHOOL,
    NationalDriver,
    authority_of,
    count_rows_read,
    enrol,
    of_type,
)

TODAY = date(2026, 9, 7)
NOW = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)


async def campaign(national: NationalDriver, scope: str = "41") -> str:
    before = await national.last_outbox_id()
    async with national.sessions() as session, session.begin():
        opened = await open_campaign(session, FEDERATION, "2026-autumn", scope, TODAY, NOW)
    sent = of_type(await national.staged_since(before), "verification.campaign_opened")
    henan = [s.code for s in FEDERATION.schools if s.province == "41"]
    if scope == "41":
        assert sorted(e.payload["school_code"] for e in sent) == sorted(henan)
    return opened.campaign_id


def confirmation(campaign_id: str, *lines: tuple[str, int]) -> RosterConfirmed:
    return RosterConfirmed(
        campaign_id=uuid.UUID(campaign_id),
        school_code=SCHOOL,
        confirmed_on=TODAY,
        attending=tuple(RosterLine(student_number=n, grade=g) for n, g in lines),
    )


def from_school(code: str = SCHOOL) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=code)


async def test_a_campaign_is_opened_once_per_term_and_scope(national: NationalDriver) -> None:
    await campaign(national, "41")
    with pytest.raises(Conflict) as again:
        await campaign(national, "41")
    assert again.value.rule == "campaign_exists"
    await campaign(national, "CN")  # the national one is another campaign
    with pytest.raises(DomainError) as unknown:
        await campaign(national, "99")
    assert unknown.value.rule == "unknown_scope"


async def test_ghosts_and_mismatches_go_to_the_authority(national: NationalDriver) -> None:
    attending = await enrol(national, grade=3, name="甲")
    ghost = await enrol(national, grade=3, name="乙")
    elsewhere = await enrol(national, HENAN_OTHER_COUNTY, grade=3, name="丙")
    wrong_grade = await enrol(national, grade=4, name="丁")
    campaign_id = await campaign(national)

    sent = await national.deliver(
        confirmation(campaign_id, (attending, 3), (elsewhere, 3), (wrong_grade, 3)),
        source=from_school(),
    )

    [findings] = of_type(sent, "verification.findings")
    assert str(findings.target) == "county:410102"
    assert (findings.payload["attending"], findings.payload["registered"]) == (3, 3)
    assert [(f["student_number"], f["kind"]) for f in findings.payload["findings"]] == [
        (ghost, "ghost"),
        *sorted([(elsewhere, "registered_elsewhere"), (wrong_grade, "grade_differs")]),
    ]
    async with national.sessions() as session:
        view = await read_campaign(session, campaign_id)
    [result] = view.schools
    assert (result.school_code, result.ghosts, result.mismatches) == (SCHOOL, 1, 2)


async def test_a_matching_roster_flags_nothing_and_replaces_an_earlier_result(
    national: NationalDriver,
) -> None:
    number = await enrol(national, grade=2, name="戊")
    campaign_id = await campaign(national)
    await national.deliver(confirmation(campaign_id), source=from_school())  # forgot everyone
    sent = await national.deliver(confirmation(campaign_id, (number, 2)), source=from_school())
    assert of_type(sent, "verification.findings") == []
    async with national.sessions() as session:
        [result] = (await read_campaign(session, campaign_id)).schools
    assert (result.attending, result.ghosts, result.mismatches) == (1, 0, 0)


async def test_only_the_school_itself_confirms_its_roster(national: NationalDriver) -> None:
    campaign_id = await campaign(national)
    with pytest.raises(PermanentMessageError):
        await national.deliver(confirmation(campaign_id), source=from_school("4101020003"))
    with pytest.raises(PermanentMessageError):  # an unknown campaign
        await national.deliver(confirmation(str(uuid.uuid4())), source=from_school())


async def test_a_zhejiang_school_is_not_in_henans_campaign(national: NationalDriver) -> None:
    campaign_id = await campaign(national, "41")
    stray = RosterConfirmed(
        campaign_id=uuid.UUID(campaign_id),
        school_code="3301020001",
        confirmed_on=TODAY,
        attending=(),
    )
    with pytest.raises(PermanentMessageError):
        await national.deliver(stray, source=from_school("3301020001"))


async def test_the_unclaimed_list(national: NationalDriver) -> None:
    long_gone = await enrol(national, grade=5, name="己")
    recent = await enrol(national, grade=5, name="庚")
    back = await enrol(national, grade=5, name="辛")
    other_county = await enrol(national, HENAN_OTHER_COUNTY, grade=5, name="壬")
    for number, status, days in (
        (long_gone, "dropout", 45),
        (recent, "other_departure", 10),
        (back, "enrolled", 45),
        (other_county, "dropout", 45),
    ):
        async with national.sessions() as session, session.begin():
            await session.execute(
                update(RegistryEntry)
                .where(RegistryEntry.student_number == number)
                .values(status=status, updated_at=NOW - timedelta(days=days))
            )
    async with national.sessions() as session:
        listed = await unclaimed(session, FEDERATION, "410102", TODAY, 30)
        later = await unclaimed(session, FEDERATION, "410102", TODAY + timedelta(days=25), 30)
    assert [(u.student_number, u.status, u.school_code) for u in listed] == [
        (long_gone, "dropout", SCHOOL)
    ]
    assert [u.student_number for u in later] == [long_gone, recent]


async def test_a_placement_is_neither_a_ghost_nor_a_mismatch(national: NationalDriver) -> None:
    """N2013 art. 17; HA art. 12: an inclusive-placement student attends another school while
    the registration stays here. Neither school reports them; ending the placement does."""
    placed = await enrol(national, HENAN_OTHER_COUNTY, grade=3, name="己")
    stayed = await enrol(national, HENAN_OTHER_COUNTY, grade=3, name="庚")
    decided = await place(national, placed, HENAN_OTHER_COUNTY, attending=SCHOOL)
    assert (decided["outcome"], decided["to_status"]) == ("applied", "enrolled")
    campaign_id = await campaign(national)

    here = await national.deliver(confirmation(campaign_id, (placed, 3)), source=from_school())
    assert of_type(here, "verification.findings") == []
    there = confirmation(campaign_id, (stayed, 3)).model_copy(
        update={"school_code": HENAN_OTHER_COUNTY}
    )
    assert (
        of_type(
            await national.deliver(there, source=from_school(HENAN_OTHER_COUNTY)),
            "verification.findings",
        )
        == []
    )

    ended = await place(national, placed, HENAN_OTHER_COUNTY, change="end_placement")
    assert ended["outcome"] == "applied"
    sent = await national.deliver(confirmation(campaign_id, (placed, 3)), source=from_school())
    [findings] = of_type(sent, "verification.findings")
    assert [f["kind"] for f in findings.payload["findings"]] == ["registered_elsewhere"]


async def test_placement_refusals_and_detention_keeps_then_restores(
    national: NationalDriver,
) -> None:
    number = await enrol(national, grade=3, name="辛")
    unknown = await place(national, number, SCHOOL, attending="4101029999")
    assert (unknown["rule"], unknown["article"]) == ("placement_school_unknown", "N2013 art. 17")
    same = await place(national, number, SCHOOL, attending=SCHOOL)
    assert same["rule"] == "placement_same_school"
    not_placed = await place(national, number, SCHOOL, change="end_placement")
    assert not_placed["rule"] == "not_placed"

    detained = await place(national, number, SCHOOL, change="detain")
    assert (detained["to_status"], detained["article"]) == ("detained", "ZJ art. 13; HA art. 16")
    assert (await national.entry(number)).status == "detained"
    released = await place(national, number, SCHOOL, change="release")
    assert (released["to_status"], released["article"]) == ("enrolled", "ZJ art. 13")
    assert (await national.entry(number)).status == "enrolled"


async def place(
    national: NationalDriver,
    number: str,
    school: str,
    *,
    attending: str | None = None,
    change: str = "place",
) -> dict[str, object]:
    """The school's authority approved ``change``; national's decision."""
    facts = StatusChangeFacts(
        change=change,  # type: ignore[arg-type]
        effective_on=TODAY,
        attending_school=attending,
        placement="inclusive" if change == "place" else None,
    )
    approved = StatusChangeApproved(
        change_id=uuid.uuid4(),
        school_code=school,
        student_number=number,
        facts=facts,
        authority=str(authority_of(school)),
    )
    [decided, _] = of_type(await national.deliver(approved), "status_change.decided")
    return dict(decided.payload)


async def test_the_campaigns_of_a_scope_are_listed_newest_first_with_their_findings_summed(
    national: NationalDriver,
) -> None:
    attending = await enrol(national, grade=3, name="戊")
    await enrol(national, grade=3, name="己")  # registered, not confirmed: a ghost
    henan = await campaign(national, "41")
    await campaign(national, "CN")
    await national.deliver(confirmation(henan, (attending, 3)), source=from_school())
    async with national.sessions() as session, session.begin():
        later = await open_campaign(session, FEDERATION, "2027-spring", "41", TODAY, NOW)
    async with national.sessions() as session:
        listed = await list_campaigns(session, "41", 10)
    assert [s.campaign.campaign_id for s in listed] == [later.campaign_id, henan]
    assert (listed[1].confirmed, listed[1].ghosts, listed[1].mismatches) == (1, 1, 0)
    assert (listed[0].confirmed, listed[0].ghosts) == (0, 0)


async def test_a_confirmed_student_is_verified_and_leaves_the_unverified_count(
    national: NationalDriver,
) -> None:
    """ID not verified (问题学籍, decision 0047): every enrolled student until a term check
    confirms them attending their registered school and grade; a mismatch stays unverified."""
    confirmed = await enrol(national, grade=5, name="己")
    wrong_grade = await enrol(national, grade=5, name="庚")
    county = UnitRef(tier=Tier.COUNTY, code="410102")

    async def unverified() -> dict[str, int]:
        async with national.sessions() as session:
            found = await data_quality(session, FEDERATION, county, TODAY)
        return {"total": found.id_unverified, "school": found.by_school[SCHOOL]["id_unverified"]}

    before = await unverified()
    campaign_id = await campaign(national)
    await national.deliver(
        confirmation(campaign_id, (confirmed, 5), (wrong_grade, 6)), source=from_school()
    )
    after = await unverified()
    assert {k: before[k] - after[k] for k in before} == {"total": 1, "school": 1}
    async with national.sessions() as session:
        verified = dict(
            (
                await session.execute(
                    select(RegistryEntry.student_number, RegistryEntry.id_verified_at).where(
                        RegistryEntry.student_number.in_([confirmed, wrong_grade])
                    )
                )
            ).all()
        )
    assert verified[confirmed] is not None and verified[wrong_grade] is None


async def test_a_units_data_quality_reads_only_its_own_schools_latest_checks(
    national: NationalDriver,
) -> None:
    """A county's quality page reads its schools' checks, not the country's ~500,000 (each
    school checked every term): the read is scoped in the database, by an index."""
    await enrol(national, grade=3, name="甲")  # registered, confirmed by nobody: a ghost
    await enrol(national, HENAN_OTHER_COUNTY, grade=3, name="乙")  # the same, another county
    campaign_id = await campaign(national)
    await national.deliver(confirmation(campaign_id), source=from_school())
    elsewhere = RosterConfirmed(
        campaign_id=uuid.UUID(campaign_id),
        school_code=HENAN_OTHER_COUNTY,
        confirmed_on=TODAY,
        attending=(),
    )
    await national.deliver(elsewhere, source=from_school(HENAN_OTHER_COUNTY))

    async def quality(unit: UnitRef) -> tuple[dict[str, int], list[int]]:
        async with national.sessions() as session:
            read = count_rows_read(session, "verification_school")
            found = await data_quality(session, FEDERATION, unit, TODAY)
        ghosts = {s: c["verification_ghosts"] for s, c in found.by_school.items() if c}
        return {s: n for s, n in ghosts.items() if n}, read

    county, county_read = await quality(UnitRef(tier=Tier.COUNTY, code="410102"))
    province, _ = await quality(UnitRef(tier=Tier.PROVINCE, code="41"))
    zhejiang, zhejiang_read = await quality(UnitRef(tier=Tier.PROVINCE, code="33"))
    assert county == {SCHOOL: 1} and county_read == [1]
    assert province == {SCHOOL: 1, HENAN_OTHER_COUNTY: 1}
    assert zhejiang == {} and zhejiang_read == [0]
