"""The transfer saga (转学, N2013 art. 14; N2025 art. 15) as one explicit state machine.

National runs every transfer (一网通办): the receiving school asks, national checks the
registry rules, then asks each deciding party in turn — one step open at a time, each with a
due date of N Chinese working days — and finally moves the registration in one commit.
Everything here is data: the steps, their deadlines, who decided and whether it was the
superior stepping in for a late party (HA art. 11(三)). Standard library only.

The transfer::

```mermaid
stateDiagram-v2
    [*] --> requested: transfer.requested
    requested --> refused: refuse (a registry rule says no; nothing opens)
    requested --> in_progress: start (the first step opens)
    in_progress --> in_progress: approve (a step is approved, the next one opens)
    in_progress --> completed: complete (the last step is approved; the registry moves)
    in_progress --> rejected: reject (a party or its superior says no)
    in_progress --> cancelled: cancel (the receiving school withdraws)
    in_progress --> stopped: stop (the student's status changed meanwhile)
    refused --> [*]
    completed --> [*]
    rejected --> [*]
    cancelled --> [*]
    stopped --> [*]
```

Each step::

```mermaid
stateDiagram-v2
    [*] --> pending
    pending --> open: open (its turn; opened_on, due_on set)
    open --> approved: approve
    open --> rejected: reject
    pending --> void: void (the transfer ended first)
    open --> void: void (the transfer ended first)
```

The tables :data:`TRANSITIONS` and :data:`STEP_TRANSITIONS` are the whole of both machines:
every change of ``state`` goes through :func:`next_state` / :func:`next_step_state`, which
raise :class:`IllegalTransition` for anything not listed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum


class TransferState(StrEnum):
    REQUESTED = "requested"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    REFUSED = "refused"


class StepState(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    VOID = "void"


class Action(StrEnum):
    REFUSE = "refuse"
    START = "start"
    APPROVE = "approve"
    COMPLETE = "complete"
    REJECT = "reject"
    CANCEL = "cancel"
    STOP = "stop"


class StepAction(StrEnum):
    OPEN = "open"
    APPROVE = "approve"
    REJECT = "reject"
    VOID = "void"


T, S = TransferState, StepState
TRANSITIONS: Mapping[tuple[TransferState, Action], TransferState] = {
    (T.REQUESTED, Action.REFUSE): T.REFUSED,
    (T.REQUESTED, Action.START): T.IN_PROGRESS,
    (T.IN_PROGRESS, Action.APPROVE): T.IN_PROGRESS,
    (T.IN_PROGRESS, Action.COMPLETE): T.COMPLETED,
    (T.IN_PROGRESS, Action.REJECT): T.REJECTED,
    (T.IN_PROGRESS, Action.CANCEL): T.CANCELLED,
    (T.IN_PROGRESS, Action.STOP): T.STOPPED,
}
STEP_TRANSITIONS: Mapping[tuple[StepState, StepAction], StepState] = {
    (S.PENDING, StepAction.OPEN): S.OPEN,
    (S.OPEN, StepAction.APPROVE): S.APPROVED,
    (S.OPEN, StepAction.REJECT): S.REJECTED,
    (S.PENDING, StepAction.VOID): S.VOID,
    (S.OPEN, StepAction.VOID): S.VOID,
}
# A transfer in one of these holds the student (``registry_entry.active_transfer_id``).
ACTIVE = frozenset({T.REQUESTED, T.IN_PROGRESS})
ENDED = frozenset(set(TransferState) - ACTIVE)

# Closing rules national itself sets (the refusal rules are in transfer_rules).
RULE_REJECTED = "rejected_by_party"
RULE_CANCELLED = "cancelled_by_receiving_school"
RULE_STATUS_CHANGED = "status_changed"


class IllegalTransition(Exception):
    """A transition the tables do not list (a bug in the caller, never a business outcome)."""


def next_state(state: TransferState, action: Action) -> TransferState:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(f"a {state} transfer cannot {action}") from None


def next_step_state(state: StepState, action: StepAction) -> StepState:
    try:
        return STEP_TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(f"a {state} step cannot {action}") from None


@dataclass(frozen=True)
class Deadline:
    """When a step is due; ``approximate`` if it counted days of a year without holiday data."""

    due_on: date
    approximate: bool = False


# The due date of a step opened on a day: the party's province calendar, its working days.
DeadlineOf = Callable[["Step", date], Deadline]


@dataclass(frozen=True)
class Decision:
    """Who decided a step, how, and whether as the late party's superior."""

    approve: bool
    decided_by: str
    decided_unit: str
    decided_at: datetime
    intervention: bool = False
    reason: str | None = None
    rule: str | None = None  # behind an automatic rejection (e.g. under_discipline)


class NotEntitled(Exception):
    """The unit may not decide this step (now): the decision can never apply."""


class NoSay(NotEntitled):
    """The unit is no party to the transfer or step at all (neither the party nor its
    superior; not the receiving school): a security refusal when it comes as a message."""


