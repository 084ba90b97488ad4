"""Graduation (毕业 / 结业 / 肄业, ZJ arts. 24-26; LS 3(一); N2013 art. 13) across tiers.

Flow, one message per step per school batch (decision 0009):

1. school → its authority: ``graduation.batch_submitted`` — the school's graduating list, each
   student ``graduated``, ``completed`` (≥ 3 subjects failed after the resit, or the quality
   assessment failed, ZJ art. 25) or ``incomplete`` (left before finishing, ZJ art. 25);
2. authority → national: ``graduation.batch_approved``, or authority → school + province:
   ``graduation.batch_decided`` (``rejected``, with the officer's reason);
3. national → school + province: ``graduation.batch_decided`` (``approved``) with the students
   it applied and the ones it refused, each with its rule (a student held by a transfer, one
   no longer enrolled, one not in the school's last grade …).

Basic info only: student numbers and outcomes. The province removes the graduates' discipline
records from their archives (ZJ art. 23: "在学生毕业时，所有的处分记录从学生学籍档案中撤除").
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.decider import Decider
from shared.contracts.tiers import (
    AUTHORITY_TIERS,
    DECIDER_TIERS,
    NATIONAL_TIER,
    SCHOOL_AND_PROVINCE,
    SCHOOL_TIER,
)
from shared.messaging.envelope import Contract, contract

MAX_GRADUATION_BATCH = 2000

GraduationOutcome = Literal["graduated", "completed", "incomplete"]


class GraduationItem(BaseModel):
    """One student of a graduating list and what their certificate says (ZJ art. 25)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_number: str = Field(min_length=19, max_length=19)
    outcome: GraduationOutcome


class GraduationRefusal(BaseModel):
    """A student of an approved batch national did not graduate, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_number: str = Field(min_length=19, max_length=19)
    rule: str = Field(max_length=60)
    reason: str = Field(max_length=500)


class _Batch(Contract):
    batch_id: uuid.UUID
    school_code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    graduation_year: int = Field(
        ge=2000, le=2999, description="the calendar year the class leaves (by July 30)"
    )


def _distinct(items: tuple[GraduationItem, ...]) -> None:
    numbers = [item.student_number for item in items]
    if len(set(numbers)) != len(numbers):
        raise ValueError("a student number appears twice in the batch")


@contract("graduation.batch_submitted", 1, senders=SCHOOL_TIER, targets=AUTHORITY_TIERS)
class GraduationBatchSubmitted(_Batch):
    """School → its authority: the school's graduating list for the year."""

    items: tuple[GraduationItem, ...] = Field(min_length=1, max_length=MAX_GRADUATION_BATCH)
    late_reason: str | None = Field(
        default=None,
        max_length=500,
        description="why the list comes after July 30 (LS 3(一)); shown to the officer",
    )

    @model_validator(mode="after")
    def _check(self) -> GraduationBatchSubmitted:
        _distinct(self.items)
        return self


@contract("graduation.batch_approved", 1, senders=AUTHORITY_TIERS, targets=NATIONAL_TIER)
class GraduationBatchApproved(_Batch):
    """Authority → national: the list as approved; national applies it set-based."""

    authority: str = Field(description="the approving authority unit, e.g. county:410102")
    approver: Decider | None = Field(default=None, description="the officer or rule that approved")
    items: tuple[GraduationItem, ...] = Field(min_length=1, max_length=MAX_GRADUATION_BATCH)
    late: bool = False

    @model_validator(mode="after")
    def _check(self) -> GraduationBatchApproved:
        _distinct(self.items)
        return self


@contract("graduation.batch_decided", 1, senders=DECIDER_TIERS, targets=SCHOOL_AND_PROVINCE)
class GraduationBatchDecided(_Batch):
    """National (applied) or the authority (rejected) → school and province."""

    outcome: Literal["approved", "rejected"]
    decided_by: str
    decider: Decider | None = Field(default=None, description="the officer or rule that decided")
    applied: tuple[GraduationItem, ...] = Field(
        default=(), description="the students whose status national changed"
    )
    refused: tuple[GraduationRefusal, ...] = Field(default=())
    reason: str | None = Field(default=None, max_length=500)
    rule: str | None = Field(default=None, max_length=60)
