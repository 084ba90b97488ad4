"""The date and time the services act on: China Standard Time, injectable.

Deadlines, windows and "today" in the regulations are Beijing dates. Tests and local
demonstrations pin the date with ``XUEJI_TODAY=2026-09-07`` (``runtime.clock``; production
refuses it, see ServiceSettings); code takes a ``Clock`` so unit tests pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class Clock:
    """``now()`` in UTC and ``today()`` as a Beijing date; ``fixed_today`` pins the date."""

    fixed_today: date | None = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.fixed_today or self.now().astimezone(CHINA).date()
