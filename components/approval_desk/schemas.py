"""What the desk's HTTP API reads and writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.approval_desk.domain import (
    TRANSFER_KINDS,
    Decision,
    DecisionKind,
    ItemStatus,
    TaskKind,
    TaskStatus,
    is_overdue,
)
from shared.clock import Timestamp
from shared.contracts.registration import KeyFieldChanges
from shared.contracts.status import StatusChangeFacts
from shared.contracts.students import BasicInfo
from shared.contracts.transfer import PartyRole, StudentSummary
from shared.db.types import SQL_INT_MAX
from shared.runtime.bulk import MAX_ITEMS, WAIT


class FindingRead(BaseModel):
    rule: str
    message: str


class ExportTaskRead(BaseModel):
    """The export request an export approval is about (导出审批, N2013 art. 25): who asks,
    for what, and which fields of whom (the export itself is ``/api/v1/exports/{export_id}``)."""

    export_id: uuid.UUID
    population: str = Field(description="unit reference of the population, e.g. school:…")
    fields: list[str]
    purpose: str
    requested_by: str
    requester_unit: str


class TaskSummary(BaseModel):
    """One line of an officer's task list."""

    task_id: uuid.UUID
    kind: TaskKind
    status: TaskStatus
    authority_unit: str = Field(
        description="unit reference of the deciding unit, e.g. county:410102 (the name is "
        "the API's since the desk served only registry authorities)"
    )
    school_code: str | None = Field(description="the school the task concerns, if one")
    school_name: str | None
    subject_id: uuid.UUID = Field(
        description="the batch id, the key-field change id, the status change id, the "
        "transfer step id or the export id"
    )
    item_count: int = Field(description="registrations in the batch (0 for other kinds)")
    finding_count: int = Field(description="items (or changes) the authority's checks flagged")
    opened_at: Timestamp
    decided_at: Timestamp | None
    decided_by: str | None
    reason: str | None
    rule: str | None = Field(None, description="the rule behind an automatic rejection")
    transfer_id: uuid.UUID | None = Field(None, description="the transfer of a transfer task")
    due_on: date | None = Field(None, description="a transfer step's due date (Beijing)")
    due_approximate: bool | None = Field(
        None, description="the due date counted days of a year without holiday data"
    )
    overdue: bool = Field(False, description="open and past due_on today")
    reminded_at: Timestamp | None = Field(None, description="when national sent a reminder")
    export: ExportTaskRead | None = Field(
        None, description="an export approval's request: who asks, for whom, what, why"
    )


class TaskItemRead(BaseModel):
    registration_id: uuid.UUID
    basic: BasicInfo
    status: ItemStatus
    reason: str | None
    findings: list[FindingRead]
    proofs: list[int] = Field(
        default_factory=list,
        description="the indexes, among the task's proofs, of this registration's own (e.g. "
        "the approval an under-age first-grader carries, HA art. 4)",
    )


class KeyFieldChangeRead(BaseModel):
    student_number: str
    changes: KeyFieldChanges
    request_reason: str
    findings: list[FindingRead]
    hukou_region: str | None = Field(
        default=None, description="the new 户籍所在地 (a province-held key field)"
    )


class ProofRead(BaseModel):
    index: int
    kind: str
    filename: str
    size: int


class TransferProofRead(BaseModel):
    index: int
    kind: str
    url: str = Field(description="where the receiving school serves the file")


class TransferTaskRead(BaseModel):
    """The transfer a transfer task is about (basic info only)."""

    transfer_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole = Field(
        description="the step's role: this unit's own, or the late party's for an intervention"
    )
    student_number: str
    student: StudentSummary
    from_school: str
    to_school: str
    reason: str | None = Field(None, description="why the family asks for the transfer")
    opened_on: date | None = None
    proofs: list[TransferProofRead] = Field(default_factory=list)
    late_party: str | None = Field(
        None, description="intervention: unit reference of the party that let its step pass due"
    )


class ProgressionStudentRead(BaseModel):
    item_id: uuid.UUID = Field(description="the item's id: reject it to leave the student out")
    student_number: str
    status: str = Field(description="graduated | completed | incomplete")


class ProgressionTaskRead(BaseModel):
    """A party's step of a cohort's progression (升学核办, N2013 art. 14): the cohort is the
    task's items (basic info), each student's number and leaver status here."""

    progression_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole
    from_school: str
    to_school: str
    grade: int = Field(description="the grade the cohort enters at the receiving school")
    opened_on: date
    students: list[ProgressionStudentRead]
    late_party: str | None = Field(
        None, description="an intervention: the late party this unit decides for (HA art. 11(三))"
    )


