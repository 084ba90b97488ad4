"""Deciding one approved registration batch (学籍建立, N2013 arts. 4-6): screen every
applicant, then issue a number to each one no rule objects to.

Applicants are decided in batch order, and each one issued counts for the ones after it: a
later applicant with the same document is an in-batch duplicate, a later one with the same
name, gender and birth date is a suspect of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.national.domain.dedup import (
    Applicant,
    Clear,
    Hold,
    RegistryView,
    Reject,
    already_registered,
    screen,
)
from services.national.domain.identity import DocumentKey
from services.national.domain.numbers import (
    RULE_SERIALS_EXHAUSTED,
    NewNumber,
    TemporarySerials,
    exhausted_reason,
    new_number,
)


@dataclass(frozen=True)
class Issued:
    """A student number is issued (``serial`` set for a temporary ``L`` number)."""

    number: NewNumber


Verdict = Issued | Reject | Hold


def decide_batch(
    applicants: Sequence[Applicant],
    view: RegistryView,
    serials: TemporarySerials,
    *,
    today: date,
) -> list[Verdict]:
    """One verdict per applicant, in order. ``view`` and ``serials`` are updated in place."""
    earlier: dict[DocumentKey, Applicant] = {}
    verdicts: list[Verdict] = []
    for applicant in applicants:
        verdict = decide(applicant, view, serials, earlier, today=today)
        document = applicant.person.document
        if document is not None:
            earlier.setdefault(document, applicant)
        verdicts.append(verdict)
    return verdicts


def decide(
    applicant: Applicant,
    view: RegistryView,
    serials: TemporarySerials,
    earlier: dict[DocumentKey, Applicant] | None = None,
    *,
    today: date,
) -> Verdict:
    """Screen one applicant; if clear, number it and make it known to ``view``."""
    screening = screen(applicant, view, earlier, today=today)
    if not isinstance(screening, Clear):
        return screening
    number = new_number(applicant.person, serials, today)
    if number is None:
        return Reject(RULE_SERIALS_EXHAUSTED, exhausted_reason(serials.division))
    view.add(applicant.as_record())
    return Issued(number)


def decide_reviewed(
    applicant: Applicant, view: RegistryView, serials: TemporarySerials, *, today: date
) -> Issued | Reject:
    """A reviewer chose to issue a held applicant: only the exact rules still apply.

    The suspect rule was the reviewer's to overrule; the exact ones are not anybody's — if
    the document has been registered since the hold, the applicant is refused regardless.
    """
    refusal = already_registered(applicant.person, view)
    if refusal is not None:
        return refusal
    number = new_number(applicant.person, serials, today)
    if number is None:
        return Reject(RULE_SERIALS_EXHAUSTED, exhausted_reason(serials.division))
    return Issued(number)
