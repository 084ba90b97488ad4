"""Registration (学籍建立) and key-field change (关键信息变更) across tiers.

Flow (DOMAIN.md §3, N2013 arts. 4-10):

1. school → its province: ``registration.archive_filed`` (extended info, kept pending);
   school → its authority: ``registration.batch_submitted`` (basic info only).
2. authority → national: ``registration.batch_approved`` (the approved items), or
   authority → school + province: ``registration.batch_decided`` (rejections).
3. national → school + province: ``registration.batch_decided`` with one outcome per item:
   ``issued`` (with the student number), ``rejected`` (reason names the conflicting province
   and school, never the other record's personal data) or ``held_for_review``; a later review
   decision sends another ``registration.batch_decided`` for the held items.

Everything is per batch: a September intake of 300 students is one message per step.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.decider import Decider
from shared.contracts.students import BasicInfo, ExtendedInfo, Gender, IdType
from shared.contracts.tiers import (
    AUTHORITY_TIERS,
    DECIDER_TIERS,
    NATIONAL_TIER,
    PROVINCE_TIER,
    SCHOOL_AND_PROVINCE,
    SCHOOL_TIER,
)
from shared.contracts.transfer import ProofRef
from shared.messaging.envelope import Contract, contract

MAX_BATCH = 2000


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProofDocument(_Item):
    kind: str = Field(min_length=1, max_length=40, description="e.g. hukou_proof")
    filename: str = Field(min_length=1, max_length=120)
    content_base64: str = Field(max_length=3_000_000)


class RegistrationItem(_Item):
    registration_id: uuid.UUID
    basic: BasicInfo


class SubmittedItem(RegistrationItem):
    """A registration as the school submits it to its authority: with the proofs it carries,
    e.g. the approval an under-age first-grader needs (HA art. 4: ``[registration]
    under_age_proof``). The authority's task keeps them; national never sees them."""

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    proofs: tuple[ProofDocument, ...] = Field(default=(), max_length=5)


class ArchiveItem(_Item):
    registration_id: uuid.UUID
    basic: BasicInfo
    extended: ExtendedInfo


Outcome = Literal["issued", "rejected", "held_for_review"]


class RegistrationOutcome(_Item):
    registration_id: uuid.UUID
    outcome: Outcome
    student_number: str | None = None
    reason: str | None = Field(default=None, max_length=500)
    rule: str | None = Field(default=None, max_length=60)


@contract("registration.archive_filed", 1, senders=SCHOOL_TIER, targets=PROVINCE_TIER)
class ArchiveFiled(Contract):
    """School → province: the extended info of a batch, held until the numbers are issued."""

    batch_id: uuid.UUID
    school_code: str
    items: tuple[ArchiveItem, ...] = Field(min_length=1, max_length=MAX_BATCH)


@contract("registration.batch_submitted", 1, senders=SCHOOL_TIER, targets=AUTHORITY_TIERS)
class RegistrationBatchSubmitted(Contract):
    """School → its registry authority: please approve these registrations."""

    batch_id: uuid.UUID
    school_code: str
    items: tuple[SubmittedItem, ...] = Field(min_length=1, max_length=MAX_BATCH)


@contract("registration.batch_approved", 1, senders=AUTHORITY_TIERS, targets=NATIONAL_TIER)
class RegistrationBatchApproved(Contract):
    """Authority → national: approved; dedup nationally and issue student numbers."""

    batch_id: uuid.UUID
    school_code: str
    authority: str = Field(description="unit reference of the approving authority")
    approver: Decider | None = Field(default=None, description="the officer or rule that approved")
    items: tuple[RegistrationItem, ...] = Field(min_length=1, max_length=MAX_BATCH)


@contract("registration.batch_decided", 1, senders=DECIDER_TIERS, targets=SCHOOL_AND_PROVINCE)
class RegistrationBatchDecided(Contract):
    """Authority or national → school and province: the outcome of each item."""

    batch_id: uuid.UUID
    school_code: str
    decided_by: str
    decider: Decider | None = Field(default=None, description="the officer or rule that decided")
    outcomes: tuple[RegistrationOutcome, ...] = Field(min_length=1, max_length=MAX_BATCH)


