"""Registry-level transfer rules: which province's rule applies on which side, the reasons,
and the order of the deciding parties."""

from __future__ import annotations

from datetime import date

import pytest

from services.national.domain.transfer_rules import (
    ProvincePolicy,
    Registration,
    Sides,
    TransferRequest,
    Window,
    citation_of,
    plan_roles,
    plan_steps,
    refusal,
    window_exception,
)

HENAN = ProvincePolicy(
    "41",
    citation_of("41"),
    order=("receiving_authority", "sending_school", "sending_authority"),
    own_steps=("sending_province",),
    windows=(Window("09-01", "10-31", "autumn"), Window("02-15", "04-15", "spring")),
    cross_province_required_proofs=("origin_registration_proof",),
)
ZHEJIANG = ProvincePolicy(
    "33", citation_of("33"), windows=(Window("06-25", "09-15"), Window("01-10", "03-05"))
)
SICHUAN = ProvincePolicy("51", citation_of("5134"), refuse_graduating_year=True)  # Liangshan
LENIENT = ProvincePolicy(
    "99", citation_of("99", "测试省"), refuse_when_suspended=False, keep_grade=False
)


def request(**changes: object) -> TransferRequest:
    values: dict[str, object] = {
        "from_school": "4101020001",
        "to_school": "4101050001",
        "grade": 3,
        "requested_on": date(2026, 9, 7),
    }
    return TransferRequest(**(values | changes))  # type: ignore[arg-type]


def enrolled(grade: int = 3, status: str = "enrolled", school: str = "4101020001") -> Registration:
    return Registration(school, status, grade)


def test_a_window_may_wrap_the_new_year() -> None:
    winter = Window("12-20", "02-28")
    assert winter.contains(date(2026, 12, 31)) and winter.contains(date(2027, 1, 5))
    assert not winter.contains(date(2026, 3, 1))


@pytest.mark.parametrize(
    ("sides", "registration", "changes", "rule", "reason"),
    [
        (Sides(HENAN, HENAN, "primary"), enrolled(), {"to_school": "4101020001"},
         "same_school", "the receiving school is the sending school"),
        (Sides(HENAN, HENAN, "primary"), None, {},
         "not_at_sending_school", "no registration has this student number"),
        (Sides(HENAN, HENAN, "primary"), enrolled(school="4101020002"), {},
         "not_at_sending_school", "the student is not registered at school 4101020001"),
        (Sides(HENAN, ZHEJIANG, "primary"), enrolled(status="suspended"), {},
         "suspended", "Henan (HA art. 11(四)): no transfer while suspended"),
        (Sides(SICHUAN, HENAN, "primary"), enrolled(status="suspended"), {},
         "suspended", "Liangshan (LS 2(一)6(4)): no transfer while suspended"),
        (Sides(LENIENT, HENAN, "primary"), enrolled(status="suspended"), {},
         "not_enrolled", "only an enrolled student transfers; this registration is suspended"),
        (Sides(HENAN, ZHEJIANG, "primary"), enrolled(grade=3), {"grade": 4},
         "grade_change", "Zhejiang (ZJ art. 13): a transfer may not change the grade "
         "(grade 4 requested, the student is in grade 3)"),
        (Sides(SICHUAN, SICHUAN, "junior"), enrolled(grade=9), {"grade": 9},
         "graduating_year", "Liangshan (LS 2(一)6(3)): no transfer in the graduating year "
         "(grade 9 at a junior school)"),
        (Sides(HENAN, HENAN, "primary"), enrolled(), {"requested_on": date(2026, 6, 1)},
         "transfer_window", "Henan (HA art. 11(三)): transfers are handled 09-01 to 10-31 "
         "(autumn); 02-15 to 04-15 (spring); requested on 2026-06-01"),
        (Sides(HENAN, ZHEJIANG, "primary"), enrolled(), {"requested_on": date(2026, 10, 20)},
         "transfer_window", "Zhejiang (ZJ art. 13): transfers are handled 06-25 to 09-15; "
         "01-10 to 03-05; requested on 2026-10-20"),
        (Sides(ZHEJIANG, HENAN, "primary"), enrolled(), {},
         "missing_proofs", "Henan (HA art. 11(二)): a transfer from another province needs "
         "origin_registration_proof"),
        (Sides(HENAN, HENAN, "primary"), Registration("4101020001", "enrolled", 3, "other"), {},
         "transfer_in_progress", "another transfer of this student is in progress (one at a time)"),
    ],
)  # fmt: skip
def test_each_rule_refuses_with_the_province_and_article(
    sides: Sides,
    registration: Registration | None,
    changes: dict[str, object],
    rule: str,
    reason: str,
) -> None:
    found = refusal(request(**changes), registration, sides)
    assert found is not None
    assert (found.rule, found.reason) == (rule, reason)


