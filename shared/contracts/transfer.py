"""Transfer (转学) across tiers — DOMAIN.md §5, N2013 arts. 14-16, N2025 art. 15, HA art. 11,
LS 2(一), ZJ art. 13.

The national service runs every transfer as one saga (一网通办): it holds the only authoritative
"current school" of a student, so the switch from the sending to the receiving school is one
committed update there, and at most one transfer per student can be active.

1. receiving school → national: ``transfer.requested`` (basic facts only; proofs stay at the
   receiving school and are fetched by the deciding parties through its API).
2. national checks the registry-level rules (status, grade, graduating year, window, one active
   transfer) and refuses with ``transfer.refused`` (reason + rule), or opens the steps one by
   one in the order the provinces configure: ``transfer.step_opened`` → the party (a school, a
   county or a province), each with a due date of 10 Chinese working days.
3. the party (or, once overdue, its superior as an intervention) answers ``transfer.step_decided``.
   ``transfer.step_reminder`` and ``transfer.step_overdue`` are sent by national's deadline sweep.
4. all approved → national switches the registry and sends ``transfer.completed`` to both schools
   and both provinces; a rejection or ``transfer.cancel_requested`` (receiving school) ends it with
   ``transfer.closed`` to every party with an open step, leaving everything as it was.
5. on completion the sending province hands the archive to the receiving province
   (``archive.handed_over``, the only message that carries non-basic data across a border), which
   answers ``archive.received``; the sending school keeps a read-only backup.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.students import BasicInfo, Gender
from shared.contracts.tiers import (
    AUTHORITY_TIERS,
    NATIONAL_TIER,
    PARTY_TIERS,
    PROVINCE_TIER,
    SCHOOL_AND_PROVINCE,
    SCHOOL_TIER,
)
from shared.messaging.envelope import Contract, contract

PartyRole = Literal[
    "sending_school",
    "sending_authority",
    "receiving_authority",
    "sending_province",
    "receiving_province",
]
Decision = Literal["approve", "reject"]


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProofRef(_Item):
    """A proof kept by the receiving school, by position and kind only: national passes these
    on without ever holding the files or their names (which can carry personal data).

    Fetched from ``GET <receiving school>/api/v1/transfers/{transfer_id}/proofs/{index}``.
    """

    index: int = Field(ge=0)
    kind: str = Field(max_length=40, description="e.g. origin_registration_proof")


class StudentSummary(_Item):
    """The basic facts a deciding party sees (basic info only)."""

    name: str = Field(max_length=50)
    gender: Gender
    birth_date: date
    grade: int = Field(ge=1, le=12)


@contract("transfer.requested", 1, senders=SCHOOL_TIER, targets=NATIONAL_TIER)
class TransferRequested(Contract):
    transfer_id: uuid.UUID
    student_number: str
    from_school: str
    to_school: str
    grade: int = Field(
        ge=1, le=12, description="the grade the receiving school will place the student in"
    )
    class_name: str | None = Field(default=None, max_length=40)
    reason: str = Field(min_length=1, max_length=500)
    requested_on: date
    proofs: tuple[ProofRef, ...] = ()
    window_exception_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="outside the receiving province's transfer window (一般, HA art. 11(三), "
        "ZJ art. 13): why an exception is asked; the receiving authority grants it by "
        "approving its step (decision 0035)",
    )


class WindowException(_Item):
    """A transfer requested outside the receiving province's window, by exception (decision
    0035): the receiving authority's approval of its step grants it."""

    rule: str = Field(max_length=60, description="transfer_window")
    article: str = Field(max_length=60, description="e.g. HA art. 11(三)")
    window: str = Field(max_length=500, description="the window the request falls outside")
    reason: str = Field(max_length=500, description="the receiving school's reason")


@contract("transfer.cancel_requested", 1, senders=SCHOOL_TIER, targets=NATIONAL_TIER)
class TransferCancelRequested(Contract):
    transfer_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


