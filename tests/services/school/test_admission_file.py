"""Reading the header and the cells of an admission file (pure domain)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.school.domain import admission_file as cells
from services.school.domain.admission_file import CellProblem, HeaderProblem, read_header


def test_chinese_and_english_headers_are_both_accepted() -> None:
    header = read_header(["\ufeff姓名", "Gender", "出生日期", "证件号码", " grade ", "入学日期"])
    assert header.positions == {
        "name": 0,
        "gender": 1,
        "birth_date": 2,
        "id_number": 3,
        "grade": 4,
        "enrolled_on": 5,
    }
    assert header.label("name") == "姓名"
    assert header.label("grade") == "grade"


def test_unknown_columns_are_ignored() -> None:
    header = read_header(
        ["班级", "name", "gender", "birth date", "id_number", "年级", "enrolled_on"]
    )
    assert "name" in header.positions and 0 not in header.positions.values()


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(HeaderProblem) as refused:
        read_header(["姓名", "性别", "证件号码"])
    assert refused.value.rule == "missing_columns"
    assert refused.value.columns == ("出生日期/birth_date", "年级/grade", "入学日期/enrolled_on")


def test_a_column_named_twice_is_refused() -> None:
    with pytest.raises(HeaderProblem) as refused:
        read_header(["姓名", "name", "性别", "出生日期", "证件号码", "年级", "入学日期"])
    assert refused.value.rule == "duplicate_column"


@pytest.mark.parametrize(
    "written",
    ["2015-09-01", "2015/9/1", "2015.09.01", "20150901", "2015年9月1日", "２０１５-０９-０１"],
)
def test_dates_in_the_usual_spellings(written: str) -> None:
    assert cells.calendar_date(written) == date(2015, 9, 1)


def test_excel_dates_are_dates() -> None:
    assert cells.calendar_date(datetime(2015, 9, 1)) == date(2015, 9, 1)
    with pytest.raises(CellProblem) as refused:
        cells.calendar_date("2015-02-30")
    assert refused.value.rule == "date_format"


def test_genders_grades_and_document_types() -> None:
    assert [cells.gender(g) for g in ("男", "女", "Male", "F")] == [
        "male",
        "female",
        "male",
        "female",
    ]
    assert [cells.grade(g) for g in (1, 3.0, "6", "二年级", "初一", "高三")] == [1, 3, 6, 2, 7, 12]
    assert cells.id_type(None) == "resident_id"
    assert cells.id_type("港澳居民来往内地通行证") == "hk_macao_permit"
    assert cells.id_type("无") == "none"
    for parse, value in ((cells.gender, "x"), (cells.grade, "13"), (cells.id_type, "驾照")):
        with pytest.raises(CellProblem):
            parse(value)


def test_numbers_from_a_workbook_lose_their_fraction() -> None:
    assert cells.text(410102.0) == "410102"
    assert cells.text("  ") is None
