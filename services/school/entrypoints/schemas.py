"""Request and response bodies of the school API (they are its OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.school.domain.key_fields import KeyFieldChangeStatus
from services.school.domain.registration import RegistrationStatus
from services.school.domain.students import StudentStatus
from shared.contracts.registration import KeyFieldChanges, ProofDocument
from shared.contracts.students import BasicInfo, ExtendedInfo, IdType

Links = dict[str, str]


class StudentCreate(BasicInfo):
    """A newly enrolled student: basic info (kept by the school and the national registry) and
    extended info (sent to the province only, never stored at the school)."""

    extended: ExtendedInfo = Field(
        default_factory=ExtendedInfo,
        description="guardians, address, hukou region …: filed with the province",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "name": "张三",
                "gender": "male",
                "birth_date": "2018-03-07",
                "id_type": "resident_id",
                "id_number": "410102201803070017",
                "ethnicity": "汉族",
                "grade": 1,
                "enrolled_on": "2024-09-01",
                "extended": {
                    "guardians": [{"name": "张父", "relation": "父亲", "phone": "13800000000"}],
                    "address": "郑州市中原区建设路 1 号",
                    "hukou_region": "410102",
                },
            }
        }
    )


class RegistrationAccepted(BaseModel):
    registration_id: uuid.UUID
    status: Literal["pending"] = "pending"
    links: Links


class RegistrationRead(BaseModel):
    registration_id: uuid.UUID
    school_code: str
    status: RegistrationStatus
    student_number: str | None = Field(None, description="set once the number is issued")
    reason: str | None = Field(None, description="why it was rejected")
    rule: str | None = Field(None, description="the rule that rejected it")
    decided_by: str | None = None
    submitted_at: datetime
    updated_at: datetime
    links: Links


class StudentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    student_number: str
    school_code: str
    registration_id: uuid.UUID | None
    name: str
    gender: Literal["male", "female"]
    birth_date: date
    id_type: IdType
    id_number: str | None
    nationality: str
    ethnicity: str | None
    grade: int
    enrolled_on: date
    status: StudentStatus


class RosterRead(BaseModel):
    items: list[StudentRead]
    total: int = Field(description="students matching the filters, over all pages")
    limit: int
    offset: int


class KeyFieldChangeCreate(BaseModel):
    """A key-field change with its proof documents, each base64-encoded in the JSON body
    (1-5 files, each at most ~2.2 MB once decoded)."""

    model_config = ConfigDict(extra="forbid")

    changes: KeyFieldChanges
    reason: str = Field(min_length=1, max_length=500)
    proofs: list[ProofDocument] = Field(
        min_length=1,
        max_length=5,
        description="e.g. {kind: hukou_proof, filename: hukou.pdf, content_base64: …}",
    )


class KeyFieldChangeAccepted(BaseModel):
    change_id: uuid.UUID
    status: Literal["submitted"] = "submitted"
    links: Links


class ProofRead(BaseModel):
    kind: str
    filename: str
    size: int


class KeyFieldChangeRead(BaseModel):
    change_id: uuid.UUID
    school_code: str
    student_number: str
    status: KeyFieldChangeStatus
    changes: KeyFieldChanges
    reason: str
    proofs: list[ProofRead]
    new_student_number: str | None
    decision_reason: str | None
    rule: str | None
    decided_by: str | None
    submitted_at: datetime
    decided_at: datetime | None


class RowCounts(BaseModel):
    total: int = Field(description="student rows in the file (blank rows are skipped)")
    accepted: int = Field(description="rows registered (sent for approval)")
    rejected: int = Field(description="rows refused: see errors.csv")


class OutcomeCounts(BaseModel):
    """Where the accepted rows' registrations stand now."""

    pending: int = 0
    held_for_review: int = 0
    approved: int = 0
    rejected: int = 0


class AdmissionJobRead(BaseModel):
    job_id: uuid.UUID
    school_code: str
    filename: str | None
    file_format: Literal["csv", "xlsx"]
    created_at: datetime
    rows: RowCounts
    registrations: OutcomeCounts
    links: Links
