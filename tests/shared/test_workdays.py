"""Chinese working days: library years, unknown years, operator-loaded years."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from shared.workdays import (
    DEATH_CANCELLATION_WORKDAYS,
    TRANSFER_STEP_WORKDAYS,
    Deadline,
    WorkdayCalendar,
    YearArrangement,
)

LIBRARY_KNOWS_2027 = WorkdayCalendar().knows_year(2027)
needs_2027_unknown = pytest.mark.skipif(
    LIBRARY_KNOWS_2027,
    reason="chinesecalendar now ships 2027; the unknown-year tests with 2199 still cover this",
)

# A made-up 2027 arrangement for the tests, NOT the State Council's: New Year's Day off,
# Spring Festival 2027-02-06..12 off with Sunday 2027-02-14 made a working day.
FICTIONAL_2027 = {
    "2027": {
        "holidays": ["2027-01-01", *(f"2027-02-{day:02d}" for day in range(6, 13))],
        "workdays": ["2027-02-14"],
    }
}


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return WorkdayCalendar()


def known(due: date) -> Deadline:
    return Deadline(due, approximate=False, unknown_years=())


class TestNationalDay2026:
    """2026: Mid-Autumn 25-27 Sep, National Day 1-7 Oct, Sun 20 Sep and Sat 10 Oct worked."""

    @pytest.mark.parametrize("day", [date(2026, 9, 25), *(date(2026, 10, d) for d in range(1, 8))])
    def test_holidays_are_off(self, calendar: WorkdayCalendar, day: date) -> None:
        assert not calendar.is_workday(day)

    @pytest.mark.parametrize("day", [date(2026, 9, 20), date(2026, 10, 10)])
    def test_adjusted_weekend_days_are_worked(self, calendar: WorkdayCalendar, day: date) -> None:
        assert day.weekday() >= 5
        assert calendar.is_workday(day)

    def test_normal_sunday_is_off(self, calendar: WorkdayCalendar) -> None:
        assert not calendar.is_workday(date(2026, 10, 11))

    def test_step_opened_before_the_holiday(self, calendar: WorkdayCalendar) -> None:
        start = date(2026, 9, 30)
        assert calendar.add_workdays(start, 1) == known(date(2026, 10, 8))
        assert calendar.add_workdays(start, 3) == known(date(2026, 10, 10))  # the Saturday
        assert calendar.add_workdays(start, 4) == known(date(2026, 10, 12))

    def test_adjusted_sunday_counts(self, calendar: WorkdayCalendar) -> None:
        assert calendar.add_workdays(date(2026, 9, 18), 1) == known(date(2026, 9, 20))

    def test_transfer_step_across_golden_week(self, calendar: WorkdayCalendar) -> None:
        # Counted: 29, 30 Sep; 8, 9, 10 (Sat), 12, 13, 14, 15, 16 Oct.
        deadline = calendar.add_workdays(date(2026, 9, 28), TRANSFER_STEP_WORKDAYS)
        assert deadline == known(date(2026, 10, 16))


class TestSpringFestival2026:
    """2026: 15-23 Feb off, Sat 14 Feb and Sat 28 Feb worked."""

    def test_arrangement(self, calendar: WorkdayCalendar) -> None:
        assert calendar.is_workday(date(2026, 2, 14))
        assert not any(calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
        assert calendar.is_workday(date(2026, 2, 28))

    def test_deadline_skips_the_festival(self, calendar: WorkdayCalendar) -> None:
        start = date(2026, 2, 13)
        assert calendar.add_workdays(start, 1) == known(date(2026, 2, 14))
        assert calendar.add_workdays(start, 2) == known(date(2026, 2, 24))
        # 14, 24, 25, 26, 27, 28 (Sat), 2, 3, 4, 5 Mar.
        assert calendar.add_workdays(start, 10) == known(date(2026, 3, 5))

    def test_between(self, calendar: WorkdayCalendar) -> None:
        assert calendar.workdays_between(date(2026, 2, 13), date(2026, 2, 28)) == 6


class TestUnknownYears:
    @needs_2027_unknown
    def test_crossing_into_2027_is_approximate_and_weekends_only(
        self, calendar: WorkdayCalendar
    ) -> None:
        # 25, 28, 29, 30, 31 Dec 2026 from the library; then 1 Jan 2027 (a Friday, surely
        # New Year's Day in reality) counts, as do 4, 5, 6, 7 Jan.
        deadline = calendar.add_workdays(date(2026, 12, 24), TRANSFER_STEP_WORKDAYS)
        assert deadline == Deadline(date(2027, 1, 7), approximate=True, unknown_years=(2027,))

    @needs_2027_unknown
    def test_unknown_year_is_weekdays(self, calendar: WorkdayCalendar) -> None:
        assert not calendar.knows_year(2027)
        assert calendar.is_workday(date(2027, 1, 1))
        assert not calendar.is_workday(date(2027, 1, 2))

    def test_far_future(self, calendar: WorkdayCalendar) -> None:
        deadline = calendar.add_workdays(date(2199, 12, 30), 5)  # a Monday
        assert deadline == Deadline(date(2200, 1, 6), approximate=True, unknown_years=(2199, 2200))

    def test_before_the_library(self, calendar: WorkdayCalendar) -> None:
        assert not calendar.knows_year(2003)
        deadline = calendar.add_workdays(date(2003, 12, 30), 3)
        # 31 Dec 2003 (weekdays only), then 2 Jan 2004 (1 Jan 2004 is New Year's Day).
        assert deadline == Deadline(date(2004, 1, 5), approximate=True, unknown_years=(2003,))

    def test_start_in_unknown_year_does_not_count(self, calendar: WorkdayCalendar) -> None:
        assert calendar.add_workdays(date(2003, 12, 31), 1) == known(date(2004, 1, 2))

    def test_between_never_raises(self, calendar: WorkdayCalendar) -> None:
        # January 2200 has 23 weekdays; nobody knows its holidays.
        assert calendar.workdays_between(date(2199, 12, 31), date(2200, 1, 31)) == 23


class TestLoadedYears:
    def test_loaded_2027_clears_the_flag_and_is_honoured(self) -> None:
        calendar = WorkdayCalendar.from_json(FICTIONAL_2027)
        assert calendar.knows_year(2027)
        # 1 Jan 2027 is now a holiday: 25, 28, 29, 30, 31 Dec, 4, 5, 6, 7, 8 Jan.
        deadline = calendar.add_workdays(date(2026, 12, 24), TRANSFER_STEP_WORKDAYS)
        assert deadline == known(date(2027, 1, 8))

    def test_loaded_adjusted_sunday_and_festival(self) -> None:
        calendar = WorkdayCalendar.from_json(FICTIONAL_2027)
        # From Fri 5 Feb: 6-12 off, 13 Sat off, 14 Sun worked, then Mon 15.
        assert calendar.add_workdays(date(2027, 2, 5), 1) == known(date(2027, 2, 14))
        assert calendar.add_workdays(date(2027, 2, 5), 2) == known(date(2027, 2, 15))

    def test_from_file(self, tmp_path: Path) -> None:
        path = tmp_path / "holidays.json"
        path.write_text(json.dumps(FICTIONAL_2027), encoding="utf-8")
        assert not WorkdayCalendar.from_json(path).is_workday(date(2027, 1, 1))
        assert not WorkdayCalendar.from_json(str(path)).is_workday(date(2027, 1, 1))

    def test_loaded_data_wins_over_the_library(self) -> None:
        calendar = WorkdayCalendar()
        calendar.load_year(2026, holidays={date(2026, 12, 31)}, workdays={date(2026, 10, 11)})
        assert not calendar.is_workday(date(2026, 12, 31))
        assert calendar.is_workday(date(2026, 10, 11))
        # The whole year is replaced: National Day 2026 is now an ordinary week.
        assert calendar.is_workday(date(2026, 10, 1))

    def test_constructor_takes_arrangements(self) -> None:
        arrangement = YearArrangement(frozenset({date(2027, 1, 1)}), frozenset())
        calendar = WorkdayCalendar({2027: arrangement})
        assert calendar.knows_year(2027)
        assert not calendar.is_workday(date(2027, 1, 1))

    def test_missing_list_means_empty(self) -> None:
        calendar = WorkdayCalendar.from_json({"2027": {"holidays": ["2027-01-01"]}})
        assert not calendar.is_workday(date(2027, 1, 2))

    @pytest.mark.parametrize(
        "data",
        [
            {"27": {"holidays": []}},
            {"2027": ["2027-01-01"]},
            {"2027": {"holiday": ["2027-01-01"]}},
            {"2027": {"holidays": "2027-01-01"}},
            {"2027": {"holidays": ["2027-13-01"]}},
            {"2027": {"holidays": ["2028-01-01"]}},
            {"2027": {"holidays": ["2027-01-02"], "workdays": ["2027-01-02"]}},
        ],
    )
    def test_bad_files_are_refused(self, data: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            WorkdayCalendar.from_json(data)

    def test_json_must_be_an_object(self, tmp_path: Path) -> None:
        path = tmp_path / "holidays.json"
        path.write_text("[]", encoding="utf-8")
        with pytest.raises(ValueError):
            WorkdayCalendar.from_json(path)


class TestCounting:
    def test_zero_is_the_start_day_even_on_a_holiday(self, calendar: WorkdayCalendar) -> None:
        assert calendar.add_workdays(date(2026, 10, 1), 0) == known(date(2026, 10, 1))

    def test_negative_is_refused(self, calendar: WorkdayCalendar) -> None:
        with pytest.raises(ValueError):
            calendar.add_workdays(date(2026, 10, 1), -1)

    def test_start_day_never_counts(self, calendar: WorkdayCalendar) -> None:
        assert calendar.add_workdays(date(2026, 11, 23), 1) == known(date(2026, 11, 24))

    def test_datetime_is_treated_as_its_date(self, calendar: WorkdayCalendar) -> None:
        calendar.load_year(2027, holidays={date(2027, 1, 1)}, workdays=set())
        assert not calendar.is_workday(datetime(2027, 1, 1, 9, 30))
        assert calendar.add_workdays(datetime(2026, 11, 23, 18, 0), 1).due == date(2026, 11, 24)

    def test_large_n_over_every_library_year(self, calendar: WorkdayCalendar) -> None:
        first, last = date(2004, 1, 1), date(2026, 12, 31)
        total = calendar.workdays_between(first - timedelta(days=1), last)
        assert 5_600 < total < 5_900
        # 31 Dec 2003 is outside the library, but the start day is never counted.
        assert calendar.add_workdays(first - timedelta(days=1), total) == known(last)

    def test_large_n_into_unknown_years(self, calendar: WorkdayCalendar) -> None:
        deadline = calendar.add_workdays(date(2026, 1, 1), 1_000)
        assert deadline.approximate
        assert deadline.unknown_years[0] == (2027 if not LIBRARY_KNOWS_2027 else 2028)
        assert calendar.workdays_between(date(2026, 1, 1), deadline.due) == 1_000

    def test_death_cancellation_step(self, calendar: WorkdayCalendar) -> None:
        # N2025 art. 21: 60 working days.  After Tue 1 Sep 2026: 64 weekdays up to 30 Nov,
        # less Mid-Autumn (25 Sep) and the 5 weekdays of 1-7 Oct, plus Sun 20 Sep, Sat 10 Oct.
        deadline = calendar.add_workdays(date(2026, 9, 1), DEATH_CANCELLATION_WORKDAYS)
        assert deadline == known(date(2026, 11, 30))

    def test_between_and_add_are_inverse(self, calendar: WorkdayCalendar) -> None:
        rng = random.Random(20261123)
        for _ in range(200):
            start = date(2004, 1, 1) + timedelta(days=rng.randrange(9_000))
            n = rng.randrange(80)
            due = calendar.add_workdays(start, n).due
            assert calendar.workdays_between(start, due) == n
            assert calendar.workdays_between(due, start) == -n
            assert n == 0 or calendar.is_workday(due)
