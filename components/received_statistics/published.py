"""A publisher's mark of the periods it sent: the periodic run sends a period once (an
operator's explicit run sends it again; the receivers replace)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def was_published(session: AsyncSession, table: Table, unit: str, period: date) -> bool:
    found = await session.scalar(
        select(table.c.messages).where(table.c.unit == unit, table.c.period == period)
    )
    return found is not None


async def mark_published(
    session: AsyncSession, table: Table, unit: str, period: date, messages: int, at: datetime
) -> None:
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        unit=unit, period=period, messages=messages, published_at=at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["unit", "period"],
            set_={"messages": messages, "published_at": at},
        )
    )