class StatusChangeProofRead(BaseModel):
    index: int
    kind: str
    url: str = Field(description="where the school serves the file")


class StatusChangeTaskRead(BaseModel):
    """The status change a status-change task is about (basic facts only)."""

    student_number: str
    grade: int = Field(description="the student's grade on the school's roster")
    facts: StatusChangeFacts
    request_reason: str
    findings: list[FindingRead] = Field(
        default_factory=list, description="e.g. death_reported_late (N2025 art. 21)"
    )
    proofs: list[StatusChangeProofRead] = Field(default_factory=list)


class GraduationLineRead(BaseModel):
    student_number: str
    outcome: str = Field(description="graduated | completed | incomplete (ZJ art. 25)")


class GraduationTaskRead(BaseModel):
    """A school's graduating list (basic info only: student numbers and outcomes)."""

    graduation_year: int
    items: list[GraduationLineRead]
    counts: dict[str, int]
    late_reason: str | None = Field(None, description="why the list comes after July 30")
    findings: list[FindingRead]


class VerificationTaskRead(BaseModel):
    """A term check's findings at one school (学籍核查): ghosts and mismatches to fix."""

    campaign_id: uuid.UUID
    term: str
    attending: int
    registered: int
    findings: list[dict[str, str]] = Field(
        description="student_number, kind (ghost | unknown_number | registered_elsewhere | "
        "status_differs | grade_differs), detail"
    )


class FilingTaskRead(BaseModel):
    """What a school's change or roster files with its city (备案, LS 2(二)5, LS 6)."""

    filing: str = Field(description="graduating_suspension | yi_track_roster")
    subject_id: uuid.UUID = Field(description="the status change or registration batch")
    student_numbers: list[str]
    grade: int
    effective_on: date
    article: str


class AlertTaskRead(BaseModel):
    """An early warning (异常预警, N2025 art. 23): a school's week far outside its history."""

    kind: str = Field(description="registrations | departures")
    week_start: date = Field(description="the Monday of the week")
    observed: int = Field(description="in that week")
    mean: float = Field(description="the school's weekly mean over the weeks before")
    stdev: float = Field(description="their standard deviation")
    threshold: float
    weeks: int = Field(description="the weeks of history compared with")
    article: str


class DuplicateTaskRead(BaseModel):
    """A duplicate admission to resolve in favour of the school the student attends."""

    student_number: str
    real_school: str = Field(description="the school the student attends (its proof)")
    other_school: str = Field(description="the school whose registration is deleted")
    roles: list[str]
    reason: str
    proofs: list[TransferProofRead]


class TaskRead(TaskSummary):
    """A task with everything the officer reads before deciding."""

    items: list[TaskItemRead] = Field(description="the batch's registrations, basic info only")
    key_field_change: KeyFieldChangeRead | None
    proofs: list[ProofRead]
    transfer: TransferTaskRead | None = None
    progression: ProgressionTaskRead | None = None
    status_change: StatusChangeTaskRead | None = None
    graduation: GraduationTaskRead | None = None
    verification: VerificationTaskRead | None = None
    duplicate: DuplicateTaskRead | None = None
    filing: FilingTaskRead | None = None
    alert: AlertTaskRead | None = None


class TaskPage(BaseModel):
    items: list[TaskSummary]
    total: int
    limit: int
    offset: int


class TaskListQuery(BaseModel):
    """Filters and page of a task list (oldest first, or by due date)."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    kind: TaskKind | None = None
    overdue: bool = Field(default=False, description="only open tasks past their due date")
    school: str | None = Field(
        default=None, pattern=r"^\d{10}$", description="only the tasks about this school (code)"
    )
    order: Literal["opened", "due"] = Field(
        default="opened",
        description="opened: oldest first; due: earliest due date first, tasks without one "
        "(a registration batch) after them, oldest first",
    )
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=SQL_INT_MAX)
    wait: float = Field(default=0.0, **WAIT)


class RejectedItem(BaseModel):
    registration_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


class DecisionCreate(BaseModel):
    """An officer's decision. ``reason`` is required to reject; ``rejected_items`` approves a
    registration batch except the items listed, each with its own reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)
    rejected_items: list[RejectedItem] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> DecisionCreate:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        ids = [item.registration_id for item in self.rejected_items]
        if len(set(ids)) != len(ids):
            raise ValueError("rejected_items lists a registration twice")
        return self

    def to_domain(self, decided_by: str) -> Decision:
        """The decision, recorded under ``decided_by``: the authenticated officer's username
        (never a name from the request body)."""
        return Decision(
            kind=DecisionKind(self.decision),
            decided_by=decided_by,
            reason=self.reason or None,
            rejected_items={i.registration_id: i.reason for i in self.rejected_items},
        )


