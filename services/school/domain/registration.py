"""The life of a registration request at the school (学籍建立, N2013 arts. 4-7).

::

    pending ──issued──────────▶ approved  (final: the student is on the roster)
       │  └──rejected─────────▶ rejected  (final)
       └──held_for_review──▶ held_for_review ──issued / rejected──▶ approved / rejected

Outcomes may arrive twice or out of order (an authority's and the national registry's
messages travel independently): a transition is applied only from the statuses listed in
:func:`sources_of`, so a late ``held_for_review`` never downgrades an issued number and a final
outcome is never overwritten.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Outcome = Literal["issued", "rejected", "held_for_review"]


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    HELD_FOR_REVIEW = "held_for_review"
    APPROVED = "approved"
    REJECTED = "rejected"


OPEN_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.HELD_FOR_REVIEW)
FINAL_STATUSES = (RegistrationStatus.APPROVED, RegistrationStatus.REJECTED)
# A registration in one of these holds the student's place: a second one is a duplicate.
ACTIVE_STATUSES = (*OPEN_STATUSES, RegistrationStatus.APPROVED)

_STATUS_OF_OUTCOME: dict[str, RegistrationStatus] = {
    "issued": RegistrationStatus.APPROVED,
    "rejected": RegistrationStatus.REJECTED,
    "held_for_review": RegistrationStatus.HELD_FOR_REVIEW,
}


def status_of(outcome: Outcome) -> RegistrationStatus:
    """The status an outcome leads to."""
    return _STATUS_OF_OUTCOME[outcome]


def sources_of(target: RegistrationStatus) -> tuple[RegistrationStatus, ...]:
    """The statuses from which a registration may move to ``target``."""
    if target == RegistrationStatus.HELD_FOR_REVIEW:
        return (RegistrationStatus.PENDING,)
    if target in FINAL_STATUSES:
        return OPEN_STATUSES
    return ()


def may_move(current: RegistrationStatus, target: RegistrationStatus) -> bool:
    return current in sources_of(target)
