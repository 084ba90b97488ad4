"""Term re-verification of registrations (学籍核查, N2013 art. 24; N2025 art. 25): "every term,
authorities and schools re-verify registrations: people match records, procedures are
complete; find and fix ghost registrations (空挂学籍) and mismatches (人籍分离)".

Flow, one message per school per step:

1. national → each school in scope: ``verification.campaign_opened`` (a national officer, or a
   province officer for its province, opens a campaign for a term);
2. school → national: ``verification.roster_confirmed`` — the students the school confirms
   are attending, with the grade its roster has (student numbers and grades only);
3. national compares that set with the registry, set-based, and sends the school's authority
   ``verification.findings`` when there is something to fix: **ghosts** (registered at the
   school and enrolled, not attending) and **mismatches** (attending, but the registry has
   them at another school, in another grade or status, or not at all). The officer's task
   list shows them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.tiers import AUTHORITY_TIERS, NATIONAL_TIER, SCHOOL_TIER
from shared.messaging.envelope import Contract, contract

MAX_ROSTER = 10_000  # students of one school in one confirmation

FindingKind = Literal[
    "ghost", "unknown_number", "registered_elsewhere", "status_differs", "grade_differs"
]


class RosterLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    student_number: str = Field(min_length=19, max_length=19)
    grade: int = Field(ge=1, le=12)


class VerificationFinding(BaseModel):
    """One thing to fix: ``detail`` names schools, grades and statuses, never a person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_number: str = Field(min_length=19, max_length=19)
    kind: FindingKind
    detail: str = Field(max_length=300)


@contract("verification.campaign_opened", 1, senders=NATIONAL_TIER, targets=SCHOOL_TIER)
class VerificationCampaignOpened(Contract):
    """national → school: confirm your roster for this term."""

    campaign_id: uuid.UUID
    term: str = Field(pattern=r"^[0-9]{4}-(spring|autumn)$", examples=["2026-autumn"])
    school_code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    opened_on: date
    opened_by: str = Field(description="the unit that opened it: national:CN or province:<code>")


@contract("verification.roster_confirmed", 1, senders=SCHOOL_TIER, targets=NATIONAL_TIER)
class RosterConfirmed(Contract):
    """school → national: the students the school confirms are attending."""

    campaign_id: uuid.UUID
    school_code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    confirmed_on: date
    attending: tuple[RosterLine, ...] = Field(default=(), max_length=MAX_ROSTER)

    @model_validator(mode="after")
    def _distinct(self) -> RosterConfirmed:
        numbers = [line.student_number for line in self.attending]
        if len(set(numbers)) != len(numbers):
            raise ValueError("a student number appears twice in the confirmation")
        return self


@contract("verification.findings", 1, senders=NATIONAL_TIER, targets=AUTHORITY_TIERS)
class VerificationFindings(Contract):
    """national → the school's authority: ghosts and mismatches to fix."""

    campaign_id: uuid.UUID
    term: str
    school_code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    attending: int = Field(ge=0, description="students the school confirmed")
    registered: int = Field(ge=0, description="students the registry has enrolled there")
    findings: tuple[VerificationFinding, ...] = Field(min_length=1, max_length=2 * MAX_ROSTER)
