"""``xueji-ops audit verify``: walk a service database's audit chain, report the first break;
and the operator tools' own entries in that chain (:func:`record_forced_replay`).

Synchronous like the other operator tools: one ``asyncio.run`` through the services' own
async engine, so it reads SQLite and PostgreSQL with the same drivers.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from shared.audit.anchors import latest_anchor
from shared.audit.chain import Entry, Verification, append, verify
from shared.db.engine import make_engine, make_session_factory
from shared.federation.config import UnitRef
from shared.messaging.signing import TrustStore

REPLAY_ROUTE = "xueji-ops dead-letters replay"
DISCARD_ROUTE = "xueji-ops dead-letters discard"


async def _verify(
    database_url: str, key: bytes | None, anchor: tuple[int, str] | None, since_anchor: bool
) -> Verification:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            return await verify(session, key, anchor=anchor, since_anchor=since_anchor)
    finally:
        await engine.dispose()


def verify_chain(
    database_url: str,
    *,
    key: bytes | None = None,
    anchor: tuple[int, str] | None = None,
    since_anchor: bool = False,
) -> Verification:
    return asyncio.run(_verify(database_url, key, anchor, since_anchor))


async def _held_anchor(
    instance: str, database_urls: list[str], trust: TrustStore | None
) -> tuple[tuple[int, str] | None, list[str]]:
    best: tuple[int, str] | None = None
    problems: list[str] = []
    for url in database_urls:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as session:
                found, refused = await latest_anchor(session, instance, trust)
        finally:
            await engine.dispose()
        problems += refused
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    return best, problems


def held_anchor(
    instance: str, database_urls: list[str], trust: TrustStore | None
) -> tuple[tuple[int, str] | None, list[str]]:
    """The latest anchor of ``instance`` kept in the databases above it whose signature holds
    (shared/audit/anchors.py), and the problems of later ones that did not."""
    return asyncio.run(_held_anchor(instance, database_urls, trust))


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as printed by an earlier ``audit verify``."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"an anchor is SEQ:HASH (64 hex digits), not {text!r}")
    return int(seq), digest


class AnchorFile:
    """Heads recorded by earlier runs, one JSON line each: ``{"database", "seq", "hash", "at"}``.

    Kept outside the databases (another host, a write-once bucket): each run checks that the
    last head recorded for a database is still in its chain, then records the current one.
    Cutting a chain's tail and rewinding its head, or rewriting it whole, is found this way
    even without an HMAC key, back to the last run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def last(self, database: str) -> tuple[int, str] | None:
        if not self.path.exists():
            return None
        found = None
        for line in self.path.read_text().splitlines():
            record = json.loads(line)
            if record.get("database") == database:
                found = (int(record["seq"]), str(record["hash"]))
        return found

    def record(self, database: str, seq: int, digest: str) -> None:
        if self.last(database) == (seq, digest):
            return
        line = {
            "database": database,
            "seq": seq,
            "hash": digest,
            "at": datetime.now(UTC).isoformat(),
        }
        with self.path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")


async def _append(database_url: str, entry: Entry, key: bytes | None) -> int:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            return await session.run_sync(append, entry, key)
    finally:
        await engine.dispose()


def _operator_entry(
    *, operator: str, unit: str, action: str, message_id: str, reason: str, outcome: str, route: str
) -> Entry:
    try:
        target: UnitRef | None = UnitRef.parse(unit)
    except ValueError:
        target = None
    return Entry(
        at=datetime.now(UTC),
        actor=operator,
        actor_unit=unit or "?",
        actor_roles="operator",
        client_ip="xueji-ops",
        action=action,
        object_type="dead_letter",
        object_id=message_id,
        unit_kind=str(target.tier) if target else None,
        unit_code=target.code if target else None,
        purpose=reason,
        outcome=outcome,
        route=route,
    )


def record_forced_replay(
    database_url: str,
    *,
    operator: str,
    message_id: str,
    unit: str,
    refusal: str,
    reason: str,
    key: bytes | None = None,
) -> int:
    """Chain an entry for the forced replay of a security refusal into the instance's audit
    trail (the receiving unit's), with the operator's reason; returns its ``seq``."""
    entry = _operator_entry(
        operator=operator,
        unit=unit,
        action="replay_forced",
        message_id=message_id,
        reason=reason,
        outcome=f"security: {refusal}",
        route=REPLAY_ROUTE,
    )
    return asyncio.run(_append(database_url, entry, key))


def record_discard(
    database_url: str,
    *,
    operator: str,
    message_id: str,
    unit: str,
    failure: str,
    reason: str,
    key: bytes | None = None,
) -> int:
    """Chain an entry for a dead letter discarded for good (what it carried never applies at
    ``unit``), with the operator's reason and why it had failed; returns its ``seq``."""
    entry = _operator_entry(
        operator=operator,
        unit=unit,
        action="discard",
        message_id=message_id,
        reason=reason,
        outcome=f"dead letter: {failure}",
        route=DISCARD_ROUTE,
    )
    return asyncio.run(_append(database_url, entry, key))
