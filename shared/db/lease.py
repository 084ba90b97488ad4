"""One runner at a time for a periodic job, across the replicas of an instance.

Replicas of an instance (several processes on one database, consuming the same queues) each
run the instance's periodic jobs. Every job is safe to run twice (a sweep marks the rows it
sends for in the statement that selects them, decision 0044), but two runs at once collide
(the second waits on the first's row locks, or fails on a unique key and is retried) and
double the work. :func:`try_lease` takes a PostgreSQL *transaction-level advisory lock* named
after the job: the replica that gets it runs the round, the others skip it; the lock ends with
the transaction (commit, rollback, or the connection dying with a killed replica), so there is
nothing to expire or clean up.

SQLite is the embedded, single-process database (decision 0002): one process, no lease needed.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_TRY = text("SELECT pg_try_advisory_xact_lock(:namespace, :key)")
# The first key of the two-int form: the project's own advisory locks, apart from anyone else's.
NAMESPACE = 0x58554A49 & 0x7FFFFFFF  # "XUJI"


def lease_key(name: str) -> int:
    """A stable 32-bit signed key for a job's name."""
    value = zlib.crc32(name.encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value


async def try_lease(session: AsyncSession, name: str) -> bool:
    """True if this transaction now holds job ``name``'s lease (always True on SQLite); held
    until the transaction ends. Call first in the job's transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    held = await session.scalar(_TRY, {"namespace": NAMESPACE, "key": lease_key(name)})
    return bool(held)
