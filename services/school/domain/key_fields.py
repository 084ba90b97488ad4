"""Key-field changes (关键信息变更, N2013 art. 10; ZJ art. 11): name and identity document.

The school checks the request, the authority approves, the national registry re-runs its
duplicate check and applies it. When a resident ID is recorded for a student who had a
temporary ``L`` number, the student number becomes ``G`` + the ID (one person, one number:
the registry entry stays the same, only its number is upgraded).
"""

from __future__ import annotations

from enum import StrEnum

from services.school.domain.students import RESIDENT_ID
from shared.resident_id import is_temporary, student_number_for


class KeyFieldChangeStatus(StrEnum):
    SUBMITTED = "submitted"
    APPLIED = "applied"
    REJECTED = "rejected"


def number_after_change(
    current: str, id_type: str | None, id_number: str | None, decided: str | None
) -> str:
    """The student number once a change is applied.

    The decider's number wins when it names one; otherwise an ``L`` number becomes the ``G``
    number of a newly recorded resident ID, and any other number stays.
    """
    if decided:
        return decided
    if id_type == RESIDENT_ID and id_number and is_temporary(current):
        return student_number_for(id_number)
    return current
