"""Who approves an export, by the province's rule, and what a request may ask for."""

from __future__ import annotations

import pytest

from components.exports.domain import ExportRefused, Unit, approver_of, check_request
from shared.rules import ProvinceRules

COUNTY = Unit("county", "410102")


def test_a_school_export_goes_to_its_authority_and_others_to_their_own_unit() -> None:
    school = Unit("school", "4101020001")
    assert approver_of(school, COUNTY, province_approves=False) == COUNTY
    direct = Unit("province", "41")  # a province-direct school's authority
    assert approver_of(Unit("school", "4100000001"), direct, province_approves=False) == direct
    assert approver_of(COUNTY, None, province_approves=False) == COUNTY
    assert approver_of(Unit("national", "CN"), None, province_approves=False).kind == "national"


def test_a_province_rule_can_name_the_province_for_all_its_units() -> None:
    rules = ProvinceRules.model_validate(
        {"code": "33", "exports": {"approved_by": "province", "download_hours": 4}}
    )
    assert rules.exports.download_hours == 4
    province_approves = rules.exports.approved_by == "province"
    assert approver_of(
        Unit("school", "3301020001"), Unit("county", "330102"), province_approves=province_approves
    ) == Unit("province", "33")
    assert approver_of(Unit("county", "330102"), None, province_approves=province_approves) == Unit(
        "province", "33"
    )


def test_the_defaults_are_the_authority_and_a_day() -> None:
    rules = ProvinceRules(code="41")
    assert (rules.exports.approved_by, rules.exports.download_hours) == ("authority", 24)


@pytest.mark.parametrize(
    ("roles", "population", "fields", "rule"),
    [
        ({"approver"}, COUNTY, ["name"], "export_role"),
        ({"registrar"}, Unit("county", "410105"), ["name"], "export_scope"),
        ({"registrar"}, Unit("province", "41"), ["name"], "export_scope"),  # above: not theirs
        ({"registrar"}, COUNTY, ["name", "salary"], "export_fields"),
        ({"registrar"}, COUNTY, ["name", "name"], "export_fields"),
        ({"operator"}, COUNTY, [], "export_fields"),
    ],
)
def test_requests_outside_the_rules(
    roles: set[str], population: Unit, fields: list[str], rule: str
) -> None:
    with pytest.raises(ExportRefused) as refused:
        check_request(frozenset(roles), COUNTY, population, fields, ("name", "grade"))
    assert refused.value.rule == rule


def test_a_request_of_a_unit_below() -> None:
    check_request(
        frozenset({"operator"}), COUNTY, Unit("school", "4101020003"), ["grade"], ("name", "grade")
    )
