"""What the national HTTP API reads and writes: basic info only."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.national.adapters.orm import DedupReview, RegistryEntry
from shared.clock import Timestamp


class RegistryEntryRead(BaseModel):
    """A student's basic registration (基础学籍信息)."""

    student_number: str
    name: str
    gender: str
    birth_date: date
    id_type: str
    id_number: str | None
    nationality: str
    ethnicity: str | None
    school_code: str
    province_code: str
    grade: int
    status: str
    enrolled_on: date
    registered_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, entry: RegistryEntry) -> RegistryEntryRead:
        return cls.model_validate(entry, from_attributes=True)


class SupersededRead(BaseModel):
    """An old student number: the entry now has ``superseded_by``."""

    student_number: str
    superseded_by: str
    detail: str = "this student number was replaced; the registration continues under the new one"


class RegistryPage(BaseModel):
    items: list[RegistryEntryRead]
    next_after: str | None = Field(description="pass as ?after= for the next page; null at the end")


class ApplicantRead(BaseModel):
    """The held applicant's basic info, as approved by its authority."""

    name: str
    gender: str
    birth_date: date
    id_type: str
    id_number: str | None
    nationality: str
    ethnicity: str | None
    grade: int
    enrolled_on: date


class MatchedRead(BaseModel):
    """The registered student the applicant resembles: where they are, not who they are."""

    student_number: str
    school_code: str
    province_code: str


class ReviewRead(BaseModel):
    review_id: uuid.UUID
    batch_id: uuid.UUID
    registration_id: uuid.UUID
    status: Literal["open", "issued", "rejected"]
    rule: str
    reason: str
    school_code: str
    province_code: str
    authority: str
    applicant: ApplicantRead
    matched: MatchedRead
    created_at: Timestamp
    decided_at: Timestamp | None
    decision_rule: str | None
    decision_reason: str | None
    student_number: str | None = Field(description="the number issued, once issued")

    @classmethod
    def of(cls, review: DedupReview, matched: RegistryEntry) -> ReviewRead:
        return cls(
            review_id=uuid.UUID(review.review_id),
            batch_id=uuid.UUID(review.batch_id),
            registration_id=uuid.UUID(review.registration_id),
            status=review.status,
            rule=review.rule,
            reason=review.reason,
            school_code=review.school_code,
            province_code=review.province_code,
            authority=review.authority,
            applicant=ApplicantRead.model_validate(review, from_attributes=True),
            matched=MatchedRead.model_validate(matched, from_attributes=True),
            created_at=review.created_at,
            decided_at=review.decided_at,
            decision_rule=review.decision_rule,
            decision_reason=review.decision_reason,
            student_number=review.student_number,
        )


class ReviewPage(BaseModel):
    items: list[ReviewRead]
    next_after: int | None = Field(description="pass as ?after= for the next page; null at the end")


class ReviewDecisionCreate(BaseModel):
    decision: Literal["issue", "reject"]
    reason: str = Field(min_length=1, max_length=400, description="why; recorded and sent on")


class RegistryChangeRead(BaseModel):
    """One decision that changed a registration, and who took it (decision 0043)."""

    kind: str = Field(description="registered, key_field_change, status_change, graduated, …")
    subject_id: str | None = Field(description="the batch, change or resolution decided")
    student_number: str = Field(description="the student number when it was decided")
    school_code: str
    decided_by: str = Field(description="the officer's username, or 'system'")
    decided_unit: str = Field(description="the officer's unit, e.g. county:410102")
    decided_rule: str | None = Field(description="for the system: the province rule it applied")
    recorded_at: Timestamp


class RegistryChangeList(BaseModel):
    student_number: str
    items: list[RegistryChangeRead]
