"""Archive sections 3-7 as a school writes them (N2013 art. 7; ZJ arts. 8, 21).

- 三 comprehensive-quality report (综合素质发展报告): conduct, academic results per term and
  subject, sports, arts, community service;
- 四 physical health (体质健康测试及健康体检信息、预防接种信息): fitness tests, check-ups,
  vaccinations;
- 五 awards (获奖信息); 六 financial aid received (享受资助信息);
- 七 items the province defines (省级教育行政部门规定的其他信息): declared with typed fields in
  the province's rules file (``[[archive.items]]``), validated here like the built-in ones.

Each kind of entry is a list of typed fields (:class:`FieldSpec`). :func:`validate` checks a
write against them and answers the clean values or every field it refuses, each refusal with
its rule code (the zh-CN catalogue's key) and the article. Standard library only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from services.province.domain.archive import Section

ARTICLE = "N2013 art. 7"
# Results are a score (0-150: the most any subject counts for in a term) or a level.
MAX_SCORE = Decimal(150)
LEVELS = ("优秀", "良好", "合格", "不合格")
# A term: school year and its term, e.g. 2026-2027-1 (the autumn term of 2026-2027).
TERM = re.compile(r"^(\d{4})-(\d{4})-([12])$")
# Section-7 entries are namespaced so a province's item never collides with a built-in kind.
PROVINCE_ITEM_PREFIX = "province."
# Where one entry per student and term is the rule (term results, a term's conduct), its
# ``reference`` is derived from the kind and term: the archive's unique (kind, reference)
# then refuses a second one, in a single write or an upload alike.
_TERM_NAMESPACE = uuid.UUID("0b6a8a52-6f0e-4d8e-9a51-4c8f5e6a1d16")


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    CHOICE = "choice"
    TERM = "term"  # 学年学期: 2026-2027-1
    RESULTS = "results"  # subject → score or level (one term's academic results)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str  # the column / form label, in Chinese
    required: bool = True
    choices: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    max_length: int = 200


@dataclass(frozen=True)
class EntryKindSpec:
    """One kind of entry of a section: its fields, which one dates it, whether one per term."""

    section: Section
    kind: str
    label: str
    fields: tuple[FieldSpec, ...]
    dated_by: str  # the field giving ``occurred_on`` (a term dates by its start)
    once_per_term: bool = False
    article: str = ARTICLE

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class FieldRefusal:
    field: str
    rule: str
    message: str
    article: str = ARTICLE


@dataclass(frozen=True)
class Validated:
    values: dict[str, Any] = field(default_factory=dict)
    refusals: list[FieldRefusal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refusals


def _text(name: str, label: str, required: bool = True, max_length: int = 200) -> FieldSpec:
    return FieldSpec(name, FieldType.TEXT, label, required, max_length=max_length)


def _date(name: str, label: str) -> FieldSpec:
    return FieldSpec(name, FieldType.DATE, label)


def _decimal(name: str, label: str, low: int, high: int, required: bool = True) -> FieldSpec:
    return FieldSpec(
        name, FieldType.DECIMAL, label, required, minimum=Decimal(low), maximum=Decimal(high)
    )


def _choice(name: str, label: str, choices: Sequence[str], required: bool = True) -> FieldSpec:
    return FieldSpec(name, FieldType.CHOICE, label, required, choices=tuple(choices))


_TERM_FIELD = FieldSpec("term", FieldType.TERM, "学年学期")
_LEVEL_FIELD = _choice("level", "等级", LEVELS)
AWARD_LEVELS = ("国家级", "省级", "市级", "县级", "校级")

BUILT_IN: tuple[EntryKindSpec, ...] = (
    EntryKindSpec(
        Section.QUALITY,
        "conduct",
        "品德表现",
        (_TERM_FIELD, _LEVEL_FIELD, _text("comment", "评语", False, 500)),
        "term",
        once_per_term=True,
    ),
    EntryKindSpec(
        Section.QUALITY,
        "term_results",
        "学业成绩",
        (_TERM_FIELD, FieldSpec("results", FieldType.RESULTS, "各科成绩")),
        "term",
        once_per_term=True,
    ),
    EntryKindSpec(
        Section.QUALITY,
        "sports",
        "体育运动",
        (_TERM_FIELD, _LEVEL_FIELD, _text("activities", "项目与表现", False, 500)),
        "term",
    ),
    EntryKindSpec(
        Section.QUALITY,
        "arts",
        "艺术素养",
        (_TERM_FIELD, _LEVEL_FIELD, _text("activities", "项目与表现", False, 500)),
        "term",
    ),
    EntryKindSpec(
        Section.QUALITY,
        "community_service",
        "社会实践与志愿服务",
        (
            _date("served_on", "日期"),
            _text("activity", "活动"),
            _decimal("hours", "时长（小时）", 0, 1000),
        ),
        "served_on",
    ),
    EntryKindSpec(
        Section.HEALTH,
        "fitness_test",
        "体质健康测试",
        (
            _date("tested_on", "测试日期"),
            _decimal("score", "总分", 0, 120),
            _choice("level", "等级", ("优秀", "良好", "及格", "不及格")),
        ),
        "tested_on",
    ),
    EntryKindSpec(
        Section.HEALTH,
        "checkup",
        "健康体检",
        (
            _date("examined_on", "体检日期"),
            _decimal("height_cm", "身高（厘米）", 50, 250),
            _decimal("weight_kg", "体重（千克）", 5, 250),
            _decimal("vision_left", "左眼视力", 3, 6, required=False),
            _decimal("vision_right", "右眼视力", 3, 6, required=False),
            _text("conclusion", "体检结论", False, 500),
        ),
        "examined_on",
    ),
    EntryKindSpec(
        Section.HEALTH,
        "vaccination",
        "预防接种",
        (
            _date("vaccinated_on", "接种日期"),
            _text("vaccine", "疫苗"),
            FieldSpec("dose", FieldType.INTEGER, "剂次", minimum=Decimal(1), maximum=Decimal(10)),
        ),
        "vaccinated_on",
    ),
    EntryKindSpec(
        Section.AWARDS,
        "award",
        "获奖",
        (
            _date("awarded_on", "获奖日期"),
            _text("title", "奖项名称"),
            _choice("level", "级别", AWARD_LEVELS),
            _text("awarded_by", "颁奖单位"),
        ),
        "awarded_on",
    ),
    EntryKindSpec(
        Section.AID,
        "aid",
        "资助",
        (
            _date("granted_on", "发放日期"),
            _text("programme", "资助项目"),
            _decimal("amount_yuan", "金额（元）", 0, 1_000_000),
            _text("funded_by", "资助单位", False),
        ),
        "granted_on",
    ),
)


def catalogue(province_items: Iterable[EntryKindSpec] = ()) -> dict[str, EntryKindSpec]:
    """Every kind a school may write, built-in and the province's own, by kind."""
    return {spec.kind: spec for spec in (*BUILT_IN, *province_items)}


