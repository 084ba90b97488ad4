"""The province in transfers, on SQLite and PostgreSQL: its own steps (the discipline check of
the sending province, the receiving province's officer task), and the archive following the
student — moved within the province, handed across a border (each province on a database of
its own) — with the sending school's backup kept and its live access gone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from devtools.testing import federation_copy
from services.province.adapters.orm import Archive, ArchiveBackup, ArchiveEntry, ArchiveHandover
from shared.contracts.transfer import (
    ArchiveReceived,
    ProofRef,
    StudentSummary,
    TransferStepOpened,
)
from shared.db.testing import recorded_statements
from shared.federation.config import NATIONAL
from shared.messaging.errors import PermanentMessageError
from tests.components.approval_desk.support import basic
from tests.services.province.transfer_support import (
    HANGZHOU_PRIMARY,
    JINSHUI_PRIMARY,
    TODAY,
    ZHONGYUAN_PRIMARY,
    Province,
    archived_students,
    completed,
    number_of,
    province_ref,
    province_service,
)

NO_DISCIPLINE_CHECK = {"41": {"transfer": {"refuse_under_discipline": False}}}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return federation_copy(tmp_path / "federation")


@pytest.fixture
async def henan(config: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(config, "41", database_url) as province:
        yield province


@pytest.fixture
async def zhejiang(config: Path, other_database_url: str) -> AsyncIterator[Province]:
    async with province_service(config, "33", other_database_url) as province:
        yield province


def province_step(role: str, number: str, **overrides: Any) -> TransferStepOpened:
    fields: dict[str, Any] = {
        "transfer_id": uuid.uuid4(),
        "step_id": uuid.uuid4(),
        "role": role,
        "student_number": number,
        "student": StudentSummary(name="张三", gender="male", birth_date=date(2018, 3, 1), grade=1),
        "from_school": ZHONGYUAN_PRIMARY,
        "to_school": HANGZHOU_PRIMARY,
        "reason": "the family moved",
        "opened_on": TODAY,
        "due_on": date(2026, 9, 21),
        "due_approximate": False,
        "proofs": (ProofRef(index=0, kind="application_form"),),
    }
    fields.update(overrides)
    return TransferStepOpened.model_validate(fields)


async def decided(province: Province) -> dict[str, Any]:
    [sent] = await province.staged("transfer.step_decided")
    assert sent.target == NATIONAL and sent.source == province.unit
    return sent.payload


async def province_tasks(province: Province) -> list[dict[str, Any]]:
    response = await province.client.get(f"/api/v1/provinces/{province.code}/tasks")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- the province's own steps ------------------------------------------------------------


async def test_henan_refuses_a_student_under_discipline(henan: Province) -> None:
    """HA art. 11(四): 受处分期间不予转学 — checked by the sending province, automatically."""
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    number = number_of(info)
    await henan.add_discipline(number, reference="d-1", on=date(2026, 6, 1), measure="警告")
    opened = province_step("sending_province", number)
    await henan.deliver(opened)

    payload = await decided(henan)
    assert (payload["decision"], payload["rule"], payload["decided_by"]) == (
        "reject",
        "under_discipline",
        "system",
    )
    assert payload["decided_unit"] == "province:41" and not payload["intervention"]
    assert "HA art. 11(四)" in payload["reason"] and "警告" not in payload["reason"]
    [task] = await province_tasks(henan)
    assert (task["kind"], task["status"], task["rule"]) == (
        "transfer_step",
        "rejected",
        "under_discipline",
    )


@pytest.mark.parametrize("lifted", ["by_entry", "by_date"])
async def test_a_lifted_discipline_does_not_hold_a_transfer(henan: Province, lifted: str) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    number = number_of(info)
    if lifted == "by_entry":
        await henan.add_discipline(number, reference="d-1", on=date(2025, 9, 1))
        await henan.lift_discipline(number, reference="d-1", on=date(2026, 3, 1))
    else:
        await henan.add_discipline(
            number, reference="d-1", on=date(2025, 9, 1), lifted_on="2026-03-01"
        )
    await henan.deliver(province_step("sending_province", number))
    payload = await decided(henan)
    assert (payload["decision"], payload["rule"]) == ("approve", None)


async def test_a_student_without_discipline_is_approved_by_the_system(henan: Province) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    await henan.deliver(province_step("sending_province", number_of(info)))
    assert (await decided(henan))["decision"] == "approve"


async def test_a_lifting_dated_after_today_does_not_count_yet(henan: Province) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    number = number_of(info)
    await henan.add_discipline(number, reference="d-1", on=date(2026, 4, 1))
    await henan.lift_discipline(number, reference="d-1", on=date(2026, 10, 1))
    await henan.deliver(province_step("sending_province", number))
    assert (await decided(henan))["rule"] == "under_discipline"


async def test_discipline_is_not_checked_where_the_rules_do_not_say_so(
    tmp_path: Path, database_url: str
) -> None:
    config = federation_copy(tmp_path / "f", rules=NO_DISCIPLINE_CHECK)
    async with province_service(config, "41", database_url) as henan:
        info = await henan.archived_student(ZHONGYUAN_PRIMARY)
        await henan.add_discipline(number_of(info), reference="d-1", on=date(2026, 6, 1))
        await henan.deliver(province_step("sending_province", number_of(info)))
        assert (await decided(henan))["decision"] == "approve"


async def test_the_receiving_province_step_waits_for_an_officer(zhejiang: Province) -> None:
    await zhejiang.deliver(province_step("receiving_province", "G410102201803010011"))
    [task] = await province_tasks(zhejiang)
    assert (task["kind"], task["status"], task["due_on"], task["overdue"]) == (
        "transfer_step",
        "open",
        "2026-09-21",
        False,
    )
    assert await zhejiang.staged("transfer.step_decided") == []
    with pytest.raises(PermanentMessageError):  # Henan's step is not Zhejiang's
        await zhejiang.deliver(province_step("sending_province", "G410102201803010011"))


async def test_a_run_of_steps_is_decided_at_once_as_one_by_one(
    henan: Province, henan_again: Province
) -> None:
    """The discipline check of each sending step of a run, in delivery order (one refused,
    one approved), the receiving step left to an officer: what one step at a time gives."""
    both = [henan, henan_again]
    disciplined, clean = await archived_students(both, ZHONGYUAN_PRIMARY, basic(), basic())
    for province in both:
        await province.add_discipline(number_of(disciplined), reference="d-1", on=date(2026, 6, 1))
    incoming = {"from_school": HANGZHOU_PRIMARY, "to_school": ZHONGYUAN_PRIMARY}
    run = [
        province_step("sending_province", number_of(disciplined)),
        province_step("receiving_province", "G330102201803010011", **incoming),
        province_step("sending_province", number_of(clean)),
    ]
    for opened in run:
        await henan.deliver(opened)
    await henan_again.deliver_at_once(run)

    def outcomes(tasks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (t["subject_id"], t["status"], t["rule"], t["reason"], t["decided_by"]) for t in tasks
        )

    listed = await province_tasks(henan)
    assert outcomes(await province_tasks(henan_again)) == outcomes(listed)
    assert sorted(t["status"] for t in listed) == ["approved", "open", "rejected"]
    sent = [m.payload for m in await henan.staged("transfer.step_decided")]
    assert [m.payload for m in await henan_again.staged("transfer.step_decided")] == sent
    assert [(m["step_id"], m["decision"]) for m in sent] == [
        (str(run[0].step_id), "reject"),
        (str(run[2].step_id), "approve"),
    ]


# --- the archive within the province -----------------------------------------------------


async def test_within_the_province_the_archive_moves_and_the_sending_school_keeps_a_backup(
    henan: Province,
) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    number = number_of(info)
    done = completed(info)
    await henan.deliver(done)
    await henan.deliver(done)  # the second copy national may send changes nothing

    archive = (await henan.client.get(f"/api/v1/provinces/41/archives/{number}")).json()
    assert (archive["status"], archive["school_code"]) == ("active", JINSHUI_PRIMARY)
    moves = [e for e in archive["entries"] if e["kind"] == "transferred"]
    assert len(moves) == 1 and moves[0]["section"] == "basic"
    assert moves[0]["data"]["from_school"] == ZHONGYUAN_PRIMARY
    assert moves[0]["data"]["cross_province"] is False
    assert archive["extended"]["guardians"][0]["relation"] == "mother"

    receiving = await henan.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/archives/{number}")
    assert receiving.status_code == 200
    sending = await henan.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/archives/{number}")
    assert (sending.status_code, sending.json()["rule"]) == (404, "archive_transferred")
    backup = await henan.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/archive-backups/{number}")
    assert backup.status_code == 200, backup.text
    kept = backup.json()
    assert (kept["to_school"], kept["transfer_id"]) == (JINSHUI_PRIMARY, str(done.transfer_id))
    assert kept["archive"]["school_code"] == ZHONGYUAN_PRIMARY
    assert kept["archive"]["extended"]["hukou_region"] == "410102"
    assert await henan.staged("archive.handed_over") == []
    none_kept = await henan.client.get(
        f"/api/v1/schools/{JINSHUI_PRIMARY}/archive-backups/{number}"
    )
    assert (none_kept.status_code, none_kept.json()["rule"]) == (404, "backup_not_found")


# --- the archive across a border ---------------------------------------------------------


async def test_across_provinces_the_archive_is_handed_over_and_received(
    henan: Province, zhejiang: Province
) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    number = number_of(info)
    done = completed(info, to_school=HANGZHOU_PRIMARY)
    await henan.deliver(done)
    await zhejiang.deliver(done)  # the receiving province waits for the hand-over

    # the sending province: copy transferred out, backup kept, hand-over open
    gone = await henan.client.get(f"/api/v1/provinces/41/archives/{number}")
    assert gone.status_code == 404
    sending = await henan.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/archives/{number}")
    assert (sending.status_code, sending.json()["rule"]) == (404, "archive_transferred")
    backup = (
        await henan.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/archive-backups/{number}")
    ).json()
    assert backup["to_school"] == HANGZHOU_PRIMARY
    assert [e["kind"] for e in backup["archive"]["entries"]] == ["registered", "transferred"]
    handovers = (await henan.client.get("/api/v1/provinces/41/archive-handovers")).json()
    [handover] = handovers["items"]
    assert (handover["state"], handover["due_on"], handover["overdue"]) == (
        "sent",
        "2026-10-07",
        False,
    )
    assert handover["to_province"] == "33"

    [handed] = await henan.staged("archive.handed_over")
    assert handed.target == province_ref("33")
    assert handed.payload["archive"]["extended"]["guardians"][0]["name"] == "李四"
    await zhejiang.apply(handed)

    # the receiving province: active under the receiving school, with the whole history
    archive = (await zhejiang.client.get(f"/api/v1/provinces/33/archives/{number}")).json()
    assert (archive["status"], archive["school_code"], archive["province"]) == (
        "active",
        HANGZHOU_PRIMARY,
        "33",
    )
    assert archive["extended"]["address"] == "郑州市中原区建设路 1 号"
    assert [e["kind"] for e in archive["entries"]] == [
        "registered",
        "transferred",
        "archive_received",
    ]
    live = await zhejiang.client.get(f"/api/v1/schools/{HANGZHOU_PRIMARY}/archives/{number}")
    assert live.status_code == 200
    async with zhejiang.runtime.sessions() as session:  # its new key: time-ordered (0059)
        key = await session.scalar(
            select(Archive.archive_id).where(Archive.student_number == number)
        )
    assert key is not None and uuid.UUID(key).version == 7

    [receipt] = await zhejiang.staged("archive.received")
    assert receipt.target == province_ref("41")
    await henan.apply(receipt)
    assert (await henan.client.get("/api/v1/provinces/41/archive-handovers")).json()["total"] == 0
    received = (
        await henan.client.get("/api/v1/provinces/41/archive-handovers?state=received")
    ).json()
    assert received["items"][0]["received_at"] is not None

    # a resent hand-over is answered again and stores nothing twice
    await zhejiang.apply(handed.model_copy(update={"message_id": uuid.uuid4()}))
    again = (await zhejiang.client.get(f"/api/v1/provinces/33/archives/{number}")).json()
    assert len(again["entries"]) == 3
    assert len(await zhejiang.staged("archive.received")) == 2


async def test_a_late_or_missing_hand_over_is_listed_as_open(henan: Province) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    late = completed(info, to_school=HANGZHOU_PRIMARY, archive_due_on=date(2026, 9, 1))
    await henan.deliver(late)
    stranger = completed(
        await henan.archived_student(JINSHUI_PRIMARY), to_school=HANGZHOU_PRIMARY
    ).model_copy(update={"student_number": "G410102201803010011"})
    await henan.deliver(stranger)  # no archive here under that number

    listed = (await henan.client.get("/api/v1/provinces/41/archive-handovers?state=open")).json()
    states = {item["transfer_id"]: item for item in listed["items"]}
    assert states[str(late.transfer_id)]["overdue"] is True
    assert states[str(stranger.transfer_id)]["state"] == "missing"
    overdue = (await henan.client.get("/api/v1/provinces/41/archive-handovers?overdue=true")).json()
    assert [i["transfer_id"] for i in overdue["items"]] == [str(late.transfer_id)]
    assert len(await henan.staged("archive.handed_over")) == 1


async def test_messages_that_cannot_apply_here_are_dead_lettered(
    henan: Province, zhejiang: Province
) -> None:
    info = await henan.archived_student(ZHONGYUAN_PRIMARY)
    with pytest.raises(PermanentMessageError):  # a transfer inside Zhejiang is not Henan's
        await henan.deliver(completed(info, from_school=HANGZHOU_PRIMARY, to_school="3301060001"))
    done = completed(info, to_school=HANGZHOU_PRIMARY)
    await henan.deliver(done)
    [handed] = await henan.staged("archive.handed_over")
    with pytest.raises(PermanentMessageError):  # a receipt for a hand-over never made
        await henan.deliver(
            ArchiveReceived(transfer_id=uuid.uuid4(), student_number=number_of(info)),
            source=province_ref("33"),
        )
    await zhejiang.apply(handed)


# --- a delivery batch's run of messages, applied at once ----------------------------------


@pytest.fixture
async def henan_again(config: Path, other_database_url: str) -> AsyncIterator[Province]:
    """Henan a second time, on a database of its own: the same messages applied otherwise."""
    async with province_service(config, "41", other_database_url) as province:
        yield province


def _without_times(value: Any) -> Any:
    """``value`` without the moments of the run (``*_at``): the rest must be the same."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if not k.endswith("_at")}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


