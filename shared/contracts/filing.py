"""What a school's changes and rosters file with the city / prefecture (备案, decision 0034).

National sends ``filing.submitted`` to the school's city, once per decision or batch (never
per student), where the province's rules ask for it:

- ``graduating_suspension`` — 毕业年级学生办理休学…报州教育局备案审核 (LS 2(二)5): a suspension
  national applied to a student in the last grade of the school's stage;
- ``yi_track_roster`` — 一类模式…起始年级学生的学籍于每年9月30日前报州教育局备案 (LS 6): the
  students a Yi-track school registered in a starting grade (1 or 7), due September 30.

The city's desk opens a ``filing`` task (审核): the officer marks it reviewed (approve) or
sends it back with a reason (reject); nothing else waits on it.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import Field

from shared.contracts.tiers import CITY_TIER, NATIONAL_TIER
from shared.messaging.envelope import Contract, contract

FilingKind = Literal["graduating_suspension", "yi_track_roster"]
MAX_FILED = 10_000  # students of one filing (one registration batch at most)


@contract("filing.submitted", 1, senders=NATIONAL_TIER, targets=CITY_TIER)
class FilingSubmitted(Contract):
    filing_id: uuid.UUID = Field(description="the same id for a re-sent filing")
    kind: FilingKind
    school_code: str
    subject_id: uuid.UUID = Field(description="the status change or registration batch filed")
    student_numbers: tuple[str, ...] = Field(min_length=1, max_length=MAX_FILED)
    grade: int = Field(ge=1, le=12)
    effective_on: date
    due_on: date | None = Field(default=None, description="file by (LS 6: September 30)")
    article: str
