"""Progression to the next stage (升学) across tiers — N2013 art. 14 ("转学或升学的，转入学校…
启动学籍转接手续，转出学校及双方学校学籍主管部门予以核办"), N2013 art. 9, LS 1(二), LS 3(二),
LS 5(三).

A progression is a **batch**: the next-stage school admits a cohort of graduates of one
graduating school (a list, or every graduate of that school in a year) in one request. National
runs it like a transfer — the same deciding parties, the same 10-working-day steps — but with
one step per party for the whole cohort, and one message per step (decision 0033):

1. receiving school → national: ``progression.requested`` (the selector: a list of student
   numbers / ID numbers, or a graduation year);
2. national resolves the cohort set-based, refuses student by student what the registry rules
   do not allow (not graduated, wrong stage or grade, already progressed, LS 6), holds the
   others and tells the receiving school (``progression.updated``); it then opens the steps one
   by one (``progression.step_opened`` with every student still in, to the party), each party
   answering ``progression.step_decided`` (approve, possibly leaving out some students, or
   reject the whole cohort);
3. all approved → the registry entries move ``graduated → enrolled`` at the receiving school in
   its first grade (one UPDATE), ``progression.completed`` goes to both schools and both
   provinces (the archives follow, the graduating school keeps its backup); a rejection ends it
   with ``progression.closed``.

Basic info only: national never sees an archive.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.students import BasicInfo
from shared.contracts.tiers import (
    AUTHORITY_TIERS,
    NATIONAL_TIER,
    PARTY_TIERS,
    SCHOOL_AND_PROVINCE,
    SCHOOL_TIER,
)
from shared.contracts.transfer import Decision, PartyRole, StudentSummary
from shared.messaging.envelope import Contract, contract

# The largest cohort one request may name: a big school's graduating year, with room.
MAX_PROGRESSION_STUDENTS = 10_000

ItemOutcome = Literal["pending", "refused", "left_out", "progressed", "rejected", "stopped"]
ProgressionState = Literal["in_progress", "completed", "rejected", "refused"]


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CohortStudent(_Item):
    """One student of a cohort as the deciding parties see it (basic info only)."""

    student_number: str = Field(min_length=19, max_length=19)
    basic: BasicInfo = Field(description="as the registry holds it, grade as left")
    status: str = Field(max_length=20, description="graduated, completed or incomplete")


class ItemOutcomeUpdate(_Item):
    """What became of one student of the cohort; ``rule`` and ``article`` for a refusal."""

    student_number: str = Field(max_length=19, description="or the ID number that was named")
    outcome: ItemOutcome
    rule: str | None = Field(default=None, max_length=60)
    reason: str | None = Field(default=None, max_length=500)
    article: str | None = Field(default=None, max_length=60)


class LeftOut(_Item):
    """A student a party left out of its approval, with its reason."""

    student_number: str = Field(min_length=19, max_length=19)
    reason: str = Field(min_length=1, max_length=500)


@contract("progression.requested", 1, senders=SCHOOL_TIER, targets=NATIONAL_TIER)
class ProgressionRequested(Contract):
    """Receiving school → national: admit these graduates of ``from_school``.

    Exactly one selector: ``student_numbers`` / ``id_numbers`` (a list), or
    ``graduation_year`` (every graduate of ``from_school`` that year)."""

    progression_id: uuid.UUID
    from_school: str = Field(pattern=r"^[1-8][0-9]{9}$")
    to_school: str = Field(pattern=r"^[1-8][0-9]{9}$")
    graduation_year: int | None = Field(default=None, ge=2000, le=2999)
    student_numbers: tuple[str, ...] = Field(default=(), max_length=MAX_PROGRESSION_STUDENTS)
    id_numbers: tuple[str, ...] = Field(default=(), max_length=MAX_PROGRESSION_STUDENTS)
    requested_on: date
    # LS 6: Yi-track selection results the receiving school holds (student numbers)
    yi_track_selected: tuple[str, ...] = Field(default=(), max_length=MAX_PROGRESSION_STUDENTS)

    @model_validator(mode="after")
    def _one_selector(self) -> ProgressionRequested:
        listed = bool(self.student_numbers or self.id_numbers)
        if listed == (self.graduation_year is not None):
            raise ValueError("name either a list of students or a graduation year")
        return self


@contract("progression.updated", 1, senders=NATIONAL_TIER, targets=SCHOOL_TIER)
class ProgressionUpdated(Contract):
    """National → receiving school: the progression's state and what changed per student."""

    progression_id: uuid.UUID
    state: ProgressionState
    items: tuple[ItemOutcomeUpdate, ...] = Field(max_length=MAX_PROGRESSION_STUDENTS)
    rule: str | None = Field(default=None, max_length=60)
    reason: str | None = Field(default=None, max_length=500)


