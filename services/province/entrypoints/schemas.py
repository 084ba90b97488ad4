"""What the province's HTTP API returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.province.adapters.orm import Archive, ArchiveEntry
from services.province.domain.archive import ArchiveStatus, Section


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
    recorded_at: datetime
    data: dict[str, Any]


class ArchiveRead(_Read):
    """A student's archive (学籍档案): basic and extended info, and the sections' entries."""

    student_number: str
    province: str
    school_code: str
    status: ArchiveStatus
    basic: dict[str, Any] = Field(description="basic info as last recorded, with its changes")
    extended: dict[str, Any] = Field(description="non-basic info (非基础学籍信息)")
    filed_at: datetime
    activated_at: datetime | None
    entries: list[EntryRead] = Field(description="dated entries, oldest first, of every section")

    @classmethod
    def of(cls, archive: Archive, entries: Sequence[ArchiveEntry]) -> ArchiveRead:
        fields = {name: getattr(archive, name) for name in cls.model_fields if name != "entries"}
        return cls.model_validate(
            {**fields, "entries": [EntryRead.model_validate(e) for e in entries]}
        )