def test_each_province_rules_only_its_own_side() -> None:
    # Sichuan refuses graduating-year students it SENDS, not the ones it receives
    assert refusal(request(grade=6), enrolled(grade=6), Sides(HENAN, SICHUAN, "primary")) is None
    assert refusal(request(grade=6), enrolled(grade=6), Sides(SICHUAN, HENAN, "primary"))
    # a special school has no graduating year; a nine-year school's is 9
    assert refusal(request(grade=6), enrolled(grade=6), Sides(SICHUAN, SICHUAN, "special")) is None
    nine = refusal(request(grade=9), enrolled(grade=9), Sides(SICHUAN, SICHUAN, "nine_year"))
    assert nine is not None and nine.reason.endswith("(grade 9 at a nine-year school)")
    # the receiving province decides about the grade and the window: Henan's window does not
    # hold back a student it sends (decision 0035)
    assert refusal(request(grade=4), enrolled(grade=3), Sides(HENAN, LENIENT, "primary")) is None
    june = request(requested_on=date(2026, 6, 1))
    assert refusal(june, enrolled(), Sides(HENAN, LENIENT, "primary")) is None
    assert refusal(june, enrolled(), Sides(LENIENT, HENAN, "primary")) is not None
    # the sending province's window does not apply inside one province other than its own
    assert (
        refusal(
            request(requested_on=date(2026, 6, 1)), enrolled(), Sides(LENIENT, LENIENT, "primary")
        )
        is None
    )


def test_only_the_receiving_provinces_window_governs_a_cross_province_request() -> None:
    # 2026-10-20: in Henan's autumn window, outside Zhejiang's; Zhejiang → Henan is asked in
    # Henan's window and the sending side's window does not refuse it (decision 0035)
    proof = frozenset({"origin_registration_proof"})
    day = date(2026, 10, 20)
    into_henan = request(requested_on=day, proof_kinds=proof)
    assert refusal(into_henan, enrolled(), Sides(ZHEJIANG, HENAN, "primary")) is None
    to_zj = Sides(HENAN, ZHEJIANG, "primary")
    into_zhejiang = refusal(request(requested_on=day), enrolled(), to_zj)
    assert into_zhejiang is not None and into_zhejiang.rule == "transfer_window"


def test_outside_the_window_an_exception_asked_goes_to_the_receiving_authority() -> None:
    sides = Sides(ZHEJIANG, HENAN, "primary")
    asked = request(
        requested_on=date(2026, 6, 1),
        proof_kinds=frozenset({"origin_registration_proof"}),
        exception_reason="the family moved after a flood",
    )
    assert refusal(asked, enrolled(), sides) is None
    exception = window_exception(asked, sides)
    assert exception is not None
    assert (exception.rule, exception.article, exception.reason) == (
        "transfer_window", "HA art. 11(三)", "the family moved after a flood",
    )  # fmt: skip
    assert exception.window.startswith("Henan (HA art. 11(三)): transfers are handled 09-01")
    # other rules still refuse; inside the window there is nothing to grant
    assert refusal(asked, enrolled(status="suspended"), sides) is not None
    inside = request(requested_on=date(2026, 9, 7), exception_reason="not needed")
    assert window_exception(inside, Sides(HENAN, HENAN, "primary")) is None
    # a province whose order lacks the receiving authority still asks it for the exception
    no_authority = ProvincePolicy("99", citation_of("99"), order=("sending_school",))
    sides = Sides(no_authority, no_authority, "primary")
    assert plan_roles(sides) == ["sending_school"]
    assert plan_roles(sides, exception=True) == ["receiving_authority", "sending_school"]


def test_a_province_without_its_own_text_is_cited_by_the_national_measures() -> None:
    assert citation_of("99", "测试省").cite("suspended") == "测试省 (N2013 art. 14)"
    assert citation_of("33").cite("grade_change") == "Zhejiang (ZJ art. 13)"


def test_the_receiving_province_orders_the_flow_and_each_adds_its_own_step() -> None:
    assert plan_roles(Sides(HENAN, HENAN, "primary")) == [
        "sending_province", "receiving_authority", "sending_school", "sending_authority",
    ]  # fmt: skip
    assert plan_roles(Sides(HENAN, ZHEJIANG, "primary")) == [
        "sending_province", "sending_school", "sending_authority", "receiving_authority",
    ]  # fmt: skip
    # Henan's own step is on ITS side: it adds nothing when it receives
    assert plan_roles(Sides(ZHEJIANG, HENAN, "primary")) == [
        "receiving_authority", "sending_school", "sending_authority",
    ]  # fmt: skip
    receiving_check = ProvincePolicy("33", citation_of("33"), own_steps=("receiving_province",))
    assert plan_roles(Sides(HENAN, receiving_check, "primary"))[-1] == "receiving_province"
    assert "receiving_province" not in plan_roles(Sides(receiving_check, HENAN, "primary"))


def test_a_unit_decides_once_in_the_first_role_it_has() -> None:
    units = {
        "sending_province": ("province:41", "national:CN"),
        "receiving_authority": ("county:410102", "province:41"),
        "sending_school": ("school:4101020001", "county:410102"),
        "sending_authority": ("county:410102", "province:41"),
    }
    planned = plan_steps(list(units), lambda role: units[role])
    assert [p.role for p in planned] == [
        "sending_province",
        "receiving_authority",
        "sending_school",
    ]