async def archive_state(province: Province) -> dict[str, Any]:
    """Archives, entries, backups, hand-overs and the messages staged, comparable."""
    tables = {
        "archives": Archive,
        "entries": ArchiveEntry,
        "backups": ArchiveBackup,
        "handovers": ArchiveHandover,
    }
    state: dict[str, Any] = {}
    async with province.runtime.sessions() as session:
        for name, entity in tables.items():
            rows = (await session.execute(select(entity.__table__))).mappings()
            found = [
                _without_times({k: v for k, v in row.items() if k not in ("entry_id", "backup_id")})
                for row in rows
            ]
            state[name] = sorted(found, key=repr)
    messages = await province.staged()
    state["messages"] = sorted(
        (m.type, m.target.code, repr(_without_times(m.payload))) for m in messages
    )
    return state


async def test_a_run_of_completions_at_once_is_applied_as_one_by_one(
    henan: Province, henan_again: Province
) -> None:
    """Moves, hand-overs, a hand-over with no archive and a transfer into the province, in
    one run: the same archives, backups, hand-overs and messages as one message at a time."""
    both = [henan, henan_again]
    leaving = await archived_students(both, ZHONGYUAN_PRIMARY, *(basic() for _ in range(4)))
    run = [
        completed(leaving[0]),
        completed(leaving[1], to_school=HANGZHOU_PRIMARY),
        completed(leaving[2]),
        completed(leaving[3], to_school=HANGZHOU_PRIMARY),
        completed(basic(), to_school=HANGZHOU_PRIMARY),  # no archive here: missing
        completed(basic(), from_school=HANGZHOU_PRIMARY, to_school=ZHONGYUAN_PRIMARY),
    ]
    for done in run:
        await henan.deliver(done)
    await henan_again.deliver_at_once(run)

    expected = await archive_state(henan)
    assert await archive_state(henan_again) == expected
    assert len(expected["backups"]) == 4
    assert sorted(h["state"] for h in expected["handovers"]) == ["missing", "sent", "sent"]
    assert [m[0] for m in expected["messages"]].count("archive.handed_over") == 2


