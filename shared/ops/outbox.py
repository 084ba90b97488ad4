"""An instance's outbox as the operator sees it: what is waiting, since when, and why; and
the re-send that reconciles a tier restored from a backup (``xueji-ops resend``).

The tool is synchronous; the query runs once through the service's own async engine
(``asyncio.run``), so it reads SQLite and PostgreSQL with the drivers the services use.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update

from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import UnitRef
from shared.messaging.envelope import routing_prefix_for
from shared.messaging.outbox import backlog
from shared.messaging.tables import outbox


@dataclass(frozen=True)
class StuckMessage:
    message_id: str
    type: str
    routing_key: str
    attempts: int
    next_attempt_at: datetime
    last_error: str


@dataclass(frozen=True)
class OutboxReport:
    unsent: int
    oldest_unsent_at: datetime | None
    sent_retained: int
    errors: list[StuckMessage] = field(default_factory=list)

    def oldest_age_seconds(self, now: datetime | None = None) -> float | None:
        if self.oldest_unsent_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.oldest_unsent_at).total_seconds()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite: naive


async def _read(database_url: str, errors: int) -> OutboxReport:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            unsent, oldest = await backlog(session)
            sent = (
                await session.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))
                )
            ).scalar_one()
            rows = (
                await session.execute(
                    select(outbox)
                    .where(outbox.c.sent_at.is_(None), outbox.c.last_error.is_not(None))
                    .order_by(outbox.c.next_attempt_at.desc())
                    .limit(errors)
                )
            ).all()
    finally:
        await engine.dispose()
    return OutboxReport(
        unsent=unsent,
        oldest_unsent_at=_aware(oldest) if oldest else None,
        sent_retained=int(sent),
        errors=[
            StuckMessage(
                message_id=row.message_id,
                type=row.message_type,
                routing_key=row.routing_key,
                attempts=row.attempts,
                next_attempt_at=_aware(row.next_attempt_at),
                last_error=row.last_error,
            )
            for row in rows
        ],
    )


def outbox_report(database_url: str, *, errors: int = 10) -> OutboxReport:
    """Backlog, oldest unsent message and the ``errors`` most recent refusals."""
    return asyncio.run(_read(database_url, errors))


async def _resend(database_url: str, units: list[UnitRef], since: datetime, dry_run: bool) -> int:
    # ``<tier>.<code>.<type>`` (``school.<area>.<code>.<type>``): the prefix selects every
    # message to one unit, with a school's pre-0045 form (``school.<code>.``) for the rows an
    # older release wrote. Unit codes are digits or letters, never LIKE's wildcards; the scan
    # is bounded by ix_kernel_outbox_sent_at.
    prefixes = {f"{routing_prefix_for(u)}." for u in units} | {f"{u.tier}.{u.code}." for u in units}
    to_units = or_(*(outbox.c.routing_key.startswith(p) for p in sorted(prefixes)))
    chosen = (outbox.c.sent_at >= since) & to_units
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            if dry_run:
                count = await session.scalar(select(func.count()).select_from(outbox).where(chosen))
                return int(count or 0)
            result = await session.execute(
                update(outbox)
                .where(chosen)
                .values(
                    sent_at=None, next_attempt_at=datetime.now(UTC), attempts=0, last_error=None
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
    finally:
        await engine.dispose()


def resend(
    database_url: str, units: list[UnitRef], since: datetime, *, dry_run: bool = False
) -> int:
    """Publish again what this sender's outbox sent to ``units`` at or after ``since``.

    The rows are marked unsent; the running relay publishes them again (its outbox read, within
    its poll interval), signed afresh, under their own message ids. A receiver restored from a
    backup taken at ``since`` or later applies those its inbox no longer remembers and drops the
    others as duplicates. Only rows still retained can come back: sent rows are kept for the
    relay's retention (``XUEJI_OUTBOX_SENT_RETENTION``). Returns the number of rows (to be)
    re-sent.
    """
    if since.tzinfo is None:
        raise ValueError("since must carry a time zone")
    return asyncio.run(_resend(database_url, units, since, dry_run))