@dataclass
class Step:
    """One deciding party's step: ``role`` played by ``party_unit``; ``superior_unit`` may
    decide instead once the step is overdue."""

    step_id: str
    seq: int
    role: str
    party_unit: str
    superior_unit: str
    state: StepState = StepState.PENDING
    opened_on: date | None = None
    due_on: date | None = None
    due_approximate: bool = False
    reminded_at: datetime | None = None
    overdue_notified_at: datetime | None = None
    decision: Decision | None = None

    def open(self, on: date, deadline: Deadline) -> None:
        self.state = next_step_state(self.state, StepAction.OPEN)
        self.opened_on, self.due_on, self.due_approximate = (
            on,
            deadline.due_on,
            deadline.approximate,
        )

    def decide(self, decision: Decision) -> None:
        action = StepAction.APPROVE if decision.approve else StepAction.REJECT
        self.state = next_step_state(self.state, action)
        self.decision = decision

    def void(self) -> None:
        self.state = next_step_state(self.state, StepAction.VOID)

    def is_overdue(self, as_of: date) -> bool:
        """Open past its due date: the due date is the last day to act."""
        return self.state is StepState.OPEN and self.due_on is not None and as_of > self.due_on

    def concerns(self, unit: str) -> bool:
        """Whether ``unit`` may ever decide this step: its party or the party's superior."""
        return unit in (self.party_unit, self.superior_unit)

    def entitled(self, unit: str, as_of: date) -> bool:
        """Whether ``unit`` may decide this step now; ``True`` means as an intervention.

        The party may; its superior only once the step is overdue (HA art. 11(三)): past its
        due date on ``as_of``, or reported overdue by the sweep (which may have been run for a
        later day than national's today: what national told the superior holds). Anyone else
        never: :class:`NotEntitled`.
        """
        if unit == self.party_unit:
            return False
        if unit != self.superior_unit:
            raise NoSay(
                f"{unit} is neither the party ({self.party_unit}) of step {self.step_id} "
                f"nor its superior ({self.superior_unit})"
            )
        if not (self.is_overdue(as_of) or self.overdue_notified_at is not None):
            raise NotEntitled(
                f"{unit} may intervene in step {self.step_id} only once it is overdue "
                f"(due {self.due_on}, today {as_of})"
            )
        return True


@dataclass
class Transfer:
    """One transfer of one student from ``from_school`` to ``to_school`` and its steps."""

    transfer_id: str
    student_number: str
    from_school: str
    to_school: str
    steps: list[Step] = field(default_factory=list)
    state: TransferState = TransferState.REQUESTED
    closing_rule: str | None = None
    closing_reason: str | None = None
    ended_at: datetime | None = None
    archive_due_on: date | None = None

    @property
    def receiving_school_unit(self) -> str:
        return f"school:{self.to_school}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE

    @property
    def open_step(self) -> Step | None:
        return next((s for s in self.steps if s.state is StepState.OPEN), None)

    def step(self, step_id: uuid.UUID) -> Step | None:
        key = str(step_id)  # steps keep their ids as the database stores them
        return next((s for s in self.steps if s.step_id == key), None)

    def refuse(self, rule: str, reason: str, at: datetime) -> None:
        self._end(Action.REFUSE, rule, reason, at)

    def start(self, on: date, deadline_of: DeadlineOf) -> Step:
        """Open the first step (a transfer without steps cannot start: the plan is never empty)."""
        self.state = next_state(self.state, Action.START)
        return self._open_next(on, deadline_of)

    def approve(
        self, step: Step, decision: Decision, *, on: date, deadline_of: DeadlineOf
    ) -> Step | None:
        """Record the approval; open the next step, or return ``None`` when it was the last
        one (then call :meth:`complete`)."""
        step.decide(decision)
        if self._pending():
            self.state = next_state(self.state, Action.APPROVE)
            return self._open_next(on, deadline_of)
        return None

    def complete(self, at: datetime, on: date, archive_handover_days: int) -> None:
        """Every step approved: the archive is due ``archive_handover_days`` calendar days
        after the completion date (N2013 art. 15: within 1 month)."""
        if self.open_step is not None or self._pending():
            raise IllegalTransition("a transfer with undecided steps cannot complete")
        self.state = next_state(self.state, Action.COMPLETE)
        self.ended_at = at
        self.archive_due_on = on + timedelta(days=archive_handover_days)

    def reject(self, step: Step, decision: Decision) -> None:
        step.decide(decision)
        reason = f"{step.role} ({decision.decided_unit}) rejected the transfer"
        if decision.reason:
            reason = f"{reason}: {decision.reason}"
        self._end(Action.REJECT, decision.rule or RULE_REJECTED, reason[:500], decision.decided_at)

    def cancel(self, reason: str, at: datetime) -> None:
        self._end(Action.CANCEL, RULE_CANCELLED, reason, at)

    def stop(self, rule: str, reason: str, at: datetime) -> None:
        self._end(Action.STOP, rule, reason, at)

    def units_to_tell_of_closing(self, national: str) -> list[str]:
        """Who hears that the transfer ended without moving the student: the receiving
        school, every party whose step was opened, and every superior that was told of an
        overdue step (they have it on their list) — each once, national never."""
        units = [self.receiving_school_unit]
        for step in self.steps:
            if step.opened_on is not None:
                units.append(step.party_unit)
            if step.overdue_notified_at is not None:
                units.append(step.superior_unit)
        return [u for u in dict.fromkeys(units) if u != national]

    # -- internals ------------------------------------------------------------------------

    def _pending(self) -> list[Step]:
        return [s for s in self.steps if s.state is StepState.PENDING]

    def _open_next(self, on: date, deadline_of: DeadlineOf) -> Step:
        pending = self._pending()
        if not pending:
            raise IllegalTransition("no step left to open")
        step = pending[0]
        step.open(on, deadline_of(step, on))
        return step

    def _end(self, action: Action, rule: str, reason: str, at: datetime) -> None:
        self.state = next_state(self.state, action)
        for step in self.steps:
            if step.state in (StepState.PENDING, StepState.OPEN):
                step.void()
        self.closing_rule, self.closing_reason, self.ended_at = rule, reason, at
