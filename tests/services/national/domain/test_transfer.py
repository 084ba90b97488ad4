"""The transfer saga's state machine: the transition tables, steps one at a time, endings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.national.domain.transfer import (
    STEP_TRANSITIONS,
    TRANSITIONS,
    Action,
    Deadline,
    Decision,
    IllegalTransition,
    NotEntitled,
    Step,
    StepAction,
    StepState,
    Transfer,
    TransferState,
    next_state,
    next_step_state,
)

AT = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)
OPENED = date(2026, 9, 7)


def due_in_ten(step: Step, opened_on: date) -> Deadline:
    return Deadline(date(2026, 9, 21), approximate=False)


def saga() -> Transfer:
    steps = [
        Step("s1", 1, "sending_province", "province:41", "national:CN"),
        Step("s2", 2, "receiving_authority", "county:410105", "province:41"),
        Step("s3", 3, "sending_school", "school:4101020001", "county:410102"),
    ]
    return Transfer("t1", "G1", "4101020001", "4101050001", steps)


def decided_by(unit: str, approve: bool = True, **options: object) -> Decision:
    return Decision(approve, "officer", unit, AT, **options)  # type: ignore[arg-type]


def test_every_ending_is_final_and_only_the_listed_transitions_exist() -> None:
    ended = {TransferState.REFUSED, TransferState.COMPLETED, TransferState.REJECTED}
    ended |= {TransferState.CANCELLED, TransferState.STOPPED}
    assert {state for state, _ in TRANSITIONS} == {
        TransferState.REQUESTED,
        TransferState.IN_PROGRESS,
    }
    assert set(TRANSITIONS.values()) == ended | {TransferState.IN_PROGRESS}
    for state in ended:
        for action in Action:
            with pytest.raises(IllegalTransition):
                next_state(state, action)
    with pytest.raises(IllegalTransition):
        next_state(TransferState.REQUESTED, Action.COMPLETE)
    assert {s for s, _ in STEP_TRANSITIONS} == {StepState.PENDING, StepState.OPEN}
    with pytest.raises(IllegalTransition):
        next_step_state(StepState.PENDING, StepAction.APPROVE)
    with pytest.raises(IllegalTransition):
        next_step_state(StepState.APPROVED, StepAction.VOID)


def test_steps_open_one_at_a_time_and_the_last_approval_completes() -> None:
    transfer = saga()
    first = transfer.start(OPENED, due_in_ten)
    assert transfer.state is TransferState.IN_PROGRESS
    assert [s.state for s in transfer.steps] == [
        StepState.OPEN,
        StepState.PENDING,
        StepState.PENDING,
    ]
    assert (first.opened_on, first.due_on) == (OPENED, date(2026, 9, 21))

    second = transfer.approve(first, decided_by("province:41"), on=OPENED, deadline_of=due_in_ten)
    assert second is transfer.steps[1] and transfer.open_step is second
    third = transfer.approve(second, decided_by("county:410105"), on=OPENED, deadline_of=due_in_ten)
    assert third is transfer.steps[2]
    assert (
        transfer.approve(third, decided_by("school:4101020001"), on=OPENED, deadline_of=due_in_ten)
        is None
    )

    transfer.complete(AT, date(2026, 9, 8), archive_handover_days=30)
    assert transfer.state.value == "completed"
    assert transfer.archive_due_on == date(2026, 10, 8)
    assert [s.state for s in transfer.steps] == [StepState.APPROVED] * 3


def test_a_transfer_with_undecided_steps_cannot_complete() -> None:
    transfer = saga()
    transfer.start(OPENED, due_in_ten)
    with pytest.raises(IllegalTransition):
        transfer.complete(AT, OPENED, 30)


def test_a_rejection_voids_the_rest_and_tells_every_party_that_had_the_transfer() -> None:
    transfer = saga()
    first = transfer.start(OPENED, due_in_ten)
    first.overdue_notified_at = AT  # national's list: national is never told by message
    second = transfer.approve(first, decided_by("province:41"), on=OPENED, deadline_of=due_in_ten)
    assert second is not None
    second.overdue_notified_at = AT

    transfer.reject(second, decided_by("province:41", False, intervention=True, reason="late"))

    assert transfer.state is TransferState.REJECTED
    assert transfer.closing_rule == "rejected_by_party"
    assert transfer.closing_reason == (
        "receiving_authority (province:41) rejected the transfer: late"
    )
    assert [s.state for s in transfer.steps] == [
        StepState.APPROVED,
        StepState.REJECTED,
        StepState.VOID,
    ]
    assert transfer.units_to_tell_of_closing("national:CN") == [
        "school:4101050001", "province:41", "county:410105",
    ]  # fmt: skip


def test_an_automatic_rejection_keeps_its_rule() -> None:
    transfer = saga()
    first = transfer.start(OPENED, due_in_ten)
    transfer.reject(first, decided_by("province:41", False, rule="under_discipline"))
    assert transfer.closing_rule == "under_discipline"


@pytest.mark.parametrize(
    ("end", "state"),
    [
        (lambda t: t.cancel("the family stays", AT), TransferState.CANCELLED),
        (lambda t: t.stop("status_changed", "now suspended", AT), TransferState.STOPPED),
    ],
)
def test_cancel_and_stop_void_the_open_and_pending_steps(end: object, state: TransferState) -> None:
    transfer = saga()
    transfer.start(OPENED, due_in_ten)
    end(transfer)  # type: ignore[operator]
    assert transfer.state is state and not transfer.is_active
    assert {s.state for s in transfer.steps} == {StepState.VOID}
    with pytest.raises(IllegalTransition):
        transfer.cancel("again", AT)


def test_a_refused_request_never_opens_a_step() -> None:
    transfer = Transfer("t", "G1", "a", "b")
    transfer.refuse("suspended", "Henan (HA art. 11(四)): no transfer while suspended", AT)
    assert transfer.state is TransferState.REFUSED and transfer.ended_at == AT
    with pytest.raises(IllegalTransition):
        transfer.start(OPENED, due_in_ten)


def test_the_party_decides_and_its_superior_only_once_the_step_is_overdue() -> None:
    step = saga().steps[1]
    step.open(OPENED, Deadline(date(2026, 9, 21)))
    assert step.entitled("county:410105", date(2026, 9, 30)) is False
    with pytest.raises(NotEntitled, match="only once it is overdue"):
        step.entitled("province:41", date(2026, 9, 21))  # the due date is still in time
    assert step.entitled("province:41", date(2026, 9, 22)) is True
    with pytest.raises(NotEntitled, match="neither the party"):
        step.entitled("county:410102", date(2026, 9, 30))
    assert step.concerns("province:41") and not step.concerns("national:CN")
    step.overdue_notified_at = AT  # the sweep, run for a later day, reported it overdue
    assert step.entitled("province:41", date(2026, 9, 8)) is True