@contract("transfer.step_opened", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class TransferStepOpened(Contract):
    transfer_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole
    student_number: str
    student: StudentSummary
    from_school: str
    to_school: str
    reason: str
    opened_on: date
    due_on: date
    due_approximate: bool = Field(
        description="true when the due date counted days of a year without holiday data"
    )
    proofs: tuple[ProofRef, ...] = ()
    window_exception: WindowException | None = Field(
        default=None, description="the window exception the receiving authority grants"
    )


@contract("transfer.step_decided", 1, senders=PARTY_TIERS, targets=NATIONAL_TIER)
class TransferStepDecided(Contract):
    transfer_id: uuid.UUID
    step_id: uuid.UUID
    decision: Decision
    reason: str | None = Field(default=None, max_length=500)
    decided_by: str = Field(max_length=80, description="the person or 'system'")
    decided_unit: str = Field(description="unit reference of who decided")
    intervention: bool = Field(
        default=False, description="decided by the superior on the party's behalf (HA art. 11(三))"
    )
    rule: str | None = Field(
        default=None,
        max_length=60,
        description="the rule behind an automatic rejection (e.g. under_discipline), if any",
    )


@contract("transfer.step_settled", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class TransferStepSettled(Contract):
    """A step was decided by someone else than the unit told: the late party, when its
    superior intervened, or the superior, when the late party decided after all. Its task for
    that step is void."""

    transfer_id: uuid.UUID
    step_id: uuid.UUID
    decision: Decision
    decided_unit: str
    intervention: bool


@contract("transfer.step_reminder", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class TransferStepReminder(Contract):
    transfer_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole
    due_on: date
    working_days_left: int


@contract("transfer.step_overdue", 1, senders=NATIONAL_TIER, targets=AUTHORITY_TIERS)
class TransferStepOverdue(Contract):
    """To the superior authority of a party that let its step pass the due date."""

    transfer_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole
    party: str = Field(description="unit reference of the late party")
    student_number: str
    student: StudentSummary
    from_school: str
    to_school: str
    due_on: date
    # what the superior reads before deciding in the party's place, as the party's step had it
    reason: str | None = Field(default=None, description="why the family asks for the transfer")
    proofs: tuple[ProofRef, ...] = ()


@contract("transfer.refused", 1, senders=NATIONAL_TIER, targets=SCHOOL_TIER)
class TransferRefused(Contract):
    """National refused to start (or stopped) a transfer: which rule, and why."""

    transfer_id: uuid.UUID
    rule: str = Field(max_length=60)
    reason: str = Field(max_length=500)


@contract("transfer.closed", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class TransferClosed(Contract):
    """The transfer ended without moving the student; open steps are void."""

    transfer_id: uuid.UUID
    outcome: Literal["rejected", "cancelled", "stopped"]
    reason: str = Field(max_length=500)
    rule: str | None = Field(default=None, max_length=60)


@contract("transfer.completed", 1, senders=NATIONAL_TIER, targets=SCHOOL_AND_PROVINCE)
class TransferCompleted(Contract):
    transfer_id: uuid.UUID
    student_number: str
    from_school: str
    to_school: str
    grade: int = Field(ge=1, le=12)
    class_name: str | None = None
    completed_at: datetime
    archive_due_on: date = Field(description="hand-over deadline of the archive (N2013 art. 15)")
    student: StudentSummary
    basic: BasicInfo | None = Field(
        default=None,
        description="the student's basic info as the registry holds it, for the receiving "
        "school's roster (identity document, nationality, enrolment date)",
    )
    proofs: tuple[ProofRef, ...] = Field(
        default=(),
        description="the transfer's proofs, kept by the receiving school: the provinces link "
        "them in the archive's section 2 (N2013 arts. 7(二), 13)",
    )


@contract("archive.handed_over", 1, senders=PROVINCE_TIER, targets=PROVINCE_TIER)
class ArchiveHandedOver(Contract):
    """Sending province → receiving province: the whole archive of a transferred student."""

    transfer_id: uuid.UUID
    student_number: str
    from_school: str
    to_school: str
    archive: dict[str, Any] = Field(
        description="extended info and archive entries, as the province keeps them"
    )


@contract("archive.received", 1, senders=PROVINCE_TIER, targets=PROVINCE_TIER)
class ArchiveReceived(Contract):
    transfer_id: uuid.UUID
    student_number: str
