"""The desk's tasks and an authority's own checks: rules only (standard library and the
GB 11643 rules of :mod:`shared.resident_id`, which is standard library too).

A task is opened for every submission a school makes to its authority, and for every transfer
step a party (the sending school, an authority, a province — or, once a party is late, its
superior) has to decide, and is decided once: ``open`` → ``approved`` | ``rejected``; a
transfer that ends elsewhere (rejected by another party, cancelled, stopped) makes its open
tasks ``void``. A registration batch may be approved with some of its items rejected (each
with its own reason); the task is then ``approved`` and those items ``rejected``.

The checks are what an authority verifies before it approves (N2013 art. 6: no registration
on false information, no duplicate registration; ZJ art. 11 for key fields). A finding never
refuses a batch by itself: it keeps the batch from being approved automatically and is shown
to the officer, who decides.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from shared.resident_id import InvalidResidentId, normalise, validate_resident_id

SYSTEM = "system"  # decided_by of automatic approvals
REJECTED_RULE = "authority_rejected"  # rule of every outcome an authority rejects

# Grades a school of each stage teaches (1-6 primary, 7-9 junior, 10-12 senior).
GRADES_BY_STAGE: Mapping[str, range] = {
    "primary": range(1, 7),
    "junior": range(7, 10),
    "senior": range(10, 13),
    "nine_year": range(1, 10),
    "special": range(1, 13),
}


class TaskKind(StrEnum):
    REGISTRATION_BATCH = "registration_batch"  # 学籍建立: a school's intake
    KEY_FIELD_CHANGE = "key_field_change"  # 关键信息变更: name / ID document
    STATUS_CHANGE = "status_change"  # 学籍变动: suspension, dropout, death, grade skip …
    # 转学核办: a party's own step (the sending school's, an authority's, a province's)
    TRANSFER_STEP = "transfer_step"
    # 强制干预 (HA art. 11(三)): the superior decides a late party's step on its behalf
    TRANSFER_INTERVENTION = "transfer_intervention"
    GRADUATION_BATCH = "graduation_batch"  # 毕业审核: a school's graduating list (LS 3(一))
    # 升学核办 (N2013 art. 14): a party's step of a cohort's progression, one task for the
    # whole cohort, a student an item (decision 0033)
    PROGRESSION_STEP = "progression_step"
    # 学籍核查 (N2013 art. 24): ghosts and mismatches a term's check found at a school; the
    # officer marks them dealt with (approve) or sends them back (reject, with the reason)
    VERIFICATION_FINDINGS = "verification_findings"
    # 重复招生处理 (LS 2(三)): move a duplicate's registration to the school it attends
    DUPLICATE_RESOLUTION = "duplicate_resolution"
    # 导出审批 (N2013 art. 25; N2025 art. 24): an export request, decided by the approving
    # unit on the service that holds the data (decision 0011), where the task is kept
    EXPORT_APPROVAL = "export_approval"
    # 备案审核 (LS 2(二)5, LS 6): what national files with a school's city — a graduating-year
    # suspension, a Yi-track school's starting-grade roster; the officer marks it reviewed
    # (approve) or sends it back (reject, with the reason); nothing else waits on it
    FILING = "filing"
    # 异常预警 (N2025 art. 23): national's early warning of a school's week of registrations
    # or departures far outside its own history, with the figures; the officer acknowledges
    # it with a note (approve); nothing else waits on it (decision 0047)
    STATISTICS_ALERT = "statistics_alert"


TRANSFER_KINDS = frozenset({TaskKind.TRANSFER_STEP, TaskKind.TRANSFER_INTERVENTION})
# Kinds whose items are decided one by one (an approval may leave some out).
ITEM_KINDS = frozenset({TaskKind.REGISTRATION_BATCH, TaskKind.PROGRESSION_STEP})
# What a registry authority (county, province) decides on its own service (an export's task
# stays on the service that holds the data, which may be another).
AUTHORITY_KINDS = frozenset(TaskKind) - {TaskKind.EXPORT_APPROVAL}
# What a school submits to its registry authority; deciding one answers the school.
SUBMISSION_KINDS = frozenset(
    {
        TaskKind.REGISTRATION_BATCH,
        TaskKind.KEY_FIELD_CHANGE,
        TaskKind.STATUS_CHANGE,
        TaskKind.GRADUATION_BATCH,
    }
)


class TaskStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    VOID = "void"  # the transfer ended without this task's decision


def is_overdue(status: str, due_on: date | None, today: date) -> bool:
    """An open task whose due date (a Beijing date) has passed."""
    return status == TaskStatus.OPEN and due_on is not None and today > due_on


class ItemStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


# Where a task keeps the W3C trace context of the message that opened it: the decision
# continues that trace, so one flow (a transfer, a registration) is one trace.
TRACE_KEY = "trace_context"
# A registration batch task's details: each registration's proofs (their indexes in the task's
# proofs), e.g. the approval an under-age first-grader carries (HA art. 4).
ITEM_PROOFS = "item_proofs"


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Finding:
    """Something the authority's checks noticed, for the officer to weigh."""

    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


