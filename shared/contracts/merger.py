"""A school merged into another, or closed with its students going to a unit the county
designates (学校合并、撤销: N2013 art. 9 — "学校合并或撤销的，学生学籍档案转至合并后学校或由
县级教育行政部门指定的学校"; decision 0043).

1. the school's registry authority (an operator of the county, or of the city or province
   running it) → national: ``school.merged`` naming the closing school, the receiving school
   and the officer who decided;
2. national moves every registration of the closing school that no transfer or progression
   holds (one ``UPDATE``), logs each in its registry change log (one ``INSERT … SELECT``, kind
   ``school_merged``) and answers the authority, both schools and the province(s) with one
   ``school.merged_applied`` per 2,000 students: the students moved (basic info, for the
   receiving roster) and those refused (held by a transfer or a progression in flight).

Basic info only: the archives follow at the province, national never sees one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.decider import Decider
from shared.contracts.students import BasicInfo
from shared.contracts.tiers import AUTHORITY_TIERS, NATIONAL_TIER
from shared.federation.config import Tier
from shared.messaging.envelope import Contract, contract

# the students one ``school.merged_applied`` carries (one message per batch, decision 0043)
MERGER_BATCH = 2_000

MERGER_ARTICLE = "N2013 art. 9"

_TOLD = frozenset({Tier.SCHOOL, Tier.PROVINCE}) | AUTHORITY_TIERS


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@contract("school.merged", 1, senders=AUTHORITY_TIERS, targets=NATIONAL_TIER)
class SchoolMerged(Contract):
    """The authority → national: ``from_school`` is closed on ``closed_on``; its students go
    to ``to_school`` (the merged school, or the school the county designates)."""

    merger_id: uuid.UUID
    from_school: str = Field(pattern=r"^[1-8][0-9]{9}$")
    to_school: str = Field(pattern=r"^[1-8][0-9]{9}$")
    kind: str = Field(pattern=r"^(merged|closed)$", description="merged, or closed")
    closed_on: date
    decider: Decider


class MergedStudent(_Item):
    student_number: str = Field(min_length=19, max_length=19)
    basic: BasicInfo
    status: str = Field(max_length=20)


class RefusedStudent(_Item):
    student_number: str = Field(min_length=19, max_length=19)
    rule: str = Field(max_length=60)
    article: str = Field(max_length=60)


@contract("school.merged_applied", 1, senders=NATIONAL_TIER, targets=_TOLD)
class SchoolMergedApplied(Contract):
    """National → the authority, both schools and the province(s): one batch of the move.
    ``batch`` counts from 1 to ``batches``; the report adds the batches up."""

    merger_id: uuid.UUID
    from_school: str
    to_school: str
    kind: str = Field(max_length=10)
    closed_on: date
    applied_at: datetime
    decider: Decider
    batch: int = Field(ge=1)
    batches: int = Field(ge=1)
    moved: tuple[MergedStudent, ...] = Field(default=(), max_length=MERGER_BATCH)
    refused: tuple[RefusedStudent, ...] = Field(default=(), max_length=MERGER_BATCH)
