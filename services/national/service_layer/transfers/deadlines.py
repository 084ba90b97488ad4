"""Use case: the deadline sweep (N2013 art. 14: 10 working days per party; HA art. 11(三):
the superior or the system steps in when a party does not act in time).

Deadlines are data (``transfer_step.due_on``), so they survive restarts: the sweep only asks
the database which open steps need a message on ``as_of``.

- ``transfer.step_reminder`` to the party, once, when the step is due within the party
  province's ``reminder_working_days`` working days (and not overdue yet);
- ``transfer.step_overdue`` to the party's superior, once, when ``as_of`` is past the due
  date (a progression's step likewise: ``progression.step_overdue``, counted with them). A
  province step's superior is national itself: nothing is sent, the step is listed at
  ``GET /api/v1/transfers/overdue?unit=national:CN`` for a national officer.

Each step is marked (``reminded_at``, ``overdue_notified_at``) by one set-based
``UPDATE ... RETURNING`` in the transaction that stages the messages, and only the steps that
statement marked get a message: a re-run, or a second sweep at the same time, sends nothing
twice. The national runtime sweeps periodically with today's date; operators and tests call
``POST /api/v1/operations/deadline-sweep`` with any date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from services.national.adapters.transfer_repository import StepRow, TransferRepository, step_of
from services.national.service_layer import progression
from services.national.service_layer.transfers import notices
from services.national.service_layer.transfers.notices import Outbox
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.federation.config import NATIONAL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    as_of: date
    reminders: int  # sent to parties
    overdue: int  # sent to superiors
    overdue_at_national: int  # province steps now on national's own list


async def sweep_deadlines(
    transfers: TransferRepository, outbox: Outbox, rulebook: Rulebook, as_of: date, now: datetime
) -> SweepReport:
    """Send the reminders and overdue reports due on ``as_of``; call inside one transaction."""
    reminders = await _remind(transfers, outbox, rulebook, as_of, now)
    sent, at_national = await _report_overdue(transfers, outbox, as_of, now)
    sent += await progression.report_overdue(transfers.session, as_of, now)
    report = SweepReport(as_of, reminders, sent, at_national)
    if reminders or sent or at_national:
        log.info("deadline sweep %s: %s", as_of, report)
    return report


async def _remind(
    transfers: TransferRepository, outbox: Outbox, rulebook: Rulebook, as_of: date, now: datetime
) -> int:
    horizons = {p.code: rulebook.remind_until(p.code, as_of) for p in rulebook.federation.provinces}
    if not horizons:
        return 0
    candidates = await transfers.to_remind(as_of, max(horizons.values()))
    due = [row for row in candidates if _within(row, rulebook, horizons, as_of)]
    marked = await transfers.mark_reminded([row.step.step_id for row in due], now)
    for row in (r for r in due if r.step.step_id in marked):
        step, record = row.step, row.transfer
        assert step.due_on is not None
        province = rulebook.province_of(step.party_unit)
        left = rulebook.workdays_left(province, as_of, step.due_on)
        message = notices.reminder(record, step.step_id, step.role, step.due_on, left)
        await outbox.send(message, to=step.party_unit, record=record)
    return len(marked)


def _within(row: StepRow, rulebook: Rulebook, horizons: dict[str, date], as_of: date) -> bool:
    province = rulebook.province_of(row.step.party_unit)
    horizon = horizons.get(province) or rulebook.remind_until(province, as_of)
    return row.step.due_on is not None and row.step.due_on <= horizon


async def _report_overdue(
    transfers: TransferRepository, outbox: Outbox, as_of: date, now: datetime
) -> tuple[int, int]:
    late = await transfers.newly_overdue(as_of)
    marked = await transfers.mark_overdue_notified([row.step.step_id for row in late], now)
    sent = at_national = 0
    for row in (r for r in late if r.step.step_id in marked):
        step = step_of(row.step)
        if step.superior_unit == str(NATIONAL):
            at_national += 1
            log.warning(
                "transfer %s: %s step overdue, on national's list",
                row.transfer.transfer_id,
                step.role,
            )
            continue
        assert row.entry is not None
        message = notices.overdue(row.transfer, step, row.entry)
        await outbox.send(message, to=step.superior_unit, record=row.transfer)
        sent += 1
    return sent, at_national