class Applicant(Protocol):
    """The basic info the checks read (``shared.contracts.students.BasicInfo`` fits)."""

    @property
    def id_type(self) -> str: ...
    @property
    def id_number(self) -> str | None: ...
    @property
    def gender(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def grade(self) -> int: ...
    @property
    def enrolled_on(self) -> date: ...


# ---------------------------------------------------------------- checks of a batch


def check_batch(
    applicants: Mapping[str, Applicant], stage: str, today: date
) -> dict[str, list[Finding]]:
    """Findings per registration id (only ids with findings appear)."""
    found = {key: check_applicant(a, stage, today) for key, a in applicants.items()}
    for key in duplicated_identities(applicants):
        found[key].append(
            Finding("duplicate_in_batch", "the same identity document appears twice in the batch")
        )
    return {key: findings for key, findings in found.items() if findings}


def check_applicant(applicant: Applicant, stage: str, today: date) -> list[Finding]:
    """Findings about one applicant: identity document, dates and grade."""
    return [
        *check_identity(applicant, today),
        *check_dates(applicant, today),
        *check_grade(applicant.grade, stage),
    ]


def check_identity(applicant: Applicant, today: date) -> list[Finding]:
    """The identity document is complete and, for a resident ID, agrees with the person."""
    if applicant.id_type == "none":
        if applicant.id_number:
            return [Finding("id_number_unexpected", "id type 'none' carries no id number")]
        return []
    if not applicant.id_number:
        return [Finding("id_number_missing", f"id type {applicant.id_type!r} needs an id number")]
    if applicant.id_type != "resident_id":
        return []
    try:
        parsed = validate_resident_id(applicant.id_number, today=today)
    except InvalidResidentId as error:
        return [Finding(f"resident_id_{error.rule}", error.message)]
    findings = []
    if parsed.birth_date != applicant.birth_date:
        findings.append(
            Finding("birth_date_mismatch", "the birth date differs from the resident ID's")
        )
    if parsed.sex != applicant.gender:
        findings.append(Finding("gender_mismatch", "the gender differs from the resident ID's"))
    return findings


def check_dates(applicant: Applicant, today: date) -> list[Finding]:
    findings = []
    if applicant.enrolled_on > today:
        findings.append(Finding("enrolled_in_future", "the enrolment date is in the future"))
    if applicant.birth_date >= applicant.enrolled_on:
        findings.append(
            Finding("born_after_enrolment", "the birth date is not before the enrolment date")
        )
    return findings


def check_grade(grade: int, stage: str) -> list[Finding]:
    grades = GRADES_BY_STAGE.get(stage)
    if grades is None or grade in grades:
        return []
    return [
        Finding(
            "grade_outside_stage",
            f"grade {grade} is not taught at a {stage} school ({grades[0]}-{grades[-1]})",
        )
    ]


def duplicated_identities(applicants: Mapping[str, Applicant]) -> list[str]:
    """Keys of applicants whose identity document another applicant of the batch shares."""
    keys = {key: identity_key(a) for key, a in applicants.items()}
    counts = Counter(k for k in keys.values() if k is not None)
    return [key for key, k in keys.items() if k is not None and counts[k] > 1]


def identity_key(applicant: Applicant) -> tuple[str, str] | None:
    if applicant.id_type == "none" or not applicant.id_number:
        return None
    return applicant.id_type, normalise(applicant.id_number)


# ------------------------------------------------------ checks of a key-field change


def check_key_field_change(
    name: str | None,
    id_type: str | None,
    id_number: str | None,
    today: date,
    *,
    changes_others: bool = False,
) -> list[Finding]:
    """Findings about the requested new key fields (ZJ art. 11; N2013 art. 10);
    ``changes_others``: the request also sets gender, birth date, nationality or ethnicity."""
    if name is None and id_type is None and id_number is None and not changes_others:
        return [Finding("nothing_to_change", "the request changes no key field")]
    if id_type == "none" and id_number:
        return [Finding("id_number_unexpected", "id type 'none' carries no id number")]
    if id_type is not None and id_type != "none" and not id_number:
        return [Finding("id_number_missing", f"id type {id_type!r} needs an id number")]
    if id_type == "resident_id" and id_number:
        try:
            validate_resident_id(id_number, today=today)
        except InvalidResidentId as error:
            return [Finding(f"resident_id_{error.rule}", error.message)]
    return []


# ------------------------------------------------------ checks of a status change


def check_status_change(
    change: str, effective_on: date, today: date, report_due_on: date | None
) -> list[Finding]:
    """Findings about a status change for the officer (national checks the registry)."""
    findings = []
    if effective_on > today:
        findings.append(
            Finding("effective_in_future", "the change is dated after today (N2013 art. 13)")
        )
    if change == "decease" and report_due_on is not None and today > report_due_on:
        findings.append(
            Finding(
                "death_reported_late",
                f"reported after the last day ({report_due_on.isoformat()}, N2025 art. 21): "
                "the school answers for the delay (N2013 art. 27)",
            )
        )
    return findings


# ---------------------------------------------------------------------- decisions


class DecisionRefused(Exception):
    """A decision the task cannot take; ``rule`` names why."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


class AlreadyDecided(DecisionRefused):
    def __init__(self, status: str) -> None:
        super().__init__("task_already_decided", f"the task is already {status}")


@dataclass(frozen=True)
class Decision:
    """What an officer (or the system) decided about a task."""

    kind: DecisionKind
    decided_by: str
    reason: str | None = None
    # registration id → reason
    rejected_items: Mapping[uuid.UUID, str] = field(default_factory=dict)
    rule: str | None = None  # the rule behind an automatic rejection (e.g. under_discipline)
    # the officer's unit reference (``county:410102``) and roles, as authenticated, for a
    # kind whose policy checks them (an export's approver); None and empty for the system
    unit: str | None = None
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plan:
    """The effect of a decision: the task's new status and each item's fate."""

    status: TaskStatus
    approved: tuple[uuid.UUID, ...]
    rejected: Mapping[uuid.UUID, str]  # registration id → reason


def plan_decision(
    kind: TaskKind, status: TaskStatus, item_ids: Sequence[uuid.UUID], decision: Decision
) -> Plan:
    """Check ``decision`` against the task and say what it does; raises DecisionRefused."""
    if status is not TaskStatus.OPEN:
        raise AlreadyDecided(status)
    if decision.kind is DecisionKind.REJECT:
        return _plan_rejection(item_ids, decision)
    if decision.rejected_items and kind not in ITEM_KINDS:
        raise DecisionRefused(
            "rejected_items_not_applicable",
            "only a registration batch or a progression has items to reject",
        )
    return _plan_approval(item_ids, decision.rejected_items)


def _plan_rejection(item_ids: Sequence[uuid.UUID], decision: Decision) -> Plan:
    if not (decision.reason or "").strip():
        raise DecisionRefused("reason_required", "a rejection needs a reason")
    if decision.rejected_items:
        raise DecisionRefused(
            "rejected_items_with_reject",
            "rejected_items belong to an approval; a rejection rejects every item",
        )
    reason = decision.reason or ""
    return Plan(TaskStatus.REJECTED, (), {item: reason for item in item_ids})


def _plan_approval(item_ids: Sequence[uuid.UUID], rejected: Mapping[uuid.UUID, str]) -> Plan:
    unknown = set(rejected) - set(item_ids)
    if unknown:
        raise DecisionRefused(
            "unknown_item", f"{len(unknown)} rejected item(s) are not in this batch"
        )
    approved = tuple(item for item in item_ids if item not in rejected)
    if item_ids and not approved:
        raise DecisionRefused(
            "every_item_rejected", "every item is rejected: reject the task instead"
        )
    return Plan(TaskStatus.APPROVED, approved, dict(rejected))