@contract("progression.step_opened", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class ProgressionStepOpened(Contract):
    progression_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole
    from_school: str
    to_school: str
    grade: int = Field(ge=1, le=12, description="the grade the cohort enters at to_school")
    students: tuple[CohortStudent, ...] = Field(min_length=1, max_length=MAX_PROGRESSION_STUDENTS)
    opened_on: date
    due_on: date
    due_approximate: bool


@contract("progression.step_decided", 1, senders=PARTY_TIERS, targets=NATIONAL_TIER)
class ProgressionStepDecided(Contract):
    """A party's decision on its step: approve (the students in ``left_out`` excepted) or
    reject the whole cohort."""

    progression_id: uuid.UUID
    step_id: uuid.UUID
    decision: Decision
    reason: str | None = Field(default=None, max_length=500)
    decided_by: str = Field(max_length=80)
    decided_unit: str
    intervention: bool = False
    left_out: tuple[LeftOut, ...] = Field(default=(), max_length=MAX_PROGRESSION_STUDENTS)


@contract("progression.step_overdue", 1, senders=NATIONAL_TIER, targets=AUTHORITY_TIERS)
class ProgressionStepOverdue(Contract):
    """To the superior authority of a party that let its step pass the due date: it may
    decide the step on the party's behalf (HA art. 11(三), as for a transfer)."""

    progression_id: uuid.UUID
    step_id: uuid.UUID
    role: PartyRole
    party: str = Field(description="unit reference of the late party")
    from_school: str
    to_school: str
    grade: int = Field(ge=1, le=12)
    student_count: int = Field(ge=0)
    due_on: date


@contract("progression.step_settled", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class ProgressionStepSettled(Contract):
    """A step was decided by someone else than the unit told (the superior for the late
    party, or the party after its superior was told): the unit's task for it is void."""

    progression_id: uuid.UUID
    step_id: uuid.UUID
    decided_unit: str
    intervention: bool


@contract("progression.closed", 1, senders=NATIONAL_TIER, targets=PARTY_TIERS)
class ProgressionClosed(Contract):
    """The progression ended without moving anyone; open steps are void."""

    progression_id: uuid.UUID
    outcome: Literal["rejected", "stopped"]
    reason: str = Field(max_length=500)
    rule: str | None = Field(default=None, max_length=60)


class ProgressedStudent(_Item):
    student_number: str = Field(min_length=19, max_length=19)
    student: StudentSummary
    basic: BasicInfo


@contract("progression.completed", 1, senders=NATIONAL_TIER, targets=SCHOOL_AND_PROVINCE)
class ProgressionCompleted(Contract):
    """National → both schools and both provinces: these students are now enrolled at
    ``to_school`` in ``grade``; their archives follow (N2013 art. 9, LS 5(三))."""

    progression_id: uuid.UUID
    from_school: str
    to_school: str
    grade: int = Field(ge=1, le=12)
    completed_at: datetime
    archive_due_on: date
    students: tuple[ProgressedStudent, ...] = Field(
        min_length=1, max_length=MAX_PROGRESSION_STUDENTS
    )


def item_reference(progression_id: uuid.UUID, student_number: str) -> uuid.UUID:
    """The id one student's move in a progression goes by where a per-student id is kept
    (the archive's section-1 entry, the backup, a cross-province hand-over)."""
    return uuid.uuid5(progression_id, student_number)
