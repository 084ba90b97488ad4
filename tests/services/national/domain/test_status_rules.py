"""The rules of each status change beyond the state machine: every refusal names its rule and
the article it comes from; the province's choices come from its policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.national.domain import status_rules as r
from services.national.domain.status import Change, RegistryStatus, StatusChangeRefused
from services.national.domain.status_rules import (
    Cohort,
    Registration,
    Request,
    StatusPolicy,
    add_months,
    decide,
    repeat_cap,
)

TODAY = date(2026, 9, 7)
ON = date(2026, 9, 1)
HENAN = StatusPolicy(citation="河南省 rules")
ZHEJIANG = StatusPolicy(
    citation="浙江省 rules",
    compulsory_grounds=("notifiable_disease",),
    skip_into_graduating_year=False,
    repeat_graduating_year=False,
)
SICHUAN = StatusPolicy(citation="四川省 rules", senior_repeat_cap_percent=2.0, absence_months=3)
PRIMARY = range(1, 7)
SENIOR = range(10, 13)
NINE_YEAR = range(1, 10)


def enrolled(grade: int = 3, grades: range = PRIMARY, **kw: object) -> Registration:
    return Registration(status="enrolled", grade=grade, grades=grades, **kw)  # type: ignore[arg-type]


def suspended(grade: int = 3, **kw: object) -> Registration:
    return Registration(status="suspended", grade=grade, grades=PRIMARY, **kw)  # type: ignore[arg-type]


def ask(change: Change, on: date = ON, **kw: object) -> Request:
    return Request(change=change, effective_on=on, **kw)  # type: ignore[arg-type]


C = Change
REFUSALS = [
    # (request, registration, policy, cohort, rule, an article the refusal cites)
    (ask(C.SUSPEND, on=date(2026, 9, 8)), enrolled(), HENAN, None,
     r.RULE_EFFECTIVE_IN_FUTURE, "N2013 art. 13"),
    (ask(C.SKIP_GRADE, target_grade=4), enrolled(in_transfer=True), HENAN, None,
     r.RULE_TRANSFER_IN_PROGRESS, "LS 2(一)6(4)"),
    (ask(C.SUSPEND, ground="notifiable_disease", compulsory=True), enrolled(), HENAN, None,
     r.RULE_COMPULSORY_NOT_PROVIDED, "ZJ art. 14"),
    (ask(C.EXTEND_SUSPENSION), suspended(extensions=1), HENAN, None,
     r.RULE_EXTENSION_LIMIT, "HA art. 13(三)"),
    (ask(C.RESUME), suspended(), HENAN, None, r.RULE_TARGET_GRADE_REQUIRED, "ZJ art. 15"),
    (ask(C.RESUME, target_grade=2), suspended(), HENAN, None, r.RULE_RESUMPTION_LOWER,
     "LS 2(二)5"),
    (ask(C.RESUME, target_grade=5), suspended(), HENAN, None, r.RULE_RESUMPTION_SKIPS,
     "ZJ art. 15"),
    (ask(C.RESUME, target_grade=7), suspended(grade=6), HENAN, None, r.RULE_OUTSIDE_STAGE,
     "N2013 art. 13"),
    (ask(C.RETURN, target_grade=2), Registration("dropout", 3, PRIMARY), HENAN, None,
     r.RULE_RETURN_LOWER, "LS 2(四)"),
    (ask(C.DECEASE, ground="missing"), enrolled(), HENAN, None, r.RULE_MISSING_NOT_CANCELLED,
     "HA art. 16"),
    (ask(C.REPORT_ABSENCE, on=date(2026, 6, 8)), enrolled(), SICHUAN, None,
     r.RULE_ABSENCE_TOO_SHORT, "LS 2(四)"),
    (ask(C.DEFER), enrolled(grade=2), ZHEJIANG, None, r.RULE_DEFERRAL_GRADE, "ZJ art. 6"),
    (ask(C.DEFER), enrolled(grade=1), replace(HENAN, deferral_allowed=False), None,
     r.RULE_DEFERRAL_NOT_PROVIDED, "河南省 rules"),
    (ask(C.START, target_grade=2), Registration("deferred", 1, PRIMARY), ZHEJIANG, None,
     r.RULE_START_GRADE, "ZJ art. 6"),
    (ask(C.SKIP_GRADE, target_grade=4), enrolled(), replace(HENAN, skip_allowed=False), None,
     r.RULE_SKIP_NOT_ALLOWED, "河南省 rules"),
    (ask(C.SKIP_GRADE, target_grade=3), enrolled(), HENAN, None, r.RULE_SKIP_NOT_HIGHER,
     "HA art. 15"),
    (ask(C.SKIP_GRADE, target_grade=5), enrolled(), HENAN, None, r.RULE_SKIP_TOO_FAR,
     "ZJ art. 12"),
    (ask(C.SKIP_GRADE, target_grade=7), enrolled(6, NINE_YEAR), HENAN, None,
     r.RULE_SKIP_ACROSS_STAGE, "HA art. 15"),
    (ask(C.SKIP_GRADE, target_grade=6), enrolled(5), ZHEJIANG, None, r.RULE_SKIP_GRADUATING,
     "ZJ art. 12"),
    (ask(C.REPEAT_GRADE, target_grade=3), enrolled(), HENAN, None, r.RULE_REPEAT_NOT_LOWER,
     "LS 2(三)"),
    (ask(C.REPEAT_GRADE, target_grade=1, special_education=True), enrolled(), HENAN, None,
     r.RULE_REPEAT_TOO_FAR, "N2025 art. 14"),
    (ask(C.REPEAT_GRADE, target_grade=2), enrolled(), HENAN, None, r.RULE_REPEAT_COMPULSORY,
     "N2025 art. 14"),
    (ask(C.REPEAT_GRADE, target_grade=2), enrolled(), replace(HENAN, repeat_in_compulsory="never"),
     None, r.RULE_REPEAT_COMPULSORY, "LS 2(三)"),
    (ask(C.REPEAT_GRADE, target_grade=5, special_education=True), enrolled(6), ZHEJIANG, None,
     r.RULE_REPEAT_GRADUATING, "ZJ art. 12"),
    (ask(C.REPEAT_GRADE, target_grade=10), enrolled(11, SENIOR), SICHUAN, Cohort(100, 2),
     r.RULE_REPEAT_CAP, "LS 2(三)"),
    (ask(C.WITHDRAW), enrolled(birth_date=date(2006, 8, 1)), HENAN, None,
     r.RULE_WITHDRAWAL_NOT_PROVIDED, "ZJ art. 17"),
    (ask(C.WITHDRAW), enrolled(birth_date=date(2008, 9, 2)), replace(
        ZHEJIANG, withdrawal_allowed=True), None, r.RULE_WITHDRAWAL_UNDER_AGE, "ZJ art. 17"),
    (ask(C.PLACE, placement="inclusive"), enrolled(school_code="4101020001"), HENAN, None,
     r.RULE_PLACEMENT_INCOMPLETE, "N2013 art. 17"),
    (ask(C.PLACE, placement="inclusive", attending_school="4101020001"),
     enrolled(school_code="4101020001"), HENAN, None, r.RULE_PLACEMENT_SAME_SCHOOL, "HA art. 12"),
    (ask(C.END_PLACEMENT), enrolled(), HENAN, None, r.RULE_NOT_PLACED, "ZJ art. 13"),
    # the state machine first: its own rules
    (ask(C.RESUME, target_grade=3), enrolled(), HENAN, None, "status_change_not_allowed",
     "ZJ arts. 14-15"),
    (ask(C.SUSPEND), Registration("deceased", 3, PRIMARY), HENAN, None, "deceased_is_final",
     "LS 2(五)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "registration", "policy", "cohort", "rule", "article"),
    REFUSALS,
    ids=[row[4] + f"-{i}" for i, row in enumerate(REFUSALS)],
)
def test_each_refusal_names_its_rule_and_article(
    request_: Request,
    registration: Registration,
    policy: StatusPolicy,
    cohort: Cohort | None,
    rule: str,
    article: str,
) -> None:
    with pytest.raises(StatusChangeRefused) as refused:
        decide(request_, registration, policy, TODAY, cohort)
    assert refused.value.rule == rule
    assert article in refused.value.article
    assert refused.value.reason


def test_withdrawal_from_the_day_of_the_eighteenth_birthday() -> None:
    policy = replace(ZHEJIANG, withdrawal_allowed=True)
    # 2008-09-01 + 18 years = ON (2026-09-01): 18 on the day it takes effect
    effect = decide(
        ask(C.WITHDRAW), enrolled(9, NINE_YEAR, birth_date=date(2008, 9, 1)), policy, TODAY
    )
    assert (effect.status, effect.article) == ("withdrawn", "ZJ art. 17")
    # a suspended student of 18 may withdraw too; a withdrawn one is final
    assert decide(ask(C.WITHDRAW), suspended(birth_date=date(2007, 1, 1)), policy, TODAY)
    with pytest.raises(StatusChangeRefused) as refused:
        decide(ask(C.RESUME, target_grade=3), Registration("withdrawn", 3, PRIMARY), policy, TODAY)
    assert refused.value.rule == "status_change_not_allowed"
    assert r.full_years(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert r.full_years(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_every_rule_of_the_module_is_exercised() -> None:
    names = {v for k, v in vars(r).items() if k.startswith("RULE_")}
    assert names <= {row[4] for row in REFUSALS}


def test_a_suspension_lasts_the_province_months_and_an_extension_runs_on() -> None:
    first = decide(ask(C.SUSPEND, ground="illness"), enrolled(), HENAN, TODAY)
    assert (first.status, first.suspended_until) == (RegistryStatus.SUSPENDED, date(2027, 9, 1))
    extended = decide(
        ask(C.EXTEND_SUSPENSION), suspended(suspended_until=date(2027, 9, 1)), HENAN, TODAY
    )
    assert extended.suspended_until == date(2028, 9, 1)
    ordered = ask(C.SUSPEND, ground="notifiable_disease", compulsory=True)
    assert decide(ordered, enrolled(), ZHEJIANG, TODAY).status is RegistryStatus.SUSPENDED


def test_placements_set_the_grade() -> None:
    assert decide(ask(C.RESUME, target_grade=4), suspended(), HENAN, TODAY).grade == 4
    assert decide(ask(C.RETURN, target_grade=5), Registration("dropout", 3, PRIMARY), HENAN,
                  TODAY).grade == 5  # fmt: skip
    assert decide(ask(C.SKIP_GRADE, target_grade=4), enrolled(), HENAN, TODAY).grade == 4
    special = ask(C.REPEAT_GRADE, target_grade=2, special_education=True)
    assert decide(special, enrolled(), HENAN, TODAY).grade == 2
    started = decide(ask(C.START), Registration("deferred", 1, PRIMARY), ZHEJIANG, TODAY)
    assert (started.status, started.grade) == (RegistryStatus.ENROLLED, 1)
    assert (
        decide(ask(C.DEFER), enrolled(grade=1), ZHEJIANG, TODAY).status is RegistryStatus.DEFERRED
    )


def test_the_repeat_cap_is_two_percent_of_the_grade_rounded_down() -> None:
    assert [repeat_cap(n, 2.0) for n in (0, 49, 50, 99, 100, 150)] == [0, 0, 1, 1, 2, 3]
    allowed = ask(C.REPEAT_GRADE, target_grade=10)
    assert decide(allowed, enrolled(11, SENIOR), SICHUAN, TODAY, Cohort(100, 1)).grade == 10
    # Henan sets no cap: high-school repeats are not counted there.
    assert decide(allowed, enrolled(11, SENIOR), HENAN, TODAY, None).grade == 10


def test_a_death_is_allowed_from_every_status_that_is_not_final() -> None:
    for status in ("enrolled", "suspended", "dropout", "abroad", "deferred", "other_departure"):
        effect = decide(ask(C.DECEASE, ground="death"), Registration(status, 3, PRIMARY), HENAN,
                        TODAY)  # fmt: skip
        assert effect.status is RegistryStatus.DECEASED


def test_other_departure_after_three_months_away_in_sichuan() -> None:
    away = ask(C.REPORT_ABSENCE, on=date(2026, 6, 7))
    assert decide(away, enrolled(), SICHUAN, TODAY).status is RegistryStatus.OTHER_DEPARTURE
    recent = ask(C.REPORT_ABSENCE, on=date(2026, 9, 1))
    assert decide(recent, enrolled(), HENAN, TODAY).status is RegistryStatus.OTHER_DEPARTURE


def test_months_are_calendar_months() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 9, 1), -36) == date(2023, 9, 1)


def test_term_ends_are_real_days_of_every_year() -> None:
    from pydantic import ValidationError

    from shared.rules import StatusChangeRules

    rules = StatusChangeRules()
    assert rules.next_term_end(date(2026, 9, 1)) == date(2027, 1, 31)
    assert rules.next_term_end(date(2026, 7, 15)) == date(2026, 7, 15)
    for bad in ("13-01", "02-30", "02-29", "7-15"):
        with pytest.raises(ValidationError):
            StatusChangeRules(term_ends=(bad,))


def test_every_change_a_message_can_carry_is_a_change_of_the_machine() -> None:
    from typing import get_args

    from shared.contracts.status import REQUESTABLE, StatusChangeKind

    assert {Change(kind) for kind in get_args(StatusChangeKind)} >= {Change.LAPSE, Change.DEFER}
    # What a school may ask for: every change of status except the other flows' own
    # (registration, promotion, transfer, graduation, progression) and national's lapse.
    others = {C.REGISTER, C.PROMOTE, C.TRANSFER, C.GRADUATE, C.COMPLETE, C.LEAVE_INCOMPLETE}
    assert {Change(kind) for kind in REQUESTABLE} == set(Change) - others - {C.PROGRESS, C.LAPSE}
