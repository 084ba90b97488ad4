"""The Yi-language track's entry check for a progression (LS 6), with the rules that apply at
the receiving school: the hook the progression use case calls for each graduate (decision
0034). The rule itself is :func:`services.national.domain.yi_track.progression_refusal`."""

from __future__ import annotations

from services.national.domain.yi_track import YiTrackRefusal, progression_refusal
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.federation.config import School


def progression_into_yi_track_refusal(
    rulebook: Rulebook,
    to_school: School,
    *,
    student_in_track: bool,
    selected: bool,
    class_name: str | None = None,
) -> YiTrackRefusal | None:
    """``yi_track_selection_required`` (LS 6) when a graduate outside the track (the registry
    entry's ``yi_track``) progresses into a Yi-track junior school (or class) without the
    selection result, where the receiving school's rules require it; None otherwise."""
    rules = rulebook.province_rules(to_school.code).yi_track
    return progression_refusal(
        needs_selection=rules.progression_needs_selection,
        student_in_track=student_in_track,
        into_track=to_school.in_yi_track(class_name),
        to_stage=to_school.stage,
        selected=selected,
    )