async def test_a_transfer_twice_in_a_run_applies_once(henan: Province) -> None:
    moving, leaving = await archived_students([henan], ZHONGYUAN_PRIMARY, basic(), basic())
    move, hand = completed(moving), completed(leaving, to_school=HANGZHOU_PRIMARY)
    await henan.deliver_at_once([move, hand, move, hand])
    await henan.deliver_at_once([hand, move])  # and a redelivery after it, once more

    moved = (await henan.client.get(f"/api/v1/provinces/41/archives/{number_of(moving)}")).json()
    assert [e["kind"] for e in moved["entries"]] == ["registered", "transferred"]
    assert moved["school_code"] == JINSHUI_PRIMARY
    assert len(await henan.staged("archive.handed_over")) == 1
    state = await archive_state(henan)
    assert len(state["backups"]) == 2 and len(state["handovers"]) == 1


async def test_one_student_twice_in_a_run_is_moved_in_order(henan: Province) -> None:
    """Two transfers of one student in one run: the second sees the first's move."""
    [info] = await archived_students([henan], ZHONGYUAN_PRIMARY, basic())
    there = completed(info)
    back = completed(info, from_school=JINSHUI_PRIMARY, to_school=ZHONGYUAN_PRIMARY)
    await henan.deliver_at_once([there, back])

    archive = (await henan.client.get(f"/api/v1/provinces/41/archives/{number_of(info)}")).json()
    assert archive["school_code"] == ZHONGYUAN_PRIMARY
    assert [e["kind"] for e in archive["entries"]] == ["registered", "transferred", "transferred"]
    state = await archive_state(henan)
    [second] = [b for b in state["backups"] if b["transfer_id"] == str(back.transfer_id)]
    assert second["snapshot"]["school_code"] == JINSHUI_PRIMARY
    assert len(second["snapshot"]["entries"]) == 3  # with its own transfer, as always


