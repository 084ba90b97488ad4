"""The messages the transfer saga sends, and how it sends them.

Every message of a transfer carries the transfer's correlation id (the one its request came
with), whoever caused it: a party's decision, national's deadline sweep or an officer's
intervention. National is always the source.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import RegistryEntry, TransferRecord
from services.national.domain.transfer import Step, Transfer
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import (
    ProofRef,
    StudentSummary,
    TransferClosed,
    TransferCompleted,
    TransferRefused,
    TransferStepOpened,
    TransferStepOverdue,
    TransferStepReminder,
    WindowException,
)
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.emit import HeldMessages
from shared.messaging.envelope import Contract


@dataclass(frozen=True)
class Outbox:
    """The saga's messages through the kernel's :class:`~shared.messaging.emit.Emit` port:
    national is the source, the transfer's correlation id the flow; ``causation_id`` and
    ``trace_context`` continue an incoming message when there is one. A send stages its
    messages in one statement; given ``held``, they wait there instead, for the caller to
    stage with those of other messages in one statement (:meth:`stage_held`)."""

    session: AsyncSession
    causation_id: uuid.UUID | None = None
    trace_context: dict[str, str] | None = None
    held: HeldMessages | None = None

    async def send(self, payload: Contract, *, to: str, record: TransferRecord) -> None:
        await self.send_all(payload, to=[to], record=record)

    async def send_all(self, payload: Contract, *, to: list[str], record: TransferRecord) -> None:
        """The same message to several units, staged in one statement."""
        held = self.held if self.held is not None else HeldMessages()
        emit = held.emitter(
            NATIONAL,
            correlation_id=uuid.UUID(record.correlation_id),
            causation_id=self.causation_id,
            trace_context=self.trace_context,
        )
        for unit in to:
            await emit(payload, target=UnitRef.parse(unit))
        if self.held is None:
            await held.stage(self.session)

    async def stage_held(self) -> None:
        """Stage the held messages (in the order they were sent) in one statement."""
        if self.held is not None:
            await self.held.stage(self.session)


def school_unit(code: str) -> str:
    return str(UnitRef(tier=Tier.SCHOOL, code=code))


def province_unit(code: str) -> str:
    return str(UnitRef(tier=Tier.PROVINCE, code=code))


def summary_of(entry: RegistryEntry, grade: int | None = None) -> StudentSummary:
    """The basic facts a deciding party sees."""
    return StudentSummary.model_validate(
        {
            "name": entry.name,
            "gender": entry.gender,
            "birth_date": entry.birth_date,
            "grade": grade if grade is not None else entry.grade,
        }
    )


def basic_of(entry: RegistryEntry, grade: int) -> BasicInfo:
    """The registry's basic info, for the receiving school's roster."""
    fields: dict[str, Any] = {
        name: getattr(entry, name)
        for name in ("name", "gender", "birth_date", "id_type", "id_number", "nationality")
    }
    fields |= {"ethnicity": entry.ethnicity, "grade": grade, "enrolled_on": entry.enrolled_on}
    return BasicInfo.model_validate(fields)


def proofs_of(record: TransferRecord) -> tuple[ProofRef, ...]:
    return tuple(ProofRef.model_validate(ref) for ref in record.proof_refs)


def refused(record: TransferRecord) -> TransferRefused:
    return TransferRefused(
        transfer_id=uuid.UUID(record.transfer_id),
        rule=record.closing_rule or "",
        reason=record.closing_reason or "",
    )


def step_opened(record: TransferRecord, step: Step, entry: RegistryEntry) -> TransferStepOpened:
    assert step.opened_on is not None and step.due_on is not None
    return TransferStepOpened(
        transfer_id=uuid.UUID(record.transfer_id),
        step_id=uuid.UUID(step.step_id),
        role=step.role,  # a PartyRole by construction (rulebook)
        student_number=entry.student_number,  # the current one (an L number may be G now)
        student=summary_of(entry),
        from_school=record.from_school,
        to_school=record.to_school,
        reason=record.reason,
        opened_on=step.opened_on,
        due_on=step.due_on,
        due_approximate=step.due_approximate,
        proofs=proofs_of(record),
        window_exception=_window_exception(record, step),
    )


def _window_exception(record: TransferRecord, step: Step) -> WindowException | None:
    """Told to the receiving authority, who grants it (decision 0035)."""
    if record.window_exception is None or step.role != "receiving_authority":
        return None
    return WindowException.model_validate(record.window_exception)


def closed(saga: Transfer, outcome: str) -> TransferClosed:
    return TransferClosed.model_validate(
        {
            "transfer_id": saga.transfer_id,
            "outcome": outcome,
            "reason": saga.closing_reason or outcome,
            "rule": saga.closing_rule,
        }
    )


def completed(record: TransferRecord, saga: Transfer, entry: RegistryEntry) -> TransferCompleted:
    assert saga.ended_at is not None and saga.archive_due_on is not None
    return TransferCompleted(
        transfer_id=uuid.UUID(record.transfer_id),
        student_number=entry.student_number,
        from_school=record.from_school,
        to_school=record.to_school,
        grade=record.grade,
        class_name=record.class_name,
        completed_at=saga.ended_at,
        archive_due_on=saga.archive_due_on,
        student=summary_of(entry, record.grade),
        basic=basic_of(entry, record.grade),
        proofs=proofs_of(record),
    )


def completed_targets(record: TransferRecord) -> list[str]:
    """Both schools, the sending and the receiving province (once if they are the same)."""
    units = [
        school_unit(record.from_school),
        school_unit(record.to_school),
        province_unit(record.from_province),
        province_unit(record.to_province),
    ]
    return list(dict.fromkeys(units))


def reminder(
    record: TransferRecord, step_id: str, role: str, due_on: date, left: int
) -> TransferStepReminder:
    return TransferStepReminder.model_validate(
        {
            "transfer_id": record.transfer_id,
            "step_id": step_id,
            "role": role,
            "due_on": due_on,
            "working_days_left": left,
        }
    )


def overdue(record: TransferRecord, step: Step, entry: RegistryEntry) -> TransferStepOverdue:
    return TransferStepOverdue.model_validate(
        {
            "transfer_id": record.transfer_id,
            "step_id": step.step_id,
            "role": step.role,
            "party": step.party_unit,
            "student_number": entry.student_number,
            "student": summary_of(entry),
            "from_school": record.from_school,
            "to_school": record.to_school,
            "due_on": step.due_on,
            "reason": record.reason,
            "proofs": proofs_of(record),
        }
    )
