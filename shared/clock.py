"""The date and time the services act on: China Standard Time, injectable.

Deadlines, windows and "today" in the regulations are Beijing dates. Tests and local
demonstrations pin the date with ``XUEJI_TODAY=2026-09-07`` (``runtime.clock``; production
refuses it, see ServiceSettings); code takes a ``Clock`` so unit tests pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC. A naive one is taken as UTC: that is what :meth:`Clock.now` gives and
    what the services store; SQLite hands ``DateTime(timezone=True)`` columns back naive."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# A moment in a response: always answered with its offset (``2026-09-07T08:30:00Z``), whatever
# database it came from. The schema says so with a pattern on the offset (RFC 3339 date-time).
Timestamp = Annotated[
    datetime,
    AfterValidator(as_utc),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": "(Z|[+-][0-9]{2}:[0-9]{2})$",
            "description": "RFC 3339 date-time with its UTC offset",
        },
        mode="serialization",
    ),
]


@dataclass(frozen=True)
class Clock:
    """``now()`` in UTC and ``today()`` as a Beijing date; ``fixed_today`` pins the date."""

    fixed_today: date | None = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.fixed_today or self.now().astimezone(CHINA).date()
