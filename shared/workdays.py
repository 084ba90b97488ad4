"""Chinese working days (工作日) for registry deadlines.

Deadlines in the measures count working days: each party to a transfer has 10 (N2013
art. 14; N2025 art. 15), a school has 60 to report a death for cancellation (N2025 art. 21;
10 under N2013 art. 21).  A working day is a Monday to Friday that is not a statutory
holiday, or a weekend day made a working day by the State Council's yearly arrangement
(调休).

The arrangement comes from ``chinese_calendar`` (PyPI ``chinesecalendar``), which knows the
years it was released with (2004-2026 in 1.11.0) and raises ``NotImplementedError`` for
others.  A province operator can load a year's arrangement as soon as the State Council
publishes it (:meth:`WorkdayCalendar.load_year`, :meth:`WorkdayCalendar.from_json`); loaded
data replaces the library's for that year.  For a year known to neither, Monday to Friday
are taken as working days and the result says so (``Deadline.approximate``): a deadline is
never refused because next year's holidays are not published yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Any

import chinese_calendar

TRANSFER_STEP_WORKDAYS = 10
DEATH_CANCELLATION_WORKDAYS = 60

_ONE_DAY = timedelta(days=1)
_YEAR_KEYS = frozenset({"holidays", "workdays"})


@dataclass(frozen=True)
class Deadline:
    """When a step is due; ``approximate`` if a counted day fell in an unknown year.

    ``unknown_years`` lists those years, for which weekends only were taken as days off.
    """

    due: date
    approximate: bool
    unknown_years: tuple[int, ...]


@dataclass(frozen=True)
class YearArrangement:
    """One year's holiday arrangement: statutory days off and adjusted working days (调休)."""

    holidays: frozenset[date]
    workdays: frozenset[date]


class WorkdayCalendar:
    """Chinese working days from ``chinese_calendar`` plus years loaded by an operator."""

    def __init__(self, years: Mapping[int, YearArrangement] | None = None) -> None:
        self._years: dict[int, YearArrangement] = {}
        for year, arrangement in (years or {}).items():
            self.load_year(year, arrangement.holidays, arrangement.workdays)

    @classmethod
    def from_json(cls, source: str | PathLike[str] | Mapping[str, Any]) -> WorkdayCalendar:
        """Build a calendar from a file path or an already-parsed mapping of the form
        ``{"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-07", ...]}}``.

        ``workdays`` are the adjusted working weekend days (调休). Raises ``ValueError`` for
        anything else (unknown keys, dates outside their year, a day in both lists).
        """
        data = source if isinstance(source, Mapping) else _read_json(Path(source))
        calendar = cls()
        for key, entry in data.items():
            year, holidays, workdays = _parse_year_entry(key, entry)
            calendar.load_year(year, holidays, workdays)
        return calendar

    def load_year(self, year: int, holidays: Iterable[date], workdays: Iterable[date]) -> None:
        """Use this arrangement for the whole of ``year``, replacing the library's if any.

        Days listed in neither set follow the Monday-to-Friday rule, so a file for a year
        the library knows must list that year's complete arrangement.
        """
        arrangement = YearArrangement(
            frozenset(map(_as_date, holidays)), frozenset(map(_as_date, workdays))
        )
        _check_arrangement(year, arrangement)
        self._years[year] = arrangement

    def knows_year(self, year: int) -> bool:
        """True if loaded data or the library has this year's holiday arrangement."""
        return year in self._years or _library_knows(year)

    def is_workday(self, day: date) -> bool:
        """True if ``day`` is a Chinese working day; Monday to Friday in an unknown year."""
        day = _as_date(day)
        arrangement = self._years.get(day.year)
        if arrangement is not None:
            return _arranged_workday(day, arrangement)
        if _library_knows(day.year):
            return bool(chinese_calendar.is_workday(day))
        return _is_weekday(day)

    def add_workdays(self, start: date, n: int) -> Deadline:
        """Return the ``n``-th working day after ``start``.

        The day the step opens (``start``) does not count, whatever it is, so a 10-working-
        day step opened on a Friday before a normal week is due on the second Friday
        (N2013 art. 14).  ``n == 0`` is due on ``start`` itself.  Never raises for a year
        without holiday data: see :class:`Deadline`.
        """
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        due, unknown = _as_date(start), set[int]()
        while n:
            due += _ONE_DAY
            if not self.knows_year(due.year):
                unknown.add(due.year)
            if self.is_workday(due):
                n -= 1
        return Deadline(due, bool(unknown), tuple(sorted(unknown)))

    def workdays_between(self, a: date, b: date) -> int:
        """Count working days after ``a`` up to and including ``b``; negative if ``b < a``.

        The counterpart of :meth:`add_workdays`:
        ``workdays_between(start, add_workdays(start, n).due) == n``.  Unknown years count
        Monday to Friday (see :meth:`knows_year`).
        """
        a, b = _as_date(a), _as_date(b)
        if b < a:
            return -self.workdays_between(b, a)
        return sum(1 for day in _days_between(a, b) if self.is_workday(day))


@cache
def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _arranged_workday(day: date, arrangement: YearArrangement) -> bool:
    if day in arrangement.workdays:
        return True
    return day not in arrangement.holidays and _is_weekday(day)


def _is_weekday(day: date) -> bool:
    return day.weekday() < 5


def _days_between(a: date, b: date) -> Iterator[date]:
    """Days ``d`` with ``a < d <= b``."""
    day = a + _ONE_DAY
    while day <= b:
        yield day
        day += _ONE_DAY


def _as_date(day: date) -> date:
    """A ``datetime`` is a ``date`` but never equal to one: compare calendar days only."""
    return day.date() if isinstance(day, datetime) else day


def _check_arrangement(year: int, arrangement: YearArrangement) -> None:
    stray = sorted(d for d in arrangement.holidays | arrangement.workdays if d.year != year)
    if stray:
        raise ValueError(f"dates outside {year} in its arrangement: {stray}")
    both = sorted(arrangement.holidays & arrangement.workdays)
    if both:
        raise ValueError(f"days listed both as holiday and as working day: {both}")


def _read_json(path: Path) -> Mapping[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by year")
    return data


def _parse_year_entry(key: str, entry: Any) -> tuple[int, list[date], list[date]]:
    if not (isinstance(key, str) and len(key) == 4 and key.isascii() and key.isdigit()):
        raise ValueError(f"year keys are 4-digit strings, got {key!r}")
    if not isinstance(entry, Mapping) or not set(entry) <= _YEAR_KEYS:
        raise ValueError(f"{key}: expected an object with 'holidays' and/or 'workdays'")
    return int(key), _parse_dates(key, entry, "holidays"), _parse_dates(key, entry, "workdays")


def _parse_dates(key: str, entry: Mapping[str, Any], name: str) -> list[date]:
    values = entry.get(name, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{key}.{name}: expected a list of YYYY-MM-DD strings")
    try:
        return [date.fromisoformat(v) for v in values]
    except ValueError as error:
        raise ValueError(f"{key}.{name}: {error}") from None
