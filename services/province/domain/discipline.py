"""Discipline records (处分) in the archive: ZJ arts. 22-23. Standard library only.

- A school may give, by its prescribed procedure, a warning (警告), a serious warning (严重警
  告) or a demerit (记过) (ZJ art. 22); it may never expel a minor — there is no such kind.
- The term is normally six months; in special cases such as the graduating year it may be
  shortened (ZJ art. 23: "处分期限一般为六个月，如遇毕业年级等特殊情况，可适当缩短"): a term
  under six months needs its reason. Longer terms are refused.
- When the term is served the school lifts the record (解除处分) — not before
  (``discipline_term_not_served``) and once (``discipline_already_lifted``). A record whose
  term has ended but which nobody lifted is still in force: lifting is the school's act.
- At graduation every record is removed from the archive ("采取处分消灭制度，在学生毕业时，
  所有的处分记录从学生学籍档案中撤除", ZJ art. 23): see ``service_layer/graduation.py``.

A record is an ``archive_entry`` of section ``discipline`` whose ``reference`` is the record id;
lifting adds a ``discipline_lifted`` entry with the same reference, which is what the transfer
discipline check (HA art. 11(四), :func:`..archive.discipline_in_force`) reads.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

NORMAL_TERM_MONTHS = 6
ARTICLE = "ZJ art. 23"

RULE_TERM_TOO_LONG = "discipline_term_too_long"
RULE_SHORTENED_WITHOUT_REASON = "discipline_shortened_without_reason"
RULE_IN_FUTURE = "discipline_in_future"
RULE_TERM_NOT_SERVED = "discipline_term_not_served"
RULE_ALREADY_LIFTED = "discipline_already_lifted"


class DisciplineKind(StrEnum):
    WARNING = "warning"  # 警告
    SERIOUS_WARNING = "serious_warning"  # 严重警告
    DEMERIT = "demerit"  # 记过


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str


def term_ends_on(imposed_on: date, months: int) -> date:
    """The day the term is served: ``months`` calendar months after ``imposed_on``."""
    month = imposed_on.month - 1 + months
    year, month = imposed_on.year + month // 12, month % 12 + 1
    return date(year, month, min(imposed_on.day, monthrange(year, month)[1]))


def imposition_refusal(
    imposed_on: date, term_months: int, shortened_reason: str | None, today: date
) -> Refusal | None:
    if imposed_on > today:
        return Refusal(RULE_IN_FUTURE, "a discipline record is recorded once decided, not before")
    if term_months > NORMAL_TERM_MONTHS:
        return Refusal(
            RULE_TERM_TOO_LONG,
            f"the term is normally {NORMAL_TERM_MONTHS} months and may only be shortened "
            f"({ARTICLE})",
        )
    if term_months < NORMAL_TERM_MONTHS and not (shortened_reason or "").strip():
        return Refusal(
            RULE_SHORTENED_WITHOUT_REASON,
            f"a term shorter than {NORMAL_TERM_MONTHS} months needs its reason, e.g. the "
            f"graduating year ({ARTICLE})",
        )
    return None


def lifting_refusal(ends_on: date, lifted: bool, lifted_on: date) -> Refusal | None:
    if lifted:
        return Refusal(RULE_ALREADY_LIFTED, "the record has been lifted already")
    if lifted_on < ends_on:
        return Refusal(
            RULE_TERM_NOT_SERVED,
            f"the term runs until {ends_on.isoformat()}: the school lifts the record once it "
            f"is served ({ARTICLE})",
        )
    return None
