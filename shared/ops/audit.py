"""``xueji-ops audit verify``: walk a service database's audit chain, report the first break.

Synchronous like the other operator tools: one ``asyncio.run`` through the services' own
async engine, so it reads SQLite and PostgreSQL with the same drivers.
"""

from __future__ import annotations

import asyncio

from shared.audit.chain import Verification, verify
from shared.db.engine import make_engine, make_session_factory


async def _verify(
    database_url: str, key: bytes | None, anchor: tuple[int, str] | None
) -> Verification:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            return await verify(session, key, anchor=anchor)
    finally:
        await engine.dispose()


def verify_chain(
    database_url: str, *, key: bytes | None = None, anchor: tuple[int, str] | None = None
) -> Verification:
    return asyncio.run(_verify(database_url, key, anchor))


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as printed by an earlier ``audit verify``."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"an anchor is SEQ:HASH (64 hex digits), not {text!r}")
    return int(seq), digest
