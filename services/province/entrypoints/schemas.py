"""What the province's HTTP API returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.province.adapters.orm import Archive, ArchiveBackup, ArchiveEntry, ArchiveHandover
from services.province.domain.archive import (
    ArchiveStatus,
    HandoverState,
    Section,
    handover_overdue,
)
from shared.clock import Timestamp


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        """Timestamps as UTC-aware datetimes (SQLite hands them back naive)."""
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class EntryRead(_Read):
    section: Section
    kind: str
    occurred_on: date
    recorded_at: Timestamp
    reference: str | None = Field(
        None, description="what the entry records: a status change, a batch, a transfer …"
    )
    data: dict[str, Any]


class ArchiveRead(_Read):
    """A student's archive (学籍档案): basic and extended info, and the sections' entries."""

    student_number: str
    province: str
    school_code: str
    status: ArchiveStatus
    basic: dict[str, Any] = Field(description="basic info as last recorded, with its changes")
    extended: dict[str, Any] = Field(description="non-basic info (非基础学籍信息)")
    filed_at: Timestamp
    activated_at: Timestamp | None
    entries: list[EntryRead] = Field(description="dated entries, oldest first, of every section")

    @classmethod
    def of(cls, archive: Archive, entries: Sequence[ArchiveEntry]) -> ArchiveRead:
        fields = {name: getattr(archive, name) for name in cls.model_fields if name != "entries"}
        return cls.model_validate(
            {**fields, "entries": [EntryRead.model_validate(e) for e in entries]}
        )


class BackupRead(_Read):
    """A sending school's read-only electronic backup of a transferred student's archive
    (N2013 art. 9): the archive as it was when the student left."""

    school_code: str = Field(description="the sending school that keeps the backup")
    student_number: str
    transfer_id: str
    to_school: str
    taken_at: Timestamp
    archive: dict[str, Any] = Field(description="basic and extended info, every entry")

    @classmethod
    def of(cls, backup: ArchiveBackup) -> BackupRead:
        return cls(
            school_code=backup.school_code,
            student_number=backup.student_number,
            transfer_id=backup.transfer_id,
            to_school=backup.to_school,
            taken_at=backup.taken_at,
            archive=backup.snapshot,
        )


class HandoverRead(_Read):
    """An archive handed to another province after a cross-province transfer."""

    transfer_id: str
    student_number: str
    from_school: str
    to_school: str
    to_province: str
    state: HandoverState = Field(description="sent, received, or missing (nothing to hand over)")
    problem: str | None
    due_on: date = Field(description="1 month after the transfer (N2013 art. 15)")
    overdue: bool = Field(description="not received by due_on (Beijing today)")
    sent_at: Timestamp | None
    received_at: Timestamp | None

    @classmethod
    def of(cls, handover: ArchiveHandover, today: date) -> HandoverRead:
        fields = {name: getattr(handover, name) for name in cls.model_fields if name != "overdue"}
        overdue = handover_overdue(handover.state, handover.due_on, today)
        return cls.model_validate({**fields, "overdue": overdue})


class HandoverPage(BaseModel):
    items: list[HandoverRead]
    total: int
    limit: int
    offset: int
