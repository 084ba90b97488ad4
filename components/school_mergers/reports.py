"""The merger's report: national's batches added up at the deciding authority."""

from __future__ import annotations

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.merger import SchoolMergedApplied
from shared.federation.config import NATIONAL, Federation, UnitRef
from shared.messaging.authorization import require_source
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.runtime.service import ServiceRuntime

REQUESTED = "requested"
APPLIED = "applied"


async def record_batch(
    session: AsyncSession,
    table: Table,
    federation: Federation,
    unit: UnitRef,
    applied: SchoolMergedApplied,
) -> None:
    """Add one batch to the report of the merger ``unit`` decided. ``unit`` told for another
    reason (the receiving school's authority, the province of the archives) has no row: the
    report is the decider's. A merger of a school ``unit`` is the authority of, unknown here,
    is a permanent error."""
    row = (
        await session.execute(
            select(table).where(
                table.c.merger_id == str(applied.merger_id),
                table.c.authority_unit == str(unit),
            )
        )
    ).first()
    if row is None:
        from_school = federation.school(applied.from_school)
        if from_school is not None and from_school.authority_unit != unit:
            return
        raise PermanentMessageError(f"merger {applied.merger_id} is not known here")
    refusals = list(row.refusals) + [r.model_dump(mode="json") for r in applied.refused]
    received = row.batches_received + 1
    await session.execute(
        update(table)
        .where(table.c.merger_id == str(applied.merger_id))
        .values(
            batches=applied.batches,
            batches_received=received,
            moved=row.moved + len(applied.moved),
            refused=row.refused + len(applied.refused),
            refusals=refusals,
            status=APPLIED if received >= applied.batches else REQUESTED,
            applied_at=applied.applied_at,
        )
    )


def register(handlers: HandlerRegistry, runtime: ServiceRuntime, table: Table) -> None:
    """National's batches of the mergers decided here (an instance whose units have no other
    use for ``school.merged_applied``: the county's)."""

    async def on_applied(ctx: HandlerContext, applied: SchoolMergedApplied) -> None:
        require_source(ctx, NATIONAL, "a school merger's outcome")
        await record_batch(ctx.session, table, runtime.federation, ctx.unit, applied)

    handlers.register(SchoolMergedApplied, on_applied)
