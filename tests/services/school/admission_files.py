"""Admission files for the tests: a mixed intake, written as CSV or XLSX."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

from tests.services.school.conftest import resident_id

HEADER = [
    "姓名", "性别", "出生日期", "证件类型", "证件号码", "民族", "年级", "入学日期",
    "监护人", "监护人关系", "监护人电话", "住址", "户籍地",
]  # fmt: skip


def row(name: str, gender: str = "男", birth: date = date(2018, 3, 7), **cells: Any) -> list[Any]:
    sex = "male" if gender in ("男", "male") else "female"
    values = {
        "姓名": name,
        "性别": gender,
        "出生日期": birth,
        "证件类型": "居民身份证",
        "证件号码": cells.pop("number", None) or resident_id(birth, sex),
        "民族": "汉族",
        "年级": 1,
        "入学日期": date(2024, 9, 1),
        "监护人": f"{name}的母亲",
        "监护人关系": "母亲",
        "监护人电话": "13900000000",
        "住址": "郑州市中原区",
        "户籍地": "410102",
    }
    values.update(cells)
    return [values[column] for column in HEADER]


def mixed_intake(taken_number: str) -> tuple[list[list[Any]], dict[int, set[str]]]:
    """Eleven student rows and a blank one, and the rules each refused row breaks (by row
    number as a spreadsheet shows it: the header is row 1). ``taken_number`` is already
    registered at the school."""
    first = resident_id()
    rows = [
        row("先到者", number=first),  # row 2
        row("好学生"),  # 3
        row("校验位错", number="410102201803070013"),  # 4
        row("生日不符", birth=date(2018, 3, 8), number=resident_id(date(2018, 3, 7))),  # 5
        row("John Smith", 证件类型="护照", 证件号码="E12345678", 民族=None, 户籍地=None),  # 6
        row("重复者", number=first),  # 7
        [None] * len(HEADER),  # 8: blank, skipped
        row("读初中", 年级=7),  # 9
        row("乱填的", 性别="未知", 入学日期="去年九月"),  # 10
        row("已登记", number=taken_number),  # 11
        row("缺关系", 监护人关系=None),  # 12
        row("户籍错", 户籍地="41010"),  # 13
    ]
    expected = {
        4: {"resident_id.check_character"},
        5: {"birth_date_mismatch"},
        7: {"duplicate_in_file"},
        9: {"grade_stage"},
        10: {"gender_value", "date_format"},
        11: {"duplicate_registration"},
        12: {"missing"},
        13: {"string_pattern_mismatch"},
    }
    return rows, expected


def as_csv(rows: list[list[Any]], *, bom: bool = True, header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for values in rows:
        writer.writerow(
            ["" if v is None else (v.isoformat() if isinstance(v, date) else v) for v in values]
        )
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def as_xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append(
            [datetime(v.year, v.month, v.day) if isinstance(v, date) else v for v in values]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
