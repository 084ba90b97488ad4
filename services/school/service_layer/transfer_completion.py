"""National's ``transfer.completed`` at the schools, a run at a time (decision 0019).

The consumer hands a run of consecutive completions of one delivery batch to one handler, in
one transaction; the run may address several schools the instance hosts, some as receiving
school (:func:`.transfer_in.complete_many`: the transfer in completed, the student enrolled)
and some as sending school (:func:`.transfer_out.leave_many`: the student leaves, the open
tasks are void). Either side runs three statements whatever the run's length, where each
completion alone ran three or four.

The outcome is the completions' applied one after the other: a run touches a roster entry (a
school's student) at most once per round, so a student a run names twice at one school (a
completion heard twice, or a student who leaves and comes back) is taken in rounds, in
delivery order, each round seeing what the one before it left. Nearly every run is one round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from components.approval_desk.desk import ApprovalDesk
from services.school.service_layer import transfer_in, transfer_out
from shared.contracts.transfer import TransferCompleted
from shared.messaging.handlers import HandlerContext

Completion = tuple[HandlerContext, TransferCompleted]


async def apply_many(desk: ApprovalDesk, completions: Sequence[Completion], now: datetime) -> None:
    """Apply a run of completions, each already checked to concern its context's school."""
    for run in _rounds(completions):
        arriving = [(ctx.unit.code, c) for ctx, c in run if ctx.unit.code == c.to_school]
        departing = [(ctx, c) for ctx, c in run if ctx.unit.code != c.to_school]
        await transfer_in.complete_many(run[0][0].session, arriving, now)
        await transfer_out.leave_many(desk, departing)


def _rounds(completions: Sequence[Completion]) -> list[list[Completion]]:
    """Split so that each (school, student) appears once per round, the completions of each
    in delivery order (nearly always a single round)."""
    rounds: list[list[Completion]] = []
    seen: Counter[tuple[str, str]] = Counter()
    for ctx, completed in completions:
        key = (ctx.unit.code, completed.student_number)
        turn = seen[key]
        seen[key] += 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append((ctx, completed))
    return rounds
