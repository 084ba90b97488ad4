"""The school's arrivals (``school_arrival``): every student a transfer's or a cohort's
completion enrolled here, by subject. A completion is applied to the roster only for the
students it notes now: heard again, even re-sent under a new message id after the student has
left again (``xueji-ops resend``, a restored national), it changes nothing. The sending
school's counterpart is its history of departures (:mod:`.departures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.school.adapters.orm import arrival

_CHUNK = 500  # rows per statement: a cohort may be thousands


@dataclass(frozen=True)
class Arrival:
    school_code: str
    subject_id: str  # the transfer or the progression
    student_number: str


def _note(insert: Any) -> Any:
    statement = insert(arrival).on_conflict_do_nothing(
        index_elements=[arrival.c.school_code, arrival.c.subject_id, arrival.c.student_number]
    )
    return statement.returning(
        arrival.c.school_code, arrival.c.subject_id, arrival.c.student_number
    )


# Built once per dialect; executed with one parameter set per arrival (an executemany).
_NOTE = {"postgresql": _note(postgresql_insert), "sqlite": _note(sqlite_insert)}


async def note(
    session: AsyncSession, arrivals: Sequence[Arrival], kind: str, at: datetime
) -> set[Arrival]:
    """Note ``arrivals`` of one ``kind`` (a departure's kinds: ``departures.TRANSFER``,
    ``departures.PROGRESSION``); returns those noted now, not those the school had already
    (one statement per 500)."""
    statement = _NOTE[session.get_bind().dialect.name]
    noted: set[Arrival] = set()
    for start in range(0, len(arrivals), _CHUNK):
        rows = [
            {
                "school_code": a.school_code,
                "subject_id": a.subject_id,
                "student_number": a.student_number,
                "kind": kind,
                "arrived_at": at,
            }
            for a in arrivals[start : start + _CHUNK]
        ]
        result = await session.execute(statement, rows)
        noted |= {Arrival(r.school_code, r.subject_id, r.student_number) for r in result}
    return noted
