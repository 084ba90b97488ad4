"""Deadlines of transfer steps as data: due dates in Chinese working days (National Day 2026,
an unknown 2027), the sweep's reminder and overdue report — each sent exactly once — and the
superior's intervention."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from devtools.testing import federation_copy
from shared.contracts.transfer import TransferRequested
from shared.db.engine import SessionFactory
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentMessageError
from tests.services.national.builders import (
    SICHUAN_OTHER_COUNTY,
    SICHUAN_SCHOOL,
    ZHEJIANG_OTHER_COUNTY,
    ZHEJIANG_SCHOOL,
    NationalDriver,
    enrol,
    targets,
    transfer_request,
)


async def zhejiang_transfer(national: NationalDriver) -> list[Envelope]:
    """A transfer inside Zhejiang, opened 2026-09-07: the sending school's step is due
    2026-09-20 (a Sunday worked for National Day, 调休)."""
    number = await enrol(national, ZHEJIANG_SCHOOL)
    envelopes = await national.request(
        transfer_request(number, ZHEJIANG_SCHOOL, ZHEJIANG_OTHER_COUNTY)
    )
    return envelopes


def within_sichuan(number: str) -> TransferRequested:
    return transfer_request(number, SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY)


async def test_a_step_opened_before_national_day_is_due_after_the_holiday(
    national: NationalDriver,
) -> None:
    national.set_today(date(2026, 9, 30))  # Wednesday; 1-7 October are holidays
    number = await enrol(national, SICHUAN_SCHOOL)

    [opened] = await national.request(
        transfer_request(number, SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY)
    )

    # Monday to Friday only would give 14 October; Saturday 10 October is worked (调休)
    assert (opened.payload["opened_on"], opened.payload["due_on"]) == ("2026-09-30", "2026-10-20")
    assert opened.payload["due_approximate"] is False


async def test_a_due_date_in_a_year_without_holiday_data_is_approximate_not_an_error(
    national: NationalDriver,
) -> None:
    national.set_today(date(2026, 12, 24))  # Sichuan has no transfer windows
    number = await enrol(national, SICHUAN_SCHOOL)

    [opened] = await national.request(
        transfer_request(number, SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY)
    )

    assert opened.payload["due_on"] == "2027-01-07"
    assert opened.payload["due_approximate"] is True
    stored = await national.transfer(opened.payload["transfer_id"])
    assert stored.saga.steps[0].due_approximate is True
    report, _ = await national.sweep(date(2027, 1, 5))  # sweeping into 2027 works too
    assert report.reminders == 1


async def test_a_province_that_loads_next_years_holidays_gets_exact_due_dates(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    config = federation_copy(
        tmp_path, rules={"51": {"transfer": {"holiday_files": ["holidays-2027.json"]}}}
    )
    (config.parent / "provinces" / "holidays-2027.json").write_text(
        json.dumps({"2027": {"holidays": ["2027-01-01"], "workdays": []}})
    )
    national = NationalDriver(sessions, config=config, today=date(2026, 12, 24))
    number = await enrol(national, SICHUAN_SCHOOL)

    [opened] = await national.request(
        transfer_request(number, SICHUAN_SCHOOL, SICHUAN_OTHER_COUNTY)
    )

    assert (opened.payload["due_on"], opened.payload["due_approximate"]) == ("2027-01-08", False)


async def test_the_party_is_reminded_once_and_the_superior_told_once_when_overdue(
    national: NationalDriver,
) -> None:
    [envelope] = await zhejiang_transfer(national)
    opened = envelope.payload
    assert opened["due_on"] == "2026-09-20"

    assert (await national.sweep(date(2026, 9, 15)))[1] == []  # 4 working days left
    report, reminders = await national.sweep(date(2026, 9, 16))
    assert (report.reminders, report.overdue) == (1, 0)
    assert targets(reminders) == ["school:3301020001"]
    assert reminders[0].type == "transfer.step_reminder"
    assert reminders[0].payload == {
        "transfer_id": opened["transfer_id"],
        "step_id": opened["step_id"],
        "role": "sending_school",
        "due_on": "2026-09-20",
        "working_days_left": 3,
    }
    assert (await national.sweep(date(2026, 9, 16)))[1] == []
    assert (await national.sweep(date(2026, 9, 20)))[1] == []  # the due date is still in time

    report, overdue = await national.sweep(date(2026, 9, 21))
    assert (report.reminders, report.overdue, report.overdue_at_national) == (0, 1, 0)
    assert targets(overdue) == ["county:330102"]
    assert overdue[0].type == "transfer.step_overdue"
    payload = overdue[0].payload
    assert (payload["party"], payload["role"], payload["due_on"]) == (
        "school:3301020001",
        "sending_school",
        "2026-09-20",
    )
    assert payload["student"]["name"] == "张伟" and payload["to_school"] == ZHEJIANG_OTHER_COUNTY
    assert (await national.sweep(date(2026, 9, 21)))[1] == []
    assert (await national.sweep(date(2026, 10, 30)))[1] == []
    stored = await national.transfer(str(opened["transfer_id"]))
    step = stored.saga.steps[0]
    assert step.reminded_at is not None and step.overdue_notified_at is not None


async def test_a_step_first_swept_when_overdue_is_reported_not_reminded(
    national: NationalDriver,
) -> None:
    await zhejiang_transfer(national)
    report, sent = await national.sweep(date(2026, 9, 25))
    assert (report.reminders, report.overdue) == (0, 1)
    assert [e.type for e in sent] == ["transfer.step_overdue"]


async def test_two_sweeps_at_once_send_each_message_once(national: NationalDriver) -> None:
    for name in ("甲", "乙", "丙"):
        number = await enrol(national, ZHEJIANG_SCHOOL, name=name)
        await national.request(transfer_request(number, ZHEJIANG_SCHOOL, ZHEJIANG_OTHER_COUNTY))
    before = await national.last_outbox_id()

    reports = await asyncio.gather(*(national.sweep(date(2026, 9, 21)) for _ in range(3)))

    assert sum(report.overdue for report, _ in reports) == 3
    assert len(await national.staged_since(before)) == 3


async def test_the_superior_intervenes_once_the_step_is_overdue(national: NationalDriver) -> None:
    [opened] = await zhejiang_transfer(national)
    national.set_today(date(2026, 9, 20))
    with pytest.raises(PermanentMessageError, match="only once it is overdue"):
        await national.decide(opened, "county:330102", intervention=True)

    national.set_today(date(2026, 9, 21))
    await national.sweep(date(2026, 9, 21))
    [settled, next_step] = await national.decide(opened, "county:330102", intervention=True)

    # the late school's task for the step is void: it is told who decided in its place
    assert settled.type == "transfer.step_settled" and str(settled.target) == "school:3301020001"
    assert (settled.payload["decided_unit"], settled.payload["intervention"]) == (
        "county:330102",
        True,
    )
    assert next_step.type == "transfer.step_opened" and str(next_step.target) == "county:330102"
    assert next_step.payload["opened_on"] == "2026-09-21"
    stored = await national.transfer(opened.payload["transfer_id"])
    first = stored.saga.steps[0]
    assert first.state == "approved" and first.decision is not None
    assert (first.decision.decided_unit, first.decision.intervention) == ("county:330102", True)
    # the late party's own decision comes too late now: acknowledged and ignored
    assert await national.decide(opened) == []


async def test_a_superior_rejecting_for_the_late_party_closes_the_transfer(
    national: NationalDriver,
) -> None:
    [opened] = await zhejiang_transfer(national)
    national.set_today(date(2026, 9, 22))
    await national.sweep(date(2026, 9, 22))

    closed = await national.decide(opened, "county:330102", approve=False, reason="no answer")

    # the superior had it on its list, so it hears the end too (once: it is no party yet)
    assert targets(closed) == ["school:3301060001", "school:3301020001", "county:330102"]
    assert closed[0].payload["reason"] == (
        "sending_school (county:330102) rejected the transfer: no answer"
    )


async def test_a_step_the_sweep_reported_overdue_may_be_decided_by_the_superior(
    national: NationalDriver,
) -> None:
    """Operators and tests drive time through the sweep's date: once national has told the
    superior that a step is overdue, the superior's intervention holds whatever the clock."""
    [opened] = await zhejiang_transfer(national)
    await national.sweep(date(2026, 9, 21))  # national's own date is still 2026-09-07

    [_settled, next_step] = await national.decide(opened, "county:330102", intervention=True)

    assert next_step.type == "transfer.step_opened"


async def test_a_late_party_deciding_after_all_settles_its_superiors_intervention_task(
    national: NationalDriver,
) -> None:
    [opened] = await zhejiang_transfer(national)
    await national.sweep(date(2026, 9, 21))  # the county was told the school is late

    [settled, next_step] = await national.decide(opened)  # the school decides itself

    assert settled.type == "transfer.step_settled" and str(settled.target) == "county:330102"
    assert settled.payload["intervention"] is False
    assert settled.payload["step_id"] == opened.payload["step_id"]
    assert next_step.type == "transfer.step_opened"


async def test_a_timely_decision_tells_nobody_else(national: NationalDriver) -> None:
    [opened] = await zhejiang_transfer(national)
    [next_step] = await national.decide(opened)
    assert next_step.type == "transfer.step_opened"
