"""Liangshan's Yi-language track (一类模式, LS part 6): who may enter it. Standard library only.

- 严禁一类模式学校中途接收转入非一类模式学生学籍或为非一类模式学生空挂学籍 (LS 6; LS
  2(一)6(2): 非一类模式转入一类模式学校): a transfer into a Yi-track school or class of a
  student outside the track is refused (``yi_track_closed``).
- 小学非一类模式学校毕业生升入初中一类模式学校，必须按照相关规定通过检测择优录取 (LS 6): a
  non-Yi-track graduate progresses into a Yi-track junior school only with the selection
  result (``yi_track_selection_required``). The progression use case calls
  :func:`progression_refusal`.

Whether the province applies these is its rules' ``[yi_track]`` table (``closed_to_transfers``,
``progression_needs_selection``), scoped to Liangshan (``[scope."5134".yi_track]``); whether a
school or class is in the track is the federation's school attribute (``yi_track``,
``yi_track_classes``); whether the student is, the registry entry's ``yi_track``.
"""

from __future__ import annotations

from dataclasses import dataclass

RULE_CLOSED = "yi_track_closed"
RULE_SELECTION_REQUIRED = "yi_track_selection_required"
ARTICLE = "LS 6"
TRANSFER_ARTICLE = "LS 2(一)6(2)"
# the stage whose entry from a non-Yi-track primary school needs the selection result
SELECTIVE_STAGES = frozenset({"junior", "nine_year"})


@dataclass(frozen=True)
class YiTrackRefusal:
    rule: str
    reason: str
    article: str


def transfer_refusal(
    *, closed_to_transfers: bool, student_in_track: bool, into_track: bool
) -> YiTrackRefusal | None:
    """A transfer into the track from outside it, where the province closes the track."""
    if not closed_to_transfers or not into_track or student_in_track:
        return None
    return YiTrackRefusal(
        RULE_CLOSED,
        f"Liangshan ({ARTICLE}, {TRANSFER_ARTICLE}): a Yi-track (一类模式) school or class "
        "takes no transfer of a student outside the track",
        f"{ARTICLE}; {TRANSFER_ARTICLE}",
    )


def progression_refusal(
    *,
    needs_selection: bool,
    student_in_track: bool,
    into_track: bool,
    to_stage: str,
    selected: bool,
) -> YiTrackRefusal | None:
    """A non-Yi-track graduate progressing into a Yi-track junior school without the
    selection result (检测择优录取), where the province requires it. ``selected``: the
    progression carries the selection result."""
    if not needs_selection or not into_track or student_in_track or selected:
        return None
    if to_stage not in SELECTIVE_STAGES:
        return None
    return YiTrackRefusal(
        RULE_SELECTION_REQUIRED,
        f"Liangshan ({ARTICLE}): a graduate outside the Yi track (一类模式) enters a Yi-track "
        "junior school only through its selection test (检测择优录取)",
        ARTICLE,
    )