def term_reference(kind: str, term: str) -> str:
    """The reference of a once-per-term entry: the same for the same kind and term."""
    return str(uuid.uuid5(_TERM_NAMESPACE, f"{kind}:{term}"))


def validate_term(term: str) -> bool:
    """A school year's term: ``2026-2027-1`` or ``2026-2027-2``."""
    return TERM.match(term) is not None and int(term[5:9]) == int(term[:4]) + 1


def term_starts_on(term: str) -> date:
    """A term dates its entry by its first day: 1 September or 1 February."""
    match = TERM.match(term)
    if match is None:
        raise ValueError(term)
    first, _, half = match.groups()
    return date(int(first), 9, 1) if half == "1" else date(int(first) + 1, 2, 1)


def validate(spec: EntryKindSpec, raw: Mapping[str, Any], today: date) -> Validated:
    """Check ``raw`` against the kind's fields: unknown fields, missing required ones, types,
    ranges and choices, and a date after ``today``. Every refusal is listed, not the first."""
    out = Validated()
    for name in raw:
        if spec.field(name) is None:
            out.refusals.append(FieldRefusal(name, "archive_field_unknown", f"no field {name}"))
    for f in spec.fields:
        value = raw.get(f.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                out.refusals.append(
                    FieldRefusal(f.name, "archive_field_missing", f"{f.name} is required")
                )
            continue
        try:
            out.values[f.name] = _typed(f, value, today)
        except Refused as refused:
            out.refusals.append(FieldRefusal(f.name, refused.rule, refused.message))
    return out


def occurred_on(spec: EntryKindSpec, values: Mapping[str, Any]) -> date:
    """The entry's date: its dating field's, a term's first day for a term."""
    dating = spec.field(spec.dated_by)
    value = values[spec.dated_by]
    if dating is not None and dating.type == FieldType.TERM:
        return term_starts_on(value)
    return date.fromisoformat(value)


class Refused(Exception):
    """A value a field refuses (its rule code and why)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _typed(spec: FieldSpec, value: Any, today: date) -> Any:
    """The value as stored (JSON: numbers as numbers, dates as ISO strings)."""
    if spec.type == FieldType.RESULTS:
        return _results(value)
    if spec.type == FieldType.DATE:
        day = _day(value)
        if day > today:
            raise Refused("archive_date_in_future", f"{spec.name} is after today")
        return day.isoformat()
    if spec.type == FieldType.TERM:
        text = str(value).strip()
        if not validate_term(text):
            raise Refused("archive_term_invalid", f"{spec.name}: a term is like 2026-2027-1")
        return text
    if spec.type in (FieldType.INTEGER, FieldType.DECIMAL):
        return _number(spec, value)
    text = str(value).strip()
    if spec.type == FieldType.CHOICE and text not in spec.choices:
        raise Refused("archive_choice_invalid", f"{spec.name}: one of {', '.join(spec.choices)}")
    if len(text) > spec.max_length:
        raise Refused("archive_text_too_long", f"{spec.name}: at most {spec.max_length} chars")
    return text


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    try:
        parts = [int(p) for p in text.split("-")]
        return date(*parts) if len(parts) == 3 else date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Refused("archive_date_invalid", "a date is like 2026-09-01") from None


def _number(spec: FieldSpec, value: Any) -> int | float:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Refused("archive_number_invalid", f"{spec.name} is not a number") from None
    if not number.is_finite() or (spec.type == FieldType.INTEGER and number != int(number)):
        raise Refused("archive_number_invalid", f"{spec.name} is not a whole number")
    if (spec.minimum is not None and number < spec.minimum) or (
        spec.maximum is not None and number > spec.maximum
    ):
        raise Refused(
            "archive_number_out_of_range", f"{spec.name}: {spec.minimum} to {spec.maximum}"
        )
    return int(number) if spec.type == FieldType.INTEGER else float(number)


def result_value(value: Any) -> int | float | str:
    """One subject's result: a score from 0 to 150 or a level (优秀/良好/合格/不合格)."""
    text = str(value).strip()
    if text in LEVELS:
        return text
    try:
        score = Decimal(text)
    except InvalidOperation:
        raise Refused("archive_result_invalid", "a result is a score or a level") from None
    if not score.is_finite() or not Decimal(0) <= score <= MAX_SCORE:
        raise Refused("archive_result_invalid", "a score is from 0 to 150")
    return int(score) if score == int(score) else float(score)


def _results(value: Any) -> dict[str, int | float | str]:
    if not isinstance(value, Mapping) or not value:
        raise Refused("archive_results_empty", "results name at least one subject")
    results: dict[str, int | float | str] = {}
    for subject, result in value.items():
        name = str(subject).strip()
        if not name or len(name) > 40:
            raise Refused("archive_result_invalid", "a subject is named in at most 40 chars")
        results[name] = result_value(result)
    return results
