"""Request and response bodies of the school API (they are its OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.approval_desk.domain import TaskStatus
from services.school.domain.key_fields import KeyFieldChangeStatus
from services.school.domain.registration import RegistrationStatus
from services.school.domain.students import StudentStatus
from services.school.domain.transfers import TransferInStatus
from shared.clock import Timestamp
from shared.contracts.registration import KeyFieldChanges, ProofDocument
from shared.contracts.students import BasicInfo, ExtendedInfo, IdType
from shared.contracts.transfer import StudentSummary
from shared.runtime.bulk import MAX_ITEMS

Links = dict[str, str]


class StudentCreate(BasicInfo):
    """A newly enrolled student: basic info (kept by the school and the national registry) and
    extended info (sent to the province only, never stored at the school)."""

    extended: ExtendedInfo = Field(
        default_factory=ExtendedInfo,
        description="guardians, address, hukou region …: filed with the province",
    )
    proofs: list[ProofDocument] = Field(
        default_factory=list,
        max_length=5,
        description="documents for the authority, base64-encoded; an under-age first-grader "
        "needs the kind its province names, e.g. early_admission_approval (HA art. 4)",
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
    submitted_at: Timestamp
    updated_at: Timestamp
    links: Links


class RegistrationLine(BaseModel):
    """One registration in the school's list."""

    registration_id: uuid.UUID
    name: str
    grade: int
    status: RegistrationStatus
    student_number: str | None
    rule: str | None
    reason: str | None
    submitted_at: Timestamp
    links: Links


class RegistrationPage(BaseModel):
    items: list[RegistrationLine]
    total: int
    limit: int
    offset: int


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
    class_name: str | None = Field(None, description="the class (班级), when placed in one")


class RosterRead(BaseModel):
    items: list[StudentRead]
    total: int = Field(description="students matching the filters, over all pages")
    limit: int
    offset: int


class DepartureRead(BaseModel):
    """One student who left for another school (decision 0043): who, to where, when; no
    identity document. ``links.backup``: the read-only archive backup at the province
    (transfers; a progression's once the province keeps one)."""

    student_number: str
    name: str
    grade: int = Field(description="the grade the student left from")
    kind: Literal["transfer", "progression", "school_merged"]
    subject_id: str = Field(description="the transfer, progression or merger")
    to_school: str
    to_school_name: str | None = Field(description="None for a school outside the federation")
    left_on: date
    links: dict[str, str]


class DeparturePage(BaseModel):
    items: list[DepartureRead]
    total: int
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
    hukou_region: str | None = Field(
        default=None,
        pattern=r"^[1-8][0-9]{5}$",
        description="the new 户籍所在地, where the province lists hukou_place as a key field "
        "(else 422 not_a_key_field); alone in its application (changes empty)",
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
    submitted_at: Timestamp
    decided_at: Timestamp | None


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
    created_at: Timestamp
    rows: RowCounts
    registrations: OutcomeCounts
    links: Links


# --- transfers ---------------------------------------------------------------------------


class TransferInCreate(BaseModel):
    """A transfer into this school (转入), started by the receiving school on the guardian's
    application; proof documents base64-encoded in the JSON body, as for key-field changes."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {
                "student_number": "G410102201803070017",
                "from_school": "3301020001",
                "grade": 3,
                "class_name": "三年级2班",
                "reason": "the family moved to Zhengzhou for work",
                "proofs": [
                    {
                        "kind": "origin_registration_proof",
                        "filename": "学籍证明.pdf",
                        "content_base64": "JVBERi0xLjQ=",
                    }
                ],
            }
        },
    )

    student_number: str = Field(min_length=1, max_length=30)
    from_school: str = Field(min_length=1, max_length=12, description="the sending school's code")
    grade: int = Field(ge=1, le=12, description="the grade the student is placed in here")
    class_name: str | None = Field(None, min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)
    proofs: list[ProofDocument] = Field(
        min_length=1,
        max_length=5,
        description="e.g. the application form (附表1), origin_registration_proof (HA)",
    )
    window_exception_reason: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="outside this province's transfer window (一般: HA art. 11(三), ZJ art. "
        "13): why the receiving authority should grant an exception (decision 0035)",
    )


class TransferInAccepted(BaseModel):
    transfer_id: uuid.UUID
    status: Literal["pending"] = "pending"
    links: Links


class TransferProofRead(BaseModel):
    index: int
    kind: str
    filename: str
    size: int


class TransferInRead(BaseModel):
    transfer_id: uuid.UUID
    school_code: str
    student_number: str
    from_school: str
    grade: int
    class_name: str | None
    reason: str
    status: TransferInStatus
    rule: str | None = Field(None, description="the rule that refused or ended it")
    status_reason: str | None = Field(None, description="why it was refused or ended")
    requested_on: date
    requested_at: Timestamp
    cancel_requested_at: Timestamp | None
    settled_at: Timestamp | None
    proofs: list[TransferProofRead]
    links: Links


class TransferInPage(BaseModel):
    items: list[TransferInRead]
    total: int
    limit: int
    offset: int


class TransferCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500)


class ProofLink(BaseModel):
    index: int
    kind: str
    url: str = Field(description="where the receiving school serves the file")


class SchoolTaskRead(BaseModel):
    """The sending school's step of a transfer (转出学校核办)."""

    task_id: uuid.UUID
    school_code: str
    kind: str
    status: TaskStatus
    transfer_id: uuid.UUID
    step_id: uuid.UUID
    student_number: str
    student: StudentSummary
    roster_status: StudentStatus | None = Field(
        None, description="the student's status on this school's roster when the step opened"
    )
    to_school: str
    reason: str = Field(description="why the family asks for the transfer")
    proofs: list[ProofLink]
    opened_at: Timestamp
    due_on: date
    due_approximate: bool
    overdue: bool = Field(description="open and past due_on today (Beijing)")
    reminded_at: Timestamp | None
    decided_at: Timestamp | None
    decided_by: str | None
    decision_reason: str | None


class SchoolTaskPage(BaseModel):
    items: list[SchoolTaskRead]
    total: int
    limit: int
    offset: int


class StepDecisionCreate(BaseModel):
    """The school's decision on its step; ``reason`` is required to reject."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _reason_to_reject(self) -> StepDecisionCreate:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        return self


class StepDecisionItem(StepDecisionCreate):
    """One task's decision in a bulk request."""

    task_id: uuid.UUID


class StepDecisionsCreate(BaseModel):
    """Several of the school's steps decided at once (a registrar clearing the queue)."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[StepDecisionItem] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _once_each(self) -> StepDecisionsCreate:
        ids = [item.task_id for item in self.decisions]
        if len(set(ids)) != len(ids):
            raise ValueError("decisions lists a task twice")
        return self
