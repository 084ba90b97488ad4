"""The columns of a bulk admission file (批量招生导入) and how their cells are read.

A registrar exports the intake from whatever system the school uses, so headers are accepted
in Chinese or English (case, spaces and a UTF-8 BOM do not matter) and unknown columns are
ignored. Cells come as text (CSV) or typed values (XLSX: numbers, dates).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shared.spreadsheet import Cell as Cell  # what a sheet's cell holds (CSV text, XLSX values)


@dataclass(frozen=True)
class Column:
    key: str  # the field name in the API and in the error report
    chinese: str
    required: bool
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.chinese}/{self.key}"

    def names(self) -> tuple[str, ...]:
        return (self.key, self.chinese, *self.aliases)


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", True),
    Column("gender", "性别", True, ("sex",)),
    Column("birth_date", "出生日期", True),
    Column("id_type", "证件类型", False),
    Column("id_number", "证件号码", True, ("身份证号", "身份证号码", "身份证件号码")),
    Column("nationality", "国籍", False),
    Column("ethnicity", "民族", False),
    Column("grade", "年级", True),
    Column("enrolled_on", "入学日期", True, ("入学年月",)),
    Column("guardian_name", "监护人", False, ("监护人姓名",)),
    Column("guardian_relation", "监护人关系", False, ("与学生关系",)),
    Column("guardian_phone", "监护人电话", False, ("监护人联系电话",)),
    Column("address", "住址", False, ("家庭住址", "现住址")),
    Column("hukou_region", "户籍地", False, ("户籍所在地",)),
)


class HeaderProblem(ValueError):
    """The header row cannot be used; ``rule`` is ``missing_columns`` or ``duplicate_column``."""

    def __init__(self, rule: str, message: str, columns: Sequence[str]) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.columns = tuple(columns)


class CellProblem(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Header:
    """Where each known column is in the file, and the header text the registrar wrote."""

    positions: dict[str, int]
    written: dict[str, str]

    def label(self, key: str) -> str:
        return self.written.get(key, key)


def _header_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", folded)


_BY_NAME: dict[str, Column] = {_header_key(n): c for c in COLUMNS for n in c.names()}


def read_header(cells: Sequence[Cell]) -> Header:
    """Locate the known columns; refuse a header missing a required one or naming one twice."""
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    for index, cell in enumerate(cells):
        column = _BY_NAME.get(_header_key(str(cell))) if cell is not None else None
        if column is None:
            continue
        if column.key in positions:
            raise HeaderProblem(
                "duplicate_column", f"column {column.label} appears twice", [column.label]
            )
        positions[column.key] = index
        written[column.key] = str(cell).replace("\ufeff", "").strip()
    missing = [c.label for c in COLUMNS if c.required and c.key not in positions]
    if missing:
        raise HeaderProblem(
            "missing_columns", f"missing required columns: {', '.join(missing)}", missing
        )
    return Header(positions, written)


def text(cell: Cell) -> str | None:
    """A cell as trimmed text; blank is ``None``; an integral number loses its ``.0``."""
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    value = str(cell).strip()
    return value or None


_GENDERS = {
    "男": "male",
    "女": "female",
    "male": "male",
    "female": "female",
    "m": "male",
    "f": "female",
}


def gender(cell: Cell) -> str:
    value = (text(cell) or "").lower()
    if value not in _GENDERS:
        raise CellProblem("gender_value", "gender must be 男 or 女 (male or female)")
    return _GENDERS[value]


_DATE_PATTERN = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def calendar_date(cell: Cell) -> date:
    """A date cell: an Excel date, or text like 2015-09-01, 2015/9/1, 2015.9.1, 20150901 or
    2015年9月1日."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    value = unicodedata.normalize("NFKC", text(cell) or "")
    if re.fullmatch(r"\d{8}", value):
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    match = _DATE_PATTERN.match(value)
    try:
        if match is None:
            raise ValueError(value)
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise CellProblem("date_format", "a date is written YYYY-MM-DD (e.g. 2015-09-01)") from None


_ID_TYPES = {
    "resident_id": "resident_id",
    "居民身份证": "resident_id",
    "身份证": "resident_id",
    "passport": "passport",
    "护照": "passport",
    "hk_macao_permit": "hk_macao_permit",
    "港澳居民来往内地通行证": "hk_macao_permit",
    "港澳通行证": "hk_macao_permit",
    "港澳居民居住证": "hk_macao_permit",
    "taiwan_permit": "taiwan_permit",
    "台湾居民来往大陆通行证": "taiwan_permit",
    "台胞证": "taiwan_permit",
    "台湾居民居住证": "taiwan_permit",
    "none": "none",
    "无": "none",
}


def id_type(cell: Cell) -> str:
    """A document type; a blank cell (or no column) means a resident ID."""
    value = text(cell)
    if value is None:
        return "resident_id"
    found = _ID_TYPES.get(value.lower())
    if found is None:
        raise CellProblem(
            "id_type_value",
            "id_type must be one of 居民身份证, 护照, 港澳居民来往内地通行证, "
            "台湾居民来往大陆通行证, 无 "
            "(resident_id, passport, hk_macao_permit, taiwan_permit, none)",
        )
    return found


_GRADE_NAMES = {
    **{f"{n}年级": i for i, n in enumerate("一二三四五六七八九", start=1)},
    "初一": 7,
    "初二": 8,
    "初三": 9,
    "高一": 10,
    "高二": 11,
    "高三": 12,
}


def grade(cell: Cell) -> int:
    """A grade: 1-12, or its Chinese name (一年级 … 九年级, 初一 … 初三, 高一 … 高三)."""
    value = unicodedata.normalize("NFKC", text(cell) or "")
    if value in _GRADE_NAMES:
        return _GRADE_NAMES[value]
    number = value.removesuffix("年级")
    if not number.isdigit() or not 1 <= int(number) <= 12:
        raise CellProblem("grade_value", "grade is a number 1-12 (or 一年级, 初一, 高一 …)")
    return int(number)