async def test_runs_of_hand_overs_and_receipts_at_once(henan: Province, zhejiang: Province) -> None:
    leaving = await archived_students([henan], ZHONGYUAN_PRIMARY, *(basic() for _ in range(3)))
    await henan.deliver_at_once([completed(i, to_school=HANGZHOU_PRIMARY) for i in leaving])
    handed = await henan.staged("archive.handed_over")
    resent = handed[0].model_copy(update={"message_id": uuid.uuid4()})
    await zhejiang.apply_at_once([*handed, resent])

    for info in leaving:
        archive = (
            await zhejiang.client.get(f"/api/v1/provinces/33/archives/{number_of(info)}")
        ).json()
        assert (archive["status"], archive["school_code"]) == ("active", HANGZHOU_PRIMARY)
        assert [e["kind"] for e in archive["entries"]] == [
            "registered",
            "transferred",
            "archive_received",
        ]
    receipts = await zhejiang.staged("archive.received")
    assert len(receipts) == 4  # every hand-over is answered, the resent one too
    await henan.apply_at_once(receipts)
    listed = await henan.client.get("/api/v1/provinces/41/archive-handovers?state=received")
    assert listed.json()["total"] == 3
    with pytest.raises(PermanentMessageError):  # one receipt for a hand-over never made
        await henan.deliver_at_once(
            [
                ArchiveReceived(
                    transfer_id=handed[1].payload["transfer_id"],
                    student_number=number_of(leaving[1]),
                ),
                ArchiveReceived(transfer_id=uuid.uuid4(), student_number=number_of(leaving[0])),
            ],
            source=province_ref("33"),
        )


