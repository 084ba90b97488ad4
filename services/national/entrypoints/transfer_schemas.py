"""What the transfer endpoints read and write: basic facts, steps, deadlines, decisions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.national.adapters.orm import TransferRecord
from services.national.adapters.transfer_repository import LoadedTransfer, StepRow
from services.national.domain.transfer import Step
from shared.clock import Timestamp

UNIT_REF = r"^(national|province|county|school):[0-9A-Z]{2,12}$"


class TransferStepRead(BaseModel):
    """One deciding party's step: until when, and who decided (an intervention is the
    superior deciding for a late party)."""

    step_id: uuid.UUID
    seq: int
    role: str
    party_unit: str
    superior_unit: str
    state: Literal["pending", "open", "approved", "rejected", "void"]
    opened_on: date | None
    due_on: date | None
    due_approximate: bool = Field(description="the due date counted a year without holiday data")
    reminded_at: Timestamp | None
    overdue_notified_at: Timestamp | None
    decided_by: str | None
    decided_unit: str | None
    decided_at: Timestamp | None
    intervention: bool
    reason: str | None
    rule: str | None

    @classmethod
    def of(cls, step: Step) -> TransferStepRead:
        decision = step.decision
        return cls(
            step_id=uuid.UUID(step.step_id),
            seq=step.seq,
            role=step.role,
            party_unit=step.party_unit,
            superior_unit=step.superior_unit,
            state=step.state.value,
            opened_on=step.opened_on,
            due_on=step.due_on,
            due_approximate=step.due_approximate,
            reminded_at=step.reminded_at,
            overdue_notified_at=step.overdue_notified_at,
            decided_by=decision.decided_by if decision else None,
            decided_unit=decision.decided_unit if decision else None,
            decided_at=decision.decided_at if decision else None,
            intervention=decision.intervention if decision else False,
            reason=decision.reason if decision else None,
            rule=decision.rule if decision else None,
        )


class WaitingFor(BaseModel):
    """The open step: who the transfer waits for, and until when."""

    step_id: uuid.UUID
    role: str
    party_unit: str
    due_on: date | None


class WindowExceptionRead(BaseModel):
    """A request outside the receiving province's transfer window, by exception (一般, HA
    art. 11(三), ZJ art. 13; decision 0035): the school's reason, and the receiving
    authority's grant (its step's approval, audited on its desk) once given."""

    rule: str
    article: str
    window: str = Field(description="the window the request fell outside")
    reason: str = Field(description="the receiving school's reason")
    state: Literal["asked", "granted", "refused"]
    decided_by: str | None
    decided_unit: str | None
    decided_at: Timestamp | None
    decision_reason: str | None = Field(description="the authority's reason")

    @classmethod
    def of(cls, record: TransferRecord, steps: list[Step]) -> WindowExceptionRead | None:
        if record.window_exception is None:
            return None
        grantor = next((s for s in steps if s.role == "receiving_authority"), None)
        decision = grantor.decision if grantor else None
        state: Literal["asked", "granted", "refused"] = "asked"
        if decision is not None:
            state = "granted" if decision.approve else "refused"
        return cls(
            **record.window_exception,
            state=state,
            decided_by=decision.decided_by if decision else None,
            decided_unit=decision.decided_unit if decision else None,
            decided_at=decision.decided_at if decision else None,
            decision_reason=decision.reason if decision else None,
        )


class TransferRead(BaseModel):
    transfer_id: uuid.UUID
    student_number: str
    state: Literal[
        "requested", "in_progress", "completed", "rejected", "cancelled", "stopped", "refused"
    ]
    from_school: str
    to_school: str
    from_province: str
    to_province: str
    grade: int
    class_name: str | None
    reason: str
    requested_on: date
    created_at: Timestamp
    completed_at: Timestamp | None
    closed_at: Timestamp | None
    closing_rule: str | None
    closing_reason: str | None
    archive_due_on: date | None = Field(description="the archive hand-over deadline")
    waiting_for: WaitingFor | None
    window_exception: WindowExceptionRead | None = Field(
        None, description="requested outside the receiving window by exception (decision 0035)"
    )
    steps: list[TransferStepRead]

    @classmethod
    def of(cls, loaded: LoadedTransfer) -> TransferRead:
        record, saga = loaded.record, loaded.saga
        step = saga.open_step
        waiting = None
        if step is not None:
            waiting = WaitingFor(
                step_id=uuid.UUID(step.step_id),
                role=step.role,
                party_unit=step.party_unit,
                due_on=step.due_on,
            )
        return cls(
            **_facts(record),
            state=saga.state.value,
            closing_rule=saga.closing_rule,
            closing_reason=saga.closing_reason,
            archive_due_on=saga.archive_due_on,
            waiting_for=waiting,
            window_exception=WindowExceptionRead.of(record, saga.steps),
            steps=[TransferStepRead.of(s) for s in saga.steps],
        )


def _facts(record: TransferRecord) -> dict[str, object]:
    names = (
        "student_number", "from_school", "to_school", "from_province", "to_province", "grade",
        "class_name", "reason", "requested_on", "created_at", "completed_at", "closed_at",
    )  # fmt: skip
    return {"transfer_id": uuid.UUID(record.transfer_id)} | {
        name: getattr(record, name) for name in names
    }


class TransferList(BaseModel):
    items: list[TransferRead]


class OverdueStepRead(BaseModel):
    transfer_id: uuid.UUID
    step_id: uuid.UUID
    role: str
    party_unit: str
    superior_unit: str
    student_number: str
    from_school: str
    to_school: str
    opened_on: date | None
    due_on: date | None
    due_approximate: bool
    overdue_notified_at: Timestamp | None = Field(
        description="when the superior was told (null: the sweep has not run since)"
    )

    @classmethod
    def of(cls, row: StepRow) -> OverdueStepRead:
        step, record = row.step, row.transfer
        return cls(
            transfer_id=uuid.UUID(record.transfer_id),
            step_id=uuid.UUID(step.step_id),
            role=step.role,
            party_unit=step.party_unit,
            superior_unit=step.superior_unit,
            student_number=record.student_number,
            from_school=record.from_school,
            to_school=record.to_school,
            opened_on=step.opened_on,
            due_on=step.due_on,
            due_approximate=step.due_approximate,
            overdue_notified_at=step.overdue_notified_at,
        )


class OverdueList(BaseModel):
    unit: str
    as_of: date
    items: list[OverdueStepRead]


class InterventionCreate(BaseModel):
    """A national officer decides an overdue province step (HA art. 11(三))."""

    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=500, description="why; recorded and sent on")


class SweepCreate(BaseModel):
    as_of: date | None = Field(default=None, description="the day to sweep for; default today")


class SweepRead(BaseModel):
    as_of: date
    reminders: int = Field(description="transfer.step_reminder sent to parties")
    overdue: int = Field(description="transfer.step_overdue sent to superiors")
    overdue_at_national: int = Field(description="province steps now on national's own list")


class TermReportsCreate(BaseModel):
    term_end: date = Field(description="a term's last day, one of the provinces' term_ends")


class TermReportsRead(BaseModel):
    term_end: date
    reports: int = Field(description="transfer.term_report sent: one per reporting school")
    transfers: int = Field(description="transfers in and out listed in them")
    provinces: list[str] = Field(description="the provinces whose term ends that day")