class KeyFieldChanges(_Item):
    """关键信息 (N2013 art. 10; ZJ art. 11): name and identity document, and the basic fields
    the province lists as key fields (gender, birth date, nationality, ethnicity; decision
    0043); at least one must change. ``None`` keeps the current value."""

    name: str | None = Field(default=None, min_length=1, max_length=50)
    id_type: IdType | None = None
    id_number: str | None = Field(default=None, max_length=30)
    gender: Gender | None = None
    birth_date: date | None = None
    nationality: str | None = Field(default=None, min_length=2, max_length=3)
    ethnicity: str | None = Field(default=None, min_length=1, max_length=20)

    def named(self) -> tuple[str, ...]:
        """The fields this change sets."""
        return tuple(name for name, value in self if value is not None)


@contract("key_field_change.submitted", 1, senders=SCHOOL_TIER, targets=AUTHORITY_TIERS)
class KeyFieldChangeSubmitted(Contract):
    """School → authority: a key-field change with its proof (N2013 art. 10)."""

    change_id: uuid.UUID
    school_code: str
    student_number: str
    changes: KeyFieldChanges
    reason: str = Field(min_length=1, max_length=500)
    proofs: tuple[ProofDocument, ...] = Field(min_length=1, max_length=5)
    hukou_region: str | None = Field(
        default=None,
        pattern=r"^[1-8][0-9]{5}$",
        description="户籍所在地 where the province lists hukou_place as a key field: alone in "
        "its application, decided by the authority, applied at the province; never at national",
    )


@contract("key_field_change.approved", 1, senders=AUTHORITY_TIERS, targets=NATIONAL_TIER)
class KeyFieldChangeApproved(Contract):
    """Authority → national: re-run dedup on the new key fields and apply them."""

    change_id: uuid.UUID
    school_code: str
    student_number: str
    changes: KeyFieldChanges
    authority: str
    approver: Decider | None = Field(default=None, description="the officer or rule that approved")
    proofs: tuple[ProofRef, ...] = Field(
        default=(),
        max_length=5,
        description="the application's proofs by position and kind: the school keeps them "
        "(GET <school>/api/v1/key-field-changes/{change_id}/proofs/{index}), the archive's "
        "section 2 links them (N2013 arts. 7, 13)",
    )


@contract("key_field_change.decided", 1, senders=DECIDER_TIERS, targets=SCHOOL_AND_PROVINCE)
class KeyFieldChangeDecided(Contract):
    """Authority or national → school and province: applied (with the resulting basic fields)
    or rejected with a reason. An L number becomes a G number when a resident ID is recorded."""

    change_id: uuid.UUID
    school_code: str
    student_number: str
    outcome: Literal["applied", "rejected"]
    new_student_number: str | None = None
    changes: KeyFieldChanges
    reason: str | None = Field(default=None, max_length=500)
    rule: str | None = Field(default=None, max_length=60)
    decided_by: str
    decider: Decider | None = Field(default=None, description="the officer or rule that decided")
    hukou_region: str | None = Field(
        default=None,
        pattern=r"^[1-8][0-9]{5}$",
        description="户籍所在地 where the province lists hukou_place as a key field: alone in "
        "its application, decided by the authority, applied at the province; never at national",
    )

    def authority_decides(self) -> bool:
        """The authority's to send: a rejection, or an applied hukou place change (which
        national never sees); every other applied change is national's."""
        return self.outcome == "rejected" or (
            self.hukou_region is not None and not self.changes.named()
        )

    proofs: tuple[ProofRef, ...] = Field(
        default=(),
        max_length=5,
        description="the application's proofs by position and kind: the school keeps them "
        "(GET <school>/api/v1/key-field-changes/{change_id}/proofs/{index}), the archive's "
        "section 2 links them (N2013 arts. 7, 13)",
    )
