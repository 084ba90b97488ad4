"""The registry status state machine: every allowed transition, a sample of refusals with the
rule they name, the final statuses, the transfer overlay, and the diagram in the docstring."""

from __future__ import annotations

import re

import pytest

from services.national.domain import status
from services.national.domain.status import (
    ALLOWED,
    FINAL,
    FINAL_FOR_STAGE,
    PROMOTABLE,
    RULE_DECEASED_IS_FINAL,
    RULE_GRADUATION_IS_FINAL,
    RULE_NOT_ALLOWED,
    RULE_TRANSFER_IN_PROGRESS,
    RULE_UNKNOWN_STATUS,
    TRANSITIONS,
    Change,
    RegistryStatus,
    StatusChangeRefused,
    check_transition,
    next_status,
    stops_transfer,
)

S = RegistryStatus

EXPECTED: dict[tuple[RegistryStatus | None, Change], RegistryStatus] = {
    (None, Change.REGISTER): S.ENROLLED,
    (None, Change.DEFER): S.DEFERRED,
    (S.DEFERRED, Change.DEFER): S.DEFERRED,
    (S.ENROLLED, Change.DEFER): S.DEFERRED,
    (S.DEFERRED, Change.START): S.ENROLLED,
    (S.ENROLLED, Change.PROMOTE): S.ENROLLED,
    (S.ENROLLED, Change.SKIP_GRADE): S.ENROLLED,
    (S.ENROLLED, Change.REPEAT_GRADE): S.ENROLLED,
    (S.ENROLLED, Change.TRANSFER): S.ENROLLED,
    (S.ENROLLED, Change.SUSPEND): S.SUSPENDED,
    (S.ENROLLED, Change.WITHDRAW): S.WITHDRAWN,
    (S.ENROLLED, Change.PLACE): S.ENROLLED,
    (S.ENROLLED, Change.END_PLACEMENT): S.ENROLLED,
    (S.ENROLLED, Change.DETAIN): S.DETAINED,
    (S.DETAINED, Change.RELEASE): S.ENROLLED,
    (S.DETAINED, Change.DECEASE): S.DECEASED,
    (S.SUSPENDED, Change.WITHDRAW): S.WITHDRAWN,
    (S.SUSPENDED, Change.EXTEND_SUSPENSION): S.SUSPENDED,
    (S.SUSPENDED, Change.RESUME): S.ENROLLED,
    (S.SUSPENDED, Change.LAPSE): S.OTHER_DEPARTURE,
    (S.ENROLLED, Change.REPORT_ABSENCE): S.OTHER_DEPARTURE,
    (S.ENROLLED, Change.SUSPECT_DROPOUT): S.SUSPECTED_DROPOUT,
    (S.ENROLLED, Change.REPORT_DROPOUT): S.DROPOUT,
    (S.SUSPECTED_DROPOUT, Change.REPORT_DROPOUT): S.DROPOUT,
    (S.OTHER_DEPARTURE, Change.REPORT_DROPOUT): S.DROPOUT,
    (S.DROPOUT, Change.RETURN): S.ENROLLED,
    (S.SUSPECTED_DROPOUT, Change.RETURN): S.ENROLLED,
    (S.OTHER_DEPARTURE, Change.RETURN): S.ENROLLED,
    (S.ENROLLED, Change.GO_ABROAD): S.ABROAD,
    (S.ABROAD, Change.RETURN_FROM_ABROAD): S.ENROLLED,
    (S.ENROLLED, Change.GRADUATE): S.GRADUATED,
    (S.ENROLLED, Change.COMPLETE): S.COMPLETED,
    (S.ENROLLED, Change.LEAVE_INCOMPLETE): S.INCOMPLETE,
    (S.DROPOUT, Change.LEAVE_INCOMPLETE): S.INCOMPLETE,
    (S.GRADUATED, Change.PROGRESS): S.ENROLLED,
    (S.COMPLETED, Change.PROGRESS): S.ENROLLED,
    (S.INCOMPLETE, Change.PROGRESS): S.ENROLLED,
    (S.ENROLLED, Change.DECEASE): S.DECEASED,
    (S.SUSPENDED, Change.DECEASE): S.DECEASED,
    (S.DROPOUT, Change.DECEASE): S.DECEASED,
    (S.SUSPECTED_DROPOUT, Change.DECEASE): S.DECEASED,
    (S.OTHER_DEPARTURE, Change.DECEASE): S.DECEASED,
    (S.ABROAD, Change.DECEASE): S.DECEASED,
    (S.DEFERRED, Change.DECEASE): S.DECEASED,
}


def test_the_table_is_exactly_the_expected_transitions() -> None:
    assert {key: t.target for key, t in ALLOWED.items()} == EXPECTED


@pytest.mark.parametrize(("source", "change"), list(EXPECTED), ids=str)
def test_every_allowed_transition(source: RegistryStatus | None, change: Change) -> None:
    transition = check_transition(source, change)
    assert transition.target is EXPECTED[(source, change)]
    assert next_status(source.value if source else None, change) is transition.target
    assert re.search(r"\b(N2013|N2025|HA|LS|ZJ)\b", transition.article), transition


def test_every_change_and_every_status_appears() -> None:
    assert {t.change for t in TRANSITIONS} == set(Change)
    reached = {t.target for t in TRANSITIONS} | {s for s, _ in ALLOWED if s is not None}
    assert reached == set(RegistryStatus)


