"""Duplicate admission resolution (重复招生处理, LS 2(三)): "学生实际就读学校必须上传《学生实际
就读证明表》（附表3）作为佐证，对方学校删除，双方学校教育主管部门核办".

National's dedup refuses a second registration of a registered person (``duplicate_
registration``). When the student really attends the school whose registration was refused
(the *real* school), that school resolves the duplicate, run by national like a transfer:

1. real school → national: ``duplicate.resolution_requested`` (the refused registration, the
   student number, the attendance proof's kind — the file stays at the real school, served to
   the deciders at ``/api/v1/duplicate-resolutions/{id}/proofs/{index}``);
2. national → both schools' authorities (one request when they are the same unit):
   ``duplicate.approval_requested``; each answers ``duplicate.approval_decided``;
3. national, once both approved, moves the registration to the real school and tells both
   schools and both provinces ``duplicate.resolution_decided`` (``resolved``): the other
   school deletes its registration, the real school's refused registration stands with the
   student number, the archive follows the student. A refusal or a rejection answers the real
   school (``refused`` / ``rejected``) with its rule.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from shared.contracts.decider import Decider
from shared.contracts.students import BasicInfo
from shared.contracts.tiers import AUTHORITY_TIERS, NATIONAL_TIER, SCHOOL_AND_PROVINCE, SCHOOL_TIER
from shared.contracts.transfer import ProofRef
from shared.messaging.envelope import Contract, contract

ATTENDANCE_PROOF = "attendance_proof"  # 学生实际就读证明表 (LS 附表3)


@contract("duplicate.resolution_requested", 1, senders=SCHOOL_TIER, targets=NATIONAL_TIER)
class DuplicateResolutionRequested(Contract):
    """Real school → national."""

    resolution_id: uuid.UUID
    student_number: str = Field(min_length=19, max_length=19)
    real_school: str = Field(pattern=r"^[1-8][0-9]{9}$")
    other_school: str = Field(
        pattern=r"^[1-8][0-9]{9}$", description="the school the refusal named (to delete)"
    )
    registration_id: uuid.UUID = Field(description="the real school's refused registration")
    reason: str = Field(min_length=1, max_length=500)
    proofs: tuple[ProofRef, ...] = Field(min_length=1, max_length=5)


@contract("duplicate.approval_requested", 1, senders=NATIONAL_TIER, targets=AUTHORITY_TIERS)
class DuplicateApprovalRequested(Contract):
    """National → an authority: approve moving the registration to the real school."""

    resolution_id: uuid.UUID
    student_number: str
    real_school: str
    other_school: str
    roles: tuple[Literal["real_authority", "other_authority"], ...] = Field(min_length=1)
    reason: str
    proofs: tuple[ProofRef, ...]


@contract("duplicate.approval_decided", 1, senders=AUTHORITY_TIERS, targets=NATIONAL_TIER)
class DuplicateApprovalDecided(Contract):
    """Authority → national."""

    resolution_id: uuid.UUID
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)
    decided_by: str
    decided_unit: str


@contract("duplicate.resolution_decided", 1, senders=NATIONAL_TIER, targets=SCHOOL_AND_PROVINCE)
class DuplicateResolutionDecided(Contract):
    """National → the real school (always), the other school and both provinces (resolved)."""

    resolution_id: uuid.UUID
    student_number: str
    real_school: str
    other_school: str | None
    registration_id: uuid.UUID
    outcome: Literal["resolved", "rejected", "refused"]
    rule: str | None = Field(default=None, max_length=60)
    reason: str | None = Field(default=None, max_length=500)
    decided_by: str
    decider: Decider | None = Field(default=None, description="the officer or rule that decided")
    basic: BasicInfo | None = Field(default=None, description="the registration, when resolved")
