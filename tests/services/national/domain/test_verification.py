"""The term check's comparison (N2013 art. 24; N2025 art. 25): ghosts and each kind of
mismatch, and the unclaimed cut-off."""

from __future__ import annotations

from datetime import date

from services.national.domain.verification import Registered, compare, unclaimed_before

SCHOOL = "4101020001"
G = "G4101022015010100"  # + one character: 19-character numbers


def n(i: int) -> str:
    return f"{G}{i}"


def test_ghosts_and_mismatches_are_found_and_named() -> None:
    registry = {
        n(1): Registered(SCHOOL, 3, "enrolled"),
        n(2): Registered(SCHOOL, 3, "enrolled"),
        n(3): Registered("4101020003", 3, "enrolled"),
        n(4): Registered(SCHOOL, 3, "suspended"),
        n(5): Registered(SCHOOL, 4, "enrolled"),
    }
    confirmed = {n(1): 3, n(3): 3, n(4): 3, n(5): 3, n(6): 2}
    found = compare(SCHOOL, [n(1), n(2), n(5)], confirmed, registry)
    assert [(f.student_number, f.kind) for f in found] == [
        (n(2), "ghost"),
        (n(3), "registered_elsewhere"),
        (n(4), "status_differs"),
        (n(5), "grade_differs"),
        (n(6), "unknown_number"),
    ]
    assert "4101020003" in found[1].detail and "grade 3" in found[3].detail


def test_a_roster_that_matches_finds_nothing() -> None:
    registry = {n(1): Registered(SCHOOL, 2, "enrolled")}
    assert compare(SCHOOL, [n(1)], {n(1): 2}, registry) == []


def test_the_unclaimed_cut_off() -> None:
    assert unclaimed_before(date(2026, 9, 7), 30) == date(2026, 8, 8)
