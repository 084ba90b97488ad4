"""Changes of a student's registry status (学籍变动) — DOMAIN.md §5.

The status changes a school asks for (suspension, dropout, death, grade skip …) travel as
``status_change.*`` (below, after the promotion).

``registry.promoted`` (national → each school, once per school year): the August 10 batch
promotion (LS 3(一): "每年 8 月 10 日 24 时 … 统一对非毕业年级学生进行升级操作"; N2013 art. 12:
"正常升级学生的学籍信息更新，由电子学籍系统完成").

The message carries the rule national applied — every ``enrolled`` student of the school in a
grade below ``graduating_grade`` moved up one — and how many it moved per grade, not the
student numbers. The school applies the same set-based UPDATE to its roster and compares its
counts with national's. Why not the numbers: at national scale (10 million students, a few
thousand per school) listing them would make national read every promoted number back out of
its database and serialise it, turning a minute of set-based SQL into millions of values on the
wire and a per-student ``IN`` list at every school; the rule plus the counts is a few hundred
bytes per school whatever its size, and the counts still let the school detect a roster that
drifted from the registry (N2013 art. 24: people must match the records). A student held by a
transfer is promoted too (the grade follows the student) and the transfer's grade with them;
at the sending school they are still on the roster, enrolled, so the same rule covers them.

The message id is derived from (school, school year): a school applies its year's promotion
once, however often it is delivered (the inbox drops the duplicate).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.decider import Decider
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

# Namespace of the ids national derives for a promotion run and its messages.
PROMOTION_NAMESPACE = uuid.UUID("5b0c6f2e-4d1e-4c8a-9a6f-0d3c2b1a8e10")


class GradeCount(BaseModel):
    """How many students national moved up from ``grade`` (to ``grade + 1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grade: int = Field(ge=1, le=11, description="the grade before the promotion")
    count: int = Field(ge=1)


@contract("registry.promoted", 1, senders=NATIONAL_TIER, targets=SCHOOL_TIER)
class RegistryPromoted(Contract):
    """national → school: this school year's batch promotion, applied at national."""

    school_code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    school_year: int = Field(
        ge=2000, le=2999, description="the school year that starts in September of this year"
    )
    as_of: date = Field(description="the day of the promotion (August 10, LS 3(一))")
    graduating_grade: int = Field(
        ge=1,
        le=12,
        description="the school's last grade: enrolled students below it moved up one, "
        "students in it did not (they graduate by July 30)",
    )
    promoted: tuple[GradeCount, ...] = Field(
        default=(), description="national's counts per grade, lowest grade first"
    )

    @property
    def total(self) -> int:
        return sum(item.count for item in self.promoted)


def promotion_run_id(school_year: int) -> uuid.UUID:
    """The correlation id of a school year's promotion (the same whoever runs it)."""
    return uuid.uuid5(PROMOTION_NAMESPACE, f"promotion:{school_year}")


def promotion_message_id(school_year: int, school_code: str) -> uuid.UUID:
    """The id of the one ``registry.promoted`` a school gets for ``school_year``."""
    return uuid.uuid5(PROMOTION_NAMESPACE, f"registry.promoted:{school_year}:{school_code}")


# ------------------------------------------------------------------ status changes (学籍变动)
#
# One pipeline for every change a school asks for (DOMAIN.md §5; N2013 arts. 13, 19-22):
#
# 1. school → its registry authority: ``status_change.submitted`` (basic facts; the proof
#    files stay at the school: ``ProofRef`` (index, kind) points to
#    ``GET <school>/api/v1/status-changes/{change_id}/proofs/{index}``, like a transfer's);
# 2. authority → national: ``status_change.approved`` (an officer approved, or the system
#    did where the province rules say the authority only records the change), or
#    authority → school + province: ``status_change.decided`` (rejected);
# 3. national checks the registry status machine and the province's rules, applies the
#    change to the registry (stopping a transfer in progress when the student leaves
#    ``enrolled``) and answers ``status_change.decided`` (applied with the new status and
#    grade, or rejected naming the rule and article) to the school and to its province, which
#    records it in the archive with its proofs.
#
# National's own changes (a suspension that lapsed, LS 2(二)3) are announced the same way.

StatusChangeKind = Literal[
    "defer",  # 缓学 (ZJ art. 6)
    "start",  # a deferred child starts school
    "skip_grade",  # 跳级
    "repeat_grade",  # 留级 / 降级
    "suspend",  # 休学
    "extend_suspension",  # 继续休学
    "resume",  # 复学
    "lapse",  # suspension over without resumption → other departure (national, LS 2(二)3)
    "report_absence",  # 其他离校
    "suspect_dropout",  # 疑似辍学
    "report_dropout",  # 辍学
    "return",  # 返校
    "go_abroad",  # 境外就读
    "return_from_abroad",  # 回国接续
    "decease",  # 死亡注销
    "withdraw",  # 退学 (ZJ art. 17: 18 or over)
    "place",  # attends another school, registration kept here (N2013 art. 17; HA art. 12)
    "end_placement",  # back at the school of registration
    "detain",  # 被采取刑事强制措施: registration kept (ZJ art. 13; HA art. 16)
    "release",  # 解除刑事强制措施: registration restored (ZJ art. 13)
]
# What a school may ask for (``lapse`` is national's own).
REQUESTABLE: frozenset[str] = frozenset(get_args(StatusChangeKind)) - {"lapse"}

Ground = Literal["illness", "notifiable_disease", "personal", "death", "missing", "detained"]
# 随班就读 / 特殊教育学校 / 工读学校 (N2013 art. 17; HA art. 12; ZJ art. 13).
PlacementKind = Literal["special_education", "inclusive", "reform_school"]
_CODE = r"^[1-8][0-9]{9}$"


class StatusChangeFacts(BaseModel):
    """What a change asks for, as the school submitted it (basic facts only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    change: StatusChangeKind
    effective_on: date
    target_grade: int | None = Field(
        default=None,
        ge=1,
        le=12,
        description="resume, return, return_from_abroad, start: the grade the student joins; "
        "skip_grade / repeat_grade: the new grade",
    )
    ground: Ground | None = Field(
        default=None,
        description="suspend: illness | notifiable_disease | personal; decease: death "
        "(missing or detained students are not cancelled, HA art. 16)",
    )
    compulsory: bool = Field(
        default=False,
        description="a suspension the school orders (责令休学), where the province provides one",
    )
    special_education: bool = Field(
        default=False,
        description="a special-education or inclusive-placement student (N2025 art. 14; "
        "ZJ art. 12)",
    )
    attending_school: str | None = Field(
        default=None,
        pattern=_CODE,
        description="place: the school the student attends while the registration stays here",
    )
    placement: PlacementKind | None = Field(
        default=None,
        description="place: special_education (特殊教育学校) | inclusive (随班就读) | "
        "reform_school (工读学校)",
    )


@contract("status_change.submitted", 1, senders=SCHOOL_TIER, targets=AUTHORITY_TIERS)
class StatusChangeSubmitted(Contract):
    """School → its registry authority: please decide (or record) this change."""

    change_id: uuid.UUID
    school_code: str = Field(pattern=_CODE)
    student_number: str = Field(min_length=1, max_length=19)
    facts: StatusChangeFacts
    grade: int = Field(ge=1, le=12, description="the student's grade on the school's roster")
    reason: str = Field(min_length=1, max_length=500)
    proofs: tuple[ProofRef, ...] = Field(default=(), max_length=5)


@contract("status_change.approved", 1, senders=AUTHORITY_TIERS, targets=NATIONAL_TIER)
class StatusChangeApproved(Contract):
    """Authority → national: approved (or recorded); check the registry and apply it."""

    change_id: uuid.UUID
    school_code: str = Field(pattern=_CODE)
    student_number: str = Field(min_length=1, max_length=19)
    facts: StatusChangeFacts
    authority: str = Field(description="unit reference of the approving authority")
    approver: Decider | None = Field(default=None, description="the officer or rule that approved")
    proofs: tuple[ProofRef, ...] = Field(default=(), max_length=5)


@contract("status_change.decided", 1, senders=DECIDER_TIERS, targets=SCHOOL_AND_PROVINCE)
class StatusChangeDecided(Contract):
    """Authority or national → school and province: applied (with the registration's status
    and grade before and after) or rejected naming the rule and its article."""

    change_id: uuid.UUID
    school_code: str = Field(pattern=_CODE)
    student_number: str = Field(min_length=1, max_length=19)
    facts: StatusChangeFacts
    outcome: Literal["applied", "rejected"]
    decided_by: str
    decider: Decider | None = Field(default=None, description="the officer or rule that decided")
    reason: str | None = Field(default=None, max_length=500)
    rule: str | None = Field(default=None, max_length=60)
    article: str | None = Field(default=None, max_length=200)
    from_status: str | None = None
    to_status: str | None = None
    from_grade: int | None = Field(default=None, ge=1, le=12)
    to_grade: int | None = Field(default=None, ge=1, le=12)
    suspended_until: date | None = Field(
        default=None, description="suspend / extend_suspension: when the suspension ends"
    )
    report_due_on: date | None = Field(
        default=None, description="decease: the last day to report it (60 working days)"
    )
    reported_late: bool = False
    stopped_transfer_id: uuid.UUID | None = Field(
        default=None, description="the transfer in progress this change stopped"
    )
    proofs: tuple[ProofRef, ...] = Field(default=(), max_length=5)


@contract("dropout.archive_handed_over", 1, senders=PROVINCE_TIER, targets=PROVINCE_TIER)
class DropoutArchiveHandedOver(Contract):
    """School's province → the province of a migrant dropout's hukou county, at the end of the
    term: the student's archive for the hukou county (N2013 art. 22; HA art. 14; ZJ art. 18;
    LS 2(四): 每学期末将学生学籍档案转交其户籍所在地县教育行政部门). Extended info: it never
    passes through national."""

    change_id: uuid.UUID = Field(description="the dropout's status change")
    student_number: str = Field(min_length=1, max_length=19)
    from_school: str = Field(pattern=_CODE)
    hukou_county: str = Field(pattern=r"^[1-8][0-9]{5}$")
    archive: dict[str, Any] = Field(
        description="extended info and archive entries, as the province keeps them"
    )
