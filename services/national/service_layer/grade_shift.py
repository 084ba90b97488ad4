"""The grade a status period stands for after the August 10 promotions (decision 0046).

The promotion's one UPDATE (``promotion.py``) is left out of the status history: it writes no
period and closes none, so a promoted student's period stays open with the grade it was
opened with. What the run did is data instead — ``promotion_run`` (when it ran, and
``last_period_id``: the periods up to that id existed when it ran) and ``promotion_school``
(each school of the batch with its graduating grade) — and the grade at a moment is the
period's grade moved up by every run after the period was written, up to that moment, exactly
as the UPDATE moved it: an enrolled student (``PROMOTABLE``), at a school of the run, below
that school's graduating grade. The runs are applied one after another (a student left in the
graduating grade stays there), each as one outer join of ``promotion_school`` on a grouped
set (school, grade, status, which runs apply), never per student.

A period "after" a run is told by its id, not its time: every period with an id up to the
run's ``last_period_id`` was committed before the run took the registry's lock (periods are
written only by the triggers, in the transaction that changes ``registry_entry``), and every
later one reflects the promoted grade. A writer's clock cannot misplace a promotion.

Runs from before decision 0046 (``last_period_id`` null) wrote their periods through the
trigger and are not applied here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Subquery,
    Table,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.national.adapters.orm import PromotionRun, PromotionSchool
from services.national.domain.status import PROMOTABLE

_run: Table = PromotionRun.__table__  # type: ignore[assignment]
_school: Table = PromotionSchool.__table__  # type: ignore[assignment]
_PROMOTABLE = sorted(s.value for s in PROMOTABLE)

# The helper columns a grouped set carries into :func:`shifted` (besides ``grade`` and ``n``).
SCHOOL, STATUS, BUCKET = "shift_school", "shift_status", "shift_bucket"


@dataclass(frozen=True)
class Run:
    """A promotion run that left the periods open: when, and the last period it promoted."""

    school_year: int
    ran_at: datetime
    last_period: int


async def runs_until(session: AsyncSession, until: datetime) -> list[Run]:
    """The runs (decision 0046 and later) up to ``until``, in the order they ran."""
    rows = await session.execute(
        select(_run.c.school_year, _run.c.ran_at, _run.c.last_period_id)
        .where(_run.c.last_period_id.is_not(None), _run.c.ran_at <= until)
        .order_by(_run.c.ran_at)
    )
    return [Run(int(y), _utc(at), int(last)) for y, at, last in rows]


def bucket(period_id: ColumnElement[Any], runs: Sequence[Run]) -> ColumnElement[int]:
    """How many of ``runs`` (in order) ran before the period was written: run ``i`` applies
    to the period when this is ``<= i``."""
    if not runs:
        return literal(0)
    return case(*[(period_id <= run.last_period, i) for i, run in enumerate(runs)], else_=len(runs))


def runs_before(runs: Sequence[Run], moment: datetime) -> int:
    """The bucket of counts taken at ``moment`` (the roll-up's watermark): the runs up to it
    are in them already."""
    return sum(1 for run in runs if run.ran_at <= moment)


def helper_columns(
    school: ColumnElement[Any], status: ColumnElement[Any], position: ColumnElement[int]
) -> list[ColumnElement[Any]]:
    """The columns :func:`shifted` needs beside ``grade`` and ``n``."""
    return [school.label(SCHOOL), status.label(STATUS), position.label(BUCKET)]


def shifted(rows: Subquery, runs: Sequence[Run]) -> Subquery:
    """``rows`` (with ``grade``, ``n`` and :func:`helper_columns`) with each row's grade moved
    up by the runs that apply to it, one run after another, as the promotion's UPDATE does."""
    current = rows
    for i, run in enumerate(runs):
        school = _school.alias(f"promoted_{i}")
        moves = and_(
            current.c[BUCKET] <= i,
            current.c[STATUS].in_(_PROMOTABLE),
            current.c.grade < school.c.graduating_grade,
        )
        kept = [c for c in current.c if c.key != "grade"]
        grade = (current.c.grade + case((moves, 1), else_=0)).label("grade")
        joined = current.outerjoin(
            school,
            and_(
                school.c.school_year == run.school_year,
                school.c.school_code == current.c[SCHOOL],
            ),
        )
        current = select(*kept, grade).select_from(joined).subquery(f"shift_{i}")
    return current


def regrouped(
    rows: Select[Any] | CompoundSelect[Any], by: Sequence[str], runs: Sequence[Run]
) -> Select[Any]:
    """``rows`` (the ``by`` columns, ``n`` and :func:`helper_columns`) shifted, then summed
    by ``by``."""
    moved = shifted(rows.subquery(), runs)
    keys = [moved.c[d] for d in by]
    return select(*keys, func.sum(moved.c.n).label("n")).group_by(*keys)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