def test_the_irreversible_changes_lead_to_the_final_statuses() -> None:
    irreversible = {t.change: t.target for t in TRANSITIONS if t.irreversible}
    assert irreversible == {
        Change.DECEASE: S.DECEASED,
        Change.GRADUATE: S.GRADUATED,
        Change.COMPLETE: S.COMPLETED,
        Change.LEAVE_INCOMPLETE: S.INCOMPLETE,
        Change.WITHDRAW: S.WITHDRAWN,
    }
    assert set(irreversible.values()) == FINAL | FINAL_FOR_STAGE | {S.WITHDRAWN}


@pytest.mark.parametrize("change", list(Change))
def test_deceased_is_final_for_every_change(change: Change) -> None:
    with pytest.raises(StatusChangeRefused) as refused:
        check_transition(S.DECEASED, change)
    assert refused.value.rule == RULE_DECEASED_IS_FINAL
    assert "LS 2(五)" in refused.value.article


@pytest.mark.parametrize("graduate", sorted(FINAL_FOR_STAGE))
@pytest.mark.parametrize(
    "change", [Change.PROMOTE, Change.REPEAT_GRADE, Change.RESUME, Change.RETURN, Change.DECEASE]
)
def test_graduates_cannot_be_rolled_back(graduate: RegistryStatus, change: Change) -> None:
    with pytest.raises(StatusChangeRefused) as refused:
        check_transition(graduate, change)
    assert refused.value.rule == RULE_GRADUATION_IS_FINAL
    assert refused.value.article.startswith("LS 3(一)")


def test_only_progression_leaves_a_leaver_status_and_nothing_leaves_deceased() -> None:
    for leaver in (S.GRADUATED, S.COMPLETED, S.INCOMPLETE):
        assert {c for (s, c) in ALLOWED if s is leaver} == {Change.PROGRESS}
    assert not any(s is S.DECEASED for s, _ in ALLOWED)


@pytest.mark.parametrize(
    ("source", "change"),
    [
        (S.SUSPENDED, Change.PROMOTE),  # resumption places them, the batch does not
        (S.DROPOUT, Change.PROMOTE),
        (S.ABROAD, Change.PROMOTE),
        (S.SUSPENDED, Change.TRANSFER),  # HA art. 11(四), LS 2(一)6(4), ZJ art. 13
        (S.DROPOUT, Change.RESUME),
        (S.ENROLLED, Change.RESUME),
        (S.ENROLLED, Change.RETURN),
        (S.ABROAD, Change.GRADUATE),
        (S.SUSPENDED, Change.GRADUATE),
        (None, Change.PROMOTE),
        (S.ENROLLED, Change.REGISTER),
        (S.DEFERRED, Change.SUSPEND),
        (S.ENROLLED, Change.PROGRESS),
    ],
    ids=str,
)
def test_refused_transitions_name_the_rule_and_the_article(
    source: RegistryStatus | None, change: Change
) -> None:
    with pytest.raises(StatusChangeRefused) as refused:
        check_transition(source, change)
    assert refused.value.rule == RULE_NOT_ALLOWED
    assert change.value in refused.value.reason
    assert (
        refused.value.article
        == check_transition(next(s for (s, c) in ALLOWED if c is change), change).article
    )
    assert refused.value.rule in str(refused.value)


def test_a_refusal_says_what_the_change_needs() -> None:
    with pytest.raises(StatusChangeRefused) as refused:
        check_transition(S.DROPOUT, Change.SUSPEND)
    assert refused.value.reason == (
        "suspend applies to a registration that is enrolled; this registration is dropout"
    )


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(StatusChangeRefused) as refused:
        check_transition("expelled", Change.RETURN)
    assert refused.value.rule == RULE_UNKNOWN_STATUS


def test_transfer_is_an_overlay_not_a_status() -> None:
    assert "transfer" not in {s.value for s in RegistryStatus}
    assert check_transition(S.ENROLLED, Change.PROMOTE, in_transfer=True).target is S.ENROLLED
    with pytest.raises(StatusChangeRefused) as refused:
        check_transition(S.ENROLLED, Change.TRANSFER, in_transfer=True)
    assert refused.value.rule == RULE_TRANSFER_IN_PROGRESS
    assert stops_transfer(Change.SUSPEND) and stops_transfer(Change.DECEASE)
    assert not stops_transfer(Change.PROMOTE) and not stops_transfer(Change.SKIP_GRADE)


def test_the_batch_promotes_enrolled_students_only() -> None:
    assert frozenset({S.ENROLLED}) == PROMOTABLE
    assert not PROMOTABLE & (FINAL | FINAL_FOR_STAGE)


def test_the_diagram_draws_every_transition() -> None:
    """The Mermaid diagram in the module docstring (copied into the README) has an edge for
    every (source, target) pair of the table; ``deceased`` edges are drawn from ``enrolled``
    only, as the docstring says."""
    doc = status.__doc__ or ""
    diagram = doc.split("```mermaid", 1)[1].split("```", 1)[0]
    edges = set(re.findall(r"^\s*(\S+) --> (\S+?):?\s", diagram, re.M))
    for (source, _), transition in ALLOWED.items():
        if transition.target is S.DECEASED and source is not S.ENROLLED:
            continue
        left = "[*]" if source is None else source.value
        assert (left, transition.target.value) in edges, (left, transition.target)


def test_the_readme_shows_the_same_diagram() -> None:
    """README.md's "Status changes" section carries the docstring's diagram, unchanged."""
    from pathlib import Path

    def diagram(text: str) -> str:
        return text.split("```mermaid", 1)[1].split("```", 1)[0].strip()

    readme = (Path(__file__).parents[4] / "README.md").read_text(encoding="utf-8")
    assert diagram(readme) == diagram(status.__doc__ or "")