async def test_the_statements_of_a_run_do_not_grow_with_its_length(
    henan: Province, zhejiang: Province
) -> None:
    """Per message type a fixed number of statements, for a run of 2 as for a run of 6."""
    counted: dict[str, list[int]] = {}
    for size in (2, 6):
        infos = await archived_students([henan], ZHONGYUAN_PRIMARY, *(basic() for _ in range(size)))
        moves = [completed(i) for i in infos[: size // 2]]
        hands = [completed(i, to_school=HANGZHOU_PRIMARY) for i in infos[size // 2 :]]
        with recorded_statements(henan.runtime.engine) as sent:
            await henan.deliver_at_once([*moves, *hands])
        counted.setdefault("transfer.completed", []).append(len(sent))
        handed = [
            e
            for e in await henan.staged("archive.handed_over")
            if e.payload["transfer_id"] in {str(c.transfer_id) for c in hands}
        ]
        with recorded_statements(zhejiang.runtime.engine) as sent:
            await zhejiang.apply_at_once(handed)
        counted.setdefault("archive.handed_over", []).append(len(sent))
        receipts = [
            e
            for e in await zhejiang.staged("archive.received")
            if e.payload["transfer_id"] in {str(c.transfer_id) for c in hands}
        ]
        with recorded_statements(henan.runtime.engine) as sent:
            await henan.apply_at_once(receipts)
        counted.setdefault("archive.received", []).append(len(sent))

    for message_type, (of_two, of_six) in counted.items():
        assert of_two == of_six, (message_type, counted)
