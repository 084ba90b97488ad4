"""Province rules scoped to a prefecture (decision 0034): ``[scope."<prefix>"]`` tables of a
province's file apply to the units whose code starts with the prefix, and only to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.testing import REPO_CONFIG
from shared.federation.config import UnitRef, load_federation
from shared.rules import (
    KeyFieldRules,
    ScopeError,
    load_province_rules,
    province_scopes,
    registration_authority,
    yi_track_list_city,
)


def test_liangshans_rules_apply_in_liangshan_and_not_in_chengdu() -> None:
    xichang_school, chengdu_school = "5134010001", "5101040001"
    ls = load_province_rules(REPO_CONFIG, xichang_school)
    sichuan = load_province_rules(REPO_CONFIG, chengdu_school)
    assert (ls.code, ls.scope, ls.name) == ("51", "5134", "凉山州")
    assert (sichuan.code, sichuan.scope, sichuan.name) == ("51", "51", "四川省")
    # LS 2(一)6(3), 2(一)6(1), 2(二)3, 2(三), part 6: Liangshan's, not Sichuan's
    assert ls.transfer.refuse_graduating_year and not sichuan.transfer.refuse_graduating_year
    assert ls.transfer.class_size_cap == 45 and sichuan.transfer.class_size_cap is None
    assert ls.status_change.suspension.lapse_to_other_departure
    assert not sichuan.status_change.suspension.lapse_to_other_departure
    assert ls.status_change.grade.senior_repeat_cap_percent == 2.0
    assert sichuan.status_change.grade.senior_repeat_cap_percent is None
    assert ls.yi_track.closed_to_transfers and not sichuan.yi_track.closed_to_transfers
    assert ls.filing.graduating_suspension_with_city
    # what the scope does not set is the province's
    assert ls.verification == sichuan.verification
    # LS 1(二), 1(三): new registrations in grade 1 only, new students' data by September 30
    assert ls.registration.new_registration_grades == (1,)
    assert sichuan.registration.new_registration_grades == ()
    assert ls.registration.new_student_data_by == "09-30"
    assert sichuan.registration.new_student_data_by is None
    assert ls.registration.auto_approve == sichuan.registration.auto_approve
    # the prefecture itself and its counties read the same rules; the province its own
    assert load_province_rules(REPO_CONFIG, "5134") == ls
    assert load_province_rules(REPO_CONFIG, "513401") == ls
    assert load_province_rules(REPO_CONFIG, "51") == sichuan
    assert province_scopes(REPO_CONFIG, "51") == ("5134",)
    assert province_scopes(REPO_CONFIG, "41") == ()


def _rules_file(tmp_path: Path, text: str) -> Path:
    (tmp_path / "provinces").mkdir()
    (tmp_path / "provinces" / "51.toml").write_text(text, encoding="utf-8")
    return tmp_path / "federation.toml"


def test_nested_scopes_apply_shortest_prefix_first(tmp_path: Path) -> None:
    config = _rules_file(
        tmp_path,
        """
[transfer]
class_size_cap = 50
[scope."513401".transfer]
class_size_cap = 40
[scope."5134".transfer]
class_size_cap = 45
refuse_graduating_year = true
""",
    )
    assert load_province_rules(config, "5101040001").transfer.class_size_cap == 50
    assert load_province_rules(config, "5134020001").transfer.class_size_cap == 45
    county = load_province_rules(config, "5134010001")
    assert (county.scope, county.transfer.class_size_cap) == ("513401", 40)
    assert county.transfer.refuse_graduating_year  # from the enclosing 5134


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[scope."5134".transfer]\nstep_working_days = 5\n', "applies province-wide"),
        ('[scope."5134".verification]\nunclaimed_after_days = 5\n', "applies province-wide"),
        ('[scope."4101".transfer]\nkeep_grade = false\n', "inside province 51"),
        ('[scope."51x4"]\nname = "x"\n', "no division code"),
    ],
)
def test_a_scope_that_cannot_apply_fails_when_the_file_is_read(
    tmp_path: Path, text: str, message: str
) -> None:
    config = _rules_file(tmp_path, text)
    with pytest.raises(ScopeError, match=message):
        load_province_rules(config, "51")


def test_a_bad_value_in_a_scope_fails_for_the_whole_province(tmp_path: Path) -> None:
    config = _rules_file(tmp_path, '[scope."5134".transfer]\nclass_size_cap = 0\n')
    with pytest.raises(ValueError, match="class_size_cap"):
        load_province_rules(config, "5101040001")  # not even in the scope


def test_a_yi_track_senior_schools_first_year_list_goes_to_the_prefecture() -> None:
    """LS 6: 一类模式高一年级新生名册…报州教育局…审核通过后方能注册学籍."""
    federation = load_federation(REPO_CONFIG)
    yi_senior = federation.school("5134010004")
    senior = federation.school("5134010002")
    assert yi_senior is not None and senior is not None
    city, county = UnitRef.parse("city:5134"), UnitRef.parse("county:513401")
    assert registration_authority(federation, REPO_CONFIG, yi_senior, [10, 10]) == city
    assert registration_authority(federation, REPO_CONFIG, yi_senior, [11]) == county
    assert registration_authority(federation, REPO_CONFIG, senior, [10]) == county
    assert yi_track_list_city(yi_senior) == city and yi_track_list_city(senior) is None


def test_without_the_rule_the_list_goes_to_the_schools_authority(tmp_path: Path) -> None:
    config = _rules_file(tmp_path, '[scope."5134".yi_track]\nclosed_to_transfers = true\n')
    federation = load_federation(REPO_CONFIG)
    yi_senior = federation.school("5134010004")
    assert yi_senior is not None
    assert registration_authority(federation, config, yi_senior, [10]) == yi_senior.authority_unit


def test_key_fields_accept_the_province_held_hukou_place_and_refuse_unknown_names() -> None:
    listed = KeyFieldRules(fields=("name", "id_type", "id_number", "hukou_place"))
    assert "hukou_place" in listed.fields
    with pytest.raises(ValueError, match="unknown key fields"):
        KeyFieldRules(fields=("name", "id_type", "id_number", "address"))
    with pytest.raises(ValueError, match="always key fields"):
        KeyFieldRules(fields=("hukou_place",))
