"""One row of an admission file → a checked :class:`Submission`, or the reasons it is not.

A row is held to exactly the rules of the single registration form: its cells are read
(:mod:`services.school.domain.admission_file`), shaped into the same ``BasicInfo`` and
``ExtendedInfo`` contracts and checked with the same :func:`check_student`. Pure and
synchronous: bulk admission runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from services.school.domain import admission_file as cells
from services.school.domain.admission_file import Cell, CellProblem, Header
from services.school.domain.students import Violation, check_student, normalise_id_number
from services.school.service_layer.submission import Submission
from shared.contracts.students import BasicInfo, ExtendedInfo
from shared.db.keys import time_ordered_uuid

# Where a contract field's validation error points in the file.
_GUARDIAN_COLUMNS = {
    "name": "guardian_name",
    "relation": "guardian_relation",
    "phone": "guardian_phone",
}
_PARSERS: dict[str, Callable[[Cell], Any]] = {
    "gender": cells.gender,
    "birth_date": cells.calendar_date,
    "enrolled_on": cells.calendar_date,
    "id_type": cells.id_type,
    "grade": cells.grade,
}


@dataclass(frozen=True)
class RowError:
    """One line of the error report."""

    row_number: int
    column: str
    rule: str
    reason: str
    name: str | None


@dataclass
class CheckedRows:
    total: int
    accepted: list[Submission]
    errors: list[RowError]

    @property
    def rejected_rows(self) -> int:
        return len({e.row_number for e in self.errors})


def check_rows(
    header: Header, rows: Iterable[tuple[int, Sequence[Cell]]], stage: str, today: date
) -> CheckedRows:
    """Check every non-blank row; the second and later rows with one document number are
    refused as duplicates within the file."""
    result = CheckedRows(total=0, accepted=[], errors=[])
    first_row_of: dict[str, int] = {}
    for number, row in rows:
        if all(cells.text(cell) is None for cell in row):
            continue
        result.total += 1
        submission, errors = check_row(header, number, row, stage, today)
        if submission is not None:
            errors = _duplicate_in_file(header, submission, first_row_of)
        if errors:
            result.errors.extend(errors)
        elif submission is not None:
            result.accepted.append(submission)
    return result


def check_row(
    header: Header, number: int, row: Sequence[Cell], stage: str, today: date
) -> tuple[Submission | None, list[RowError]]:
    values, problems = _read_cells(header, row)
    name = values.get("name")
    if problems:
        return None, _report(header, number, name, problems)
    try:
        basic = BasicInfo.model_validate(_basic_fields(values))
        extended = ExtendedInfo.model_validate(_extended_fields(values))
    except ValidationError as error:
        return None, _report(header, number, name, _contract_violations(error))
    violations = check_student(basic, stage, today)
    if violations:
        return None, _report(header, number, name, violations)
    return Submission(time_ordered_uuid(), basic, extended, source_row=number), []


def _read_cells(header: Header, row: Sequence[Cell]) -> tuple[dict[str, Any], list[Violation]]:
    values: dict[str, Any] = {}
    problems: list[Violation] = []
    for key, position in header.positions.items():
        cell = row[position] if position < len(row) else None
        parse = _PARSERS.get(key, cells.text)
        try:
            values[key] = parse(cell)
        except CellProblem as problem:
            problems.append(Violation(key, problem.rule, problem.message))
    if "id_type" not in values:
        values["id_type"] = cells.id_type(None)
    values["id_number"] = normalise_id_number(values.get("id_number"))
    return values, problems


def _basic_fields(values: dict[str, Any]) -> dict[str, Any]:
    fields = (
        "name",
        "gender",
        "birth_date",
        "id_type",
        "id_number",
        "ethnicity",
        "grade",
        "enrolled_on",
    )
    basic = {key: values.get(key) for key in fields}
    if values.get("nationality"):
        basic["nationality"] = values["nationality"]
    return basic


def _extended_fields(values: dict[str, Any]) -> dict[str, Any]:
    guardian = {
        field: values[column]
        for field, column in _GUARDIAN_COLUMNS.items()
        if values.get(column) is not None
    }
    return {
        "guardians": [guardian] if guardian else [],
        "address": values.get("address"),
        "hukou_region": values.get("hukou_region"),
    }


def _contract_violations(error: ValidationError) -> list[Violation]:
    """Pydantic's errors as violations, pointed at the file's columns (no input echoed)."""
    found = []
    for item in error.errors(include_url=False, include_input=False):
        loc = item["loc"]
        column = str(loc[0]) if loc else "row"
        if column == "guardians" and len(loc) >= 3:
            column = _GUARDIAN_COLUMNS.get(str(loc[2]), "guardian_name")
        found.append(Violation(column, str(item["type"]), str(item["msg"])))
    return found


def _duplicate_in_file(
    header: Header, submission: Submission, first_row_of: dict[str, int]
) -> list[RowError]:
    number = submission.basic.id_number
    row = submission.source_row or 0
    if number is None:
        return []
    first = first_row_of.setdefault(number, row)
    if first == row:
        return []
    reason = f"the same document number is already on row {first} of this file"
    return [
        RowError(row, header.label("id_number"), "duplicate_in_file", reason, submission.basic.name)
    ]


def _report(
    header: Header, number: int, name: str | None, violations: Iterable[Violation]
) -> list[RowError]:
    return [
        RowError(number, header.label(v.field), v.rule, v.message[:500], (name or "")[:50] or None)
        for v in violations
    ]
