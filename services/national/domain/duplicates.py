"""Duplicate admission resolution (重复招生处理, LS 2(三)) at national: whether a real school's
request can proceed, and where the two authorities' approvals leave it. Standard library only.

The registration moves from the other school to the real school, like a transfer's registry
switch, so the state machine's ``transfer`` change decides which statuses allow it
(``enrolled`` only; finals and a transfer in progress refuse with their rule). Besides:

- ``unknown_student_number``: no registration has the number;
- ``not_a_duplicate``: the registration is at the real school already;
- ``duplicate_resolution_in_progress``: another resolution of the student is open;
- ``other_school_mismatch``: the registration is not at the school the request names.

Both schools' authorities approve ("双方学校教育主管部门核办"); one unit when both schools have
the same authority. Any rejection ends it; the last approval resolves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.national.domain.status import Change, StatusChangeRefused, check_transition

RULE_UNKNOWN = "unknown_student_number"
RULE_NOT_DUPLICATE = "not_a_duplicate"
RULE_IN_PROGRESS = "duplicate_resolution_in_progress"
RULE_OTHER_SCHOOL = "other_school_mismatch"
ARTICLE = "LS 2(三)"

OPEN, RESOLVED, REJECTED, REFUSED = "open", "resolved", "rejected", "refused"


@dataclass(frozen=True)
class Held:
    """What the registry holds of the student the request names."""

    school_code: str
    status: str
    in_transfer: bool


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str


def request_refusal(
    real_school: str, entry: Held | None, open_elsewhere: bool, other_school: str | None = None
) -> Refusal | None:
    """Why the request cannot proceed, or ``None``."""
    if entry is None:
        return Refusal(RULE_UNKNOWN, "no registration has this student number")
    if entry.school_code == real_school:
        return Refusal(RULE_NOT_DUPLICATE, "the student is registered at this school already")
    if other_school is not None and entry.school_code != other_school:
        return Refusal(RULE_OTHER_SCHOOL, "the student is not registered at the school named")
    if open_elsewhere:
        return Refusal(RULE_IN_PROGRESS, "another resolution of this student is open")
    try:
        check_transition(entry.status, Change.TRANSFER, in_transfer=entry.in_transfer)
    except StatusChangeRefused as refused:
        return Refusal(refused.rule, f"{refused.reason} ({refused.article})")
    return None


def required_units(real_authority: str, other_authority: str) -> dict[str, list[str]]:
    """Each authority unit that must approve, with its role(s)."""
    units: dict[str, list[str]] = {real_authority: ["real_authority"]}
    units.setdefault(other_authority, []).append("other_authority")
    return units


def after_decision(required: Mapping[str, list[str]], decisions: Mapping[str, str]) -> str:
    """``rejected`` once anyone rejected, ``resolved`` once every unit approved, else open."""
    if any(d == "reject" for d in decisions.values()):
        return REJECTED
    if all(decisions.get(unit) == "approve" for unit in required):
        return RESOLVED
    return OPEN
