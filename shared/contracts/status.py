"""Changes of a student's registry status decided by national (学籍变动) — DOMAIN.md §5.

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

from pydantic import BaseModel, ConfigDict, Field

from shared.messaging.envelope import Contract, contract

# Namespace of the ids national derives for a promotion run and its messages.
PROMOTION_NAMESPACE = uuid.UUID("5b0c6f2e-4d1e-4c8a-9a6f-0d3c2b1a8e10")


class GradeCount(BaseModel):
    """How many students national moved up from ``grade`` (to ``grade + 1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grade: int = Field(ge=1, le=11, description="the grade before the promotion")
    count: int = Field(ge=1)


@contract("registry.promoted", 1)
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
