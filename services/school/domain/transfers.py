"""Transfers (转学) at the school — N2013 art. 14, N2025 art. 15, HA art. 11, LS 2(一), ZJ art. 13.

The **receiving school starts** a transfer; national runs it; the **sending school** is one of
the deciding parties. At the school:

A transfer in (receiving school)::

    pending ──transfer.completed──▶ completed  (the student joins the roster)
       ├─────transfer.refused────▶ refused    (national's registry rules, rule + reason)
       └─────transfer.closed─────▶ rejected | cancelled | stopped

A sending school's step is a task on its approval desk (``components/approval_desk``)::

    open ──decision──▶ approved | rejected      (→ transfer.step_decided to national)
      └───transfer.closed──▶ void

Outcomes only move a pending transfer in, and an open task, so a redelivered or late message
changes nothing. The receiving school's own checks (before anything is sent) are the
receiving province's: the class size cap (LS 2(一)6(1)) and the proofs a cross-province
transfer must carry (HA art. 11(二): the origin school's registration proof).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from shared.resident_id import InvalidResidentId, validate_student_number

CLASS_SIZE_ARTICLE = "LS 2(一)6(1)"  # 班额已达到国家、省定标准的，不得接收转学学生

# Proof kinds the province rules name, with where the requirement comes from.
PROOF_KINDS: dict[str, str] = {
    # 跨省转学的学生除了上述相关证明材料，还须提供原学籍所在学校的学籍证明
    "origin_registration_proof": "the origin school's registration proof, HA art. 11(二)",
}


class TransferInStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    REFUSED = "refused"  # national would not start (or stopped) it: a registry rule
    REJECTED = "rejected"  # a deciding party rejected it
    CANCELLED = "cancelled"  # the receiving school withdrew it
    STOPPED = "stopped"  # ended by national (e.g. the student's status changed)


def closed_status(outcome: Literal["rejected", "cancelled", "stopped"]) -> TransferInStatus:
    return TransferInStatus(outcome)


def class_is_full(seats_taken: int, cap: int | None) -> bool:
    """Whether a class already holding ``seats_taken`` students can take no one more."""
    return cap is not None and seats_taken >= cap


def missing_proofs(required: Iterable[str], supplied: Iterable[str]) -> list[str]:
    """The required proof kinds not among the supplied ones, in the rules' order."""
    have = set(supplied)
    return [kind for kind in required if kind not in have]


def explain_proof(kind: str) -> str:
    """``kind``, with what it is and the article requiring it when known."""
    meaning = PROOF_KINDS.get(kind)
    return f"{kind} ({meaning})" if meaning else kind


def identity_from_number(student_number: str) -> tuple[str, str | None]:
    """``(id_type, id_number)`` a student number implies, for a roster entry made without the
    registry's basic info: ``G`` + an 18-character resident ID is exactly that resident ID; a
    temporary ``L`` number implies no mainland ID (N2013 art. 5)."""
    try:
        number = validate_student_number(student_number)
    except InvalidResidentId:
        return "none", None
    if number.resident_id is not None:
        return "resident_id", number.resident_id
    return "none", None
