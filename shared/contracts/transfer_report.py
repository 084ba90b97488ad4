"""A term's transfers of a province-direct or city-run school, told to the county it is in
(N2013 art. 18: 省直管学校、设区的市直管学校学生的转入转出情况，由学校每学期书面告知所在地
县(区)教育行政部门).

National holds the completed transfers (the registry switched in their completing
transaction), so it sends, once per school per term, ``transfer.term_report`` to the county
the school is located in: the transfers in and out the school completed in the term, as lines
of one message (never one message per student). A re-sent report of the same school and term
replaces the first at the county (decision 0034).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.tiers import COUNTY_TIER, NATIONAL_TIER
from shared.messaging.envelope import Contract, contract

MAX_LINES = 10_000  # transfers of one school in one term, in and out


class TransferLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    student_number: str = Field(min_length=19, max_length=19)
    other_school: str = Field(description="the sending school (in) or the receiving one (out)")
    grade: int = Field(ge=1, le=12)
    completed_on: date


@contract("transfer.term_report", 1, senders=NATIONAL_TIER, targets=COUNTY_TIER)
class TransferTermReport(Contract):
    school_code: str
    term: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="the term's last day")
    period_start: date
    period_end: date
    transfers_in: tuple[TransferLine, ...] = Field(default=(), max_length=MAX_LINES)
    transfers_out: tuple[TransferLine, ...] = Field(default=(), max_length=MAX_LINES)
    article: str = "N2013 art. 18"
