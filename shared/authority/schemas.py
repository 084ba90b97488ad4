"""What the authority's HTTP API reads and writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.authority.domain import Decision, DecisionKind, ItemStatus, TaskKind, TaskStatus
from shared.contracts.registration import KeyFieldChanges
from shared.contracts.students import BasicInfo


class FindingRead(BaseModel):
    rule: str
    message: str


class TaskSummary(BaseModel):
    """One line of an officer's task list."""

    task_id: uuid.UUID
    kind: TaskKind
    status: TaskStatus
    authority_unit: str = Field(description="unit reference of the authority, e.g. county:410102")
    school_code: str
    school_name: str | None
    subject_id: uuid.UUID = Field(description="the batch id or the key-field change id")
    item_count: int = Field(description="registrations in the batch (0 for a key-field change)")
    finding_count: int = Field(description="items (or changes) the authority's checks flagged")
    opened_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None


class TaskItemRead(BaseModel):
    registration_id: uuid.UUID
    basic: BasicInfo
    status: ItemStatus
    reason: str | None
    findings: list[FindingRead]


class KeyFieldChangeRead(BaseModel):
    student_number: str
    changes: KeyFieldChanges
    request_reason: str
    findings: list[FindingRead]


class ProofRead(BaseModel):
    index: int
    kind: str
    filename: str
    size: int


class TaskRead(TaskSummary):
    """A task with everything the officer reads before deciding."""

    items: list[TaskItemRead] = Field(description="the batch's registrations, basic info only")
    key_field_change: KeyFieldChangeRead | None
    proofs: list[ProofRead]


class TaskPage(BaseModel):
    items: list[TaskSummary]
    total: int
    limit: int
    offset: int


class TaskListQuery(BaseModel):
    """Filters and page of a task list (oldest first)."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    kind: TaskKind | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class RejectedItem(BaseModel):
    registration_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


class DecisionCreate(BaseModel):
    """An officer's decision. ``reason`` is required to reject; ``rejected_items`` approves a
    registration batch except the items listed, each with its own reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)
    decided_by: str = Field(min_length=1, max_length=60, description="the deciding officer")
    rejected_items: list[RejectedItem] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> DecisionCreate:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        ids = [item.registration_id for item in self.rejected_items]
        if len(set(ids)) != len(ids):
            raise ValueError("rejected_items lists a registration twice")
        return self

    def to_domain(self) -> Decision:
        return Decision(
            kind=DecisionKind(self.decision),
            decided_by=self.decided_by,
            reason=self.reason or None,
            rejected_items={str(i.registration_id): i.reason for i in self.rejected_items},
        )


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """Timestamps as UTC-aware datetimes (SQLite hands them back naive)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def summary(row: Any, authority_unit: str, school_name: str | None) -> TaskSummary:
    return TaskSummary(
        task_id=row.task_id,
        kind=row.kind,
        status=row.status,
        authority_unit=authority_unit,
        school_code=row.school_code,
        school_name=school_name,
        subject_id=row.subject_id,
        item_count=row.item_count,
        finding_count=row.finding_count,
        opened_at=aware(row.opened_at),
        decided_at=aware(row.decided_at),
        decided_by=row.decided_by,
        reason=row.reason,
    )


def item(row: Any) -> TaskItemRead:
    return TaskItemRead(
        registration_id=row.registration_id,
        basic=BasicInfo.model_validate(row.basic),
        status=row.status,
        reason=row.reason,
        findings=row.findings,
    )


def key_field_change(details: dict[str, Any]) -> KeyFieldChangeRead:
    return KeyFieldChangeRead.model_validate(details)


def proof(row: Any) -> ProofRead:
    return ProofRead(index=row.position, kind=row.kind, filename=row.filename, size=row.size)
