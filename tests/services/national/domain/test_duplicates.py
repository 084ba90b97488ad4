"""Duplicate admission resolution rules (LS 2(三)): each refusal names its rule; both
authorities approve."""

from __future__ import annotations

from services.national.domain.duplicates import (
    Held,
    after_decision,
    request_refusal,
    required_units,
)

REAL, OTHER = "4101020001", "4101050001"


def test_refusals_name_their_rule() -> None:
    assert request_refusal(REAL, None, False).rule == "unknown_student_number"  # type: ignore[union-attr]
    same = Held(REAL, "enrolled", False)
    assert request_refusal(REAL, same, False).rule == "not_a_duplicate"  # type: ignore[union-attr]
    other = Held(OTHER, "enrolled", False)
    assert request_refusal(REAL, other, True).rule == "duplicate_resolution_in_progress"  # type: ignore[union-attr]
    moving = Held(OTHER, "enrolled", True)
    assert request_refusal(REAL, moving, False).rule == "transfer_in_progress"  # type: ignore[union-attr]
    graduate = Held(OTHER, "graduated", False)
    assert request_refusal(REAL, graduate, False).rule == "graduation_is_final"  # type: ignore[union-attr]
    assert request_refusal(REAL, other, False) is None


def test_both_authorities_approve_and_one_rejection_ends_it() -> None:
    required = required_units("county:410102", "county:410105")
    assert required == {"county:410102": ["real_authority"], "county:410105": ["other_authority"]}
    assert after_decision(required, {"county:410102": "approve"}) == "open"
    assert after_decision(required, {"county:410102": "approve", "county:410105": "approve"}) == (
        "resolved"
    )
    assert after_decision(required, {"county:410105": "reject"}) == "rejected"


def test_one_authority_of_both_schools_decides_once() -> None:
    required = required_units("county:410102", "county:410102")
    assert required == {"county:410102": ["real_authority", "other_authority"]}
    assert after_decision(required, {"county:410102": "approve"}) == "resolved"
