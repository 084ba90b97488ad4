"""Liangshan's Yi-language track (一类模式, LS part 6): who may enter it."""

from __future__ import annotations

import pytest

from devtools.testing import REPO_CONFIG
from services.national.domain.yi_track import progression_refusal, transfer_refusal
from services.national.service_layer.transfers.rulebook import Rulebook
from services.national.service_layer.yi_track import progression_into_yi_track_refusal
from shared.federation.config import load_federation


@pytest.mark.parametrize(
    ("closed", "student_in_track", "into_track", "refused"),
    [
        (True, False, True, True),  # from outside into the track: refused
        (True, True, True, False),  # within the track
        (True, False, False, False),  # outside the track altogether
        (True, True, False, False),  # leaving the track
        (False, False, True, False),  # a province that does not close its track
    ],
)
def test_a_transfer_into_the_track_from_outside_it_is_refused_where_closed(
    closed: bool, student_in_track: bool, into_track: bool, refused: bool
) -> None:
    found = transfer_refusal(
        closed_to_transfers=closed, student_in_track=student_in_track, into_track=into_track
    )
    assert (found is not None) == refused
    if found is not None:
        assert (found.rule, found.article) == ("yi_track_closed", "LS 6; LS 2(一)6(2)")


def test_a_non_track_graduate_enters_a_track_junior_school_only_with_the_selection() -> None:
    common = {"needs_selection": True, "into_track": True, "to_stage": "junior"}
    found = progression_refusal(**common, student_in_track=False, selected=False)
    assert found is not None
    assert (found.rule, found.article) == ("yi_track_selection_required", "LS 6")
    assert "检测择优录取" in found.reason
    assert progression_refusal(**common, student_in_track=False, selected=True) is None
    assert progression_refusal(**common, student_in_track=True, selected=False) is None
    senior = {**common, "to_stage": "senior"}
    assert progression_refusal(**senior, student_in_track=False, selected=False) is None
    off = {**common, "needs_selection": False}
    assert progression_refusal(**off, student_in_track=False, selected=False) is None
    plain = {**common, "into_track": False}
    assert progression_refusal(**plain, student_in_track=False, selected=False) is None


def test_the_progression_hook_reads_the_receiving_schools_rules() -> None:
    """LS 6 at 凉山州民族中学 (Yi-track junior, Liangshan); nothing at a non-track school."""
    rulebook = Rulebook(load_federation(REPO_CONFIG), REPO_CONFIG)
    yi_junior = rulebook.school("5134010003")
    other = rulebook.school("4101020002")
    found = progression_into_yi_track_refusal(
        rulebook, yi_junior, student_in_track=False, selected=False
    )
    assert found is not None and (found.rule, found.article) == (
        "yi_track_selection_required",
        "LS 6",
    )
    assert (
        progression_into_yi_track_refusal(
            rulebook, yi_junior, student_in_track=False, selected=True
        )
        is None
    )
    assert (
        progression_into_yi_track_refusal(rulebook, other, student_in_track=False, selected=False)
        is None
    )