class TaskDecision(DecisionCreate):
    """One task's decision in a bulk request."""

    task_id: uuid.UUID


class BulkDecisionCreate(BaseModel):
    """Several tasks decided at once (an officer clearing a queue): each is checked, decided
    and audited exactly as alone."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[TaskDecision] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _once_each(self) -> BulkDecisionCreate:
        ids = [item.task_id for item in self.decisions]
        if len(set(ids)) != len(ids):
            raise ValueError("decisions lists a task twice")
        return self


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """Timestamps as UTC-aware datetimes (SQLite hands them back naive)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def summary(row: Any, school_name: str | None, today: date) -> TaskSummary:
    return TaskSummary(
        task_id=row.task_id,
        kind=row.kind,
        status=row.status,
        authority_unit=str(row.unit),
        school_code=row.school_code,
        school_name=school_name,
        subject_id=row.subject_id,
        item_count=row.item_count,
        finding_count=row.finding_count,
        opened_at=aware(row.opened_at),
        decided_at=aware(row.decided_at),
        decided_by=row.decided_by,
        reason=row.reason,
        rule=row.rule,
        transfer_id=row.transfer_id,
        due_on=row.due_on,
        due_approximate=row.due_approximate,
        overdue=is_overdue(row.status, row.due_on, today),
        reminded_at=aware(row.reminded_at),
        export=export(row),
    )


def export(row: Any) -> ExportTaskRead | None:
    if row.kind != TaskKind.EXPORT_APPROVAL:
        return None
    return ExportTaskRead.model_validate({**row.details, "export_id": row.subject_id})


def transfer(row: Any) -> TransferTaskRead | None:
    if row.kind not in TRANSFER_KINDS:
        return None
    # the ids from the columns: a task carried over from a school's own table (migration
    # 0014 of the school) has them there only
    ids = {"transfer_id": row.transfer_id, "step_id": row.subject_id}
    return TransferTaskRead.model_validate({**row.details, **ids})


def progression(row: Any) -> ProgressionTaskRead | None:
    if row.kind != TaskKind.PROGRESSION_STEP:
        return None
    return ProgressionTaskRead.model_validate(row.details)


def status_change(row: Any) -> StatusChangeTaskRead | None:
    if row.kind != TaskKind.STATUS_CHANGE:
        return None
    return StatusChangeTaskRead.model_validate(row.details)


def item(row: Any, proofs: Sequence[int] = ()) -> TaskItemRead:
    return TaskItemRead(
        registration_id=row.registration_id,
        basic=BasicInfo.model_validate(row.basic),
        status=row.status,
        reason=row.reason,
        findings=row.findings,
        proofs=list(proofs),
    )


def graduation(row: Any) -> GraduationTaskRead | None:
    if row.kind != TaskKind.GRADUATION_BATCH:
        return None
    return GraduationTaskRead.model_validate(row.details)


def verification(row: Any) -> VerificationTaskRead | None:
    if row.kind != TaskKind.VERIFICATION_FINDINGS:
        return None
    return VerificationTaskRead.model_validate(row.details)


def filing(row: Any) -> FilingTaskRead | None:
    if row.kind != TaskKind.FILING:
        return None
    return FilingTaskRead.model_validate(row.details)


def alert(row: Any) -> AlertTaskRead | None:
    if row.kind != TaskKind.STATISTICS_ALERT:
        return None
    return AlertTaskRead.model_validate(
        {k: v for k, v in row.details.items() if k in AlertTaskRead.model_fields}
    )


def duplicate(row: Any) -> DuplicateTaskRead | None:
    if row.kind != TaskKind.DUPLICATE_RESOLUTION:
        return None
    return DuplicateTaskRead.model_validate(row.details)


def key_field_change(details: dict[str, Any]) -> KeyFieldChangeRead:
    return KeyFieldChangeRead.model_validate(details)


def proof(row: Any) -> ProofRead:
    return ProofRead(index=row.position, kind=row.kind, filename=row.filename, size=row.size)
