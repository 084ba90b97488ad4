"""The hash chain: an entry's canonical form, appending under the head's lock, verification.

``hash(n) = SHA-256(prev_hash(n) + "\\n" + canonical(n))`` where ``prev_hash(n) = hash(n-1)``
(``GENESIS`` for the first entry) and ``canonical`` is the entry's fields, ``seq`` included, as
sorted compact JSON. With a key (``XUEJI_AUDIT_KEY``) it is HMAC-SHA256 under that key, so
whoever can write the table but does not hold the key cannot recompute a rewritten chain.

Appending takes the head row ``FOR UPDATE`` in the caller's transaction: concurrent writers
queue on it, each sees the head its predecessor committed, and a transaction that rolls back
leaves neither an entry nor a moved head. The lock is taken last, just before commit, so it is
held for two statements and the commit.

Every writer of an instance queues on that one row until its commit is durable (the WAL flush
on PostgreSQL). Where that bounds the rate (decision 0048), chaining is deferred: a request
only inserts its entry into ``kernel_audit_pending`` (:func:`stage_many`, no lock), and one
chainer per database appends what is pending to the chain in batches moments later
(:func:`chain_pending`, from :mod:`shared.audit.chaining`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.audit.tables import GENESIS, audit_entry, audit_head, audit_pending


@dataclass(frozen=True)
class Entry:
    """One audited act: who (actor, unit, roles), from where, what, on which object, why."""

    at: datetime
    actor: str
    actor_unit: str
    actor_roles: str
    client_ip: str
    action: str
    object_type: str
    object_id: str | None
    unit_kind: str | None
    unit_code: str | None
    purpose: str | None
    outcome: str
    route: str


_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


def _fields_of(entry: Entry) -> dict[str, Any]:
    """An entry's fields (``dataclasses.asdict`` deep-copies every value: ~10x slower)."""
    return {name: getattr(entry, name) for name in _ENTRY_FIELDS}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def canonical(seq: int, entry: Entry) -> str:
    """The bytes the hash covers, identical whichever database the entry was read back from."""
    values = _fields_of(entry)
    values["at"] = _utc(entry.at).isoformat(timespec="microseconds")
    values["seq"] = seq
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def digest(prev_hash: str, seq: int, entry: Entry, key: bytes | None) -> str:
    message = f"{prev_hash}\n{canonical(seq, entry)}".encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def _bounded(entry: Entry) -> Entry:
    """Cut free-text fields to their columns (PostgreSQL would refuse, SQLite would not)."""
    return replace(
        entry,
        at=_utc(entry.at),
        actor=entry.actor[:60],
        actor_unit=entry.actor_unit[:40],
        actor_roles=entry.actor_roles[:120],
        client_ip=entry.client_ip[:64],
        object_id=entry.object_id[:80] if entry.object_id else entry.object_id,
        unit_kind=entry.unit_kind[:10] if entry.unit_kind else entry.unit_kind,
        unit_code=entry.unit_code[:12] if entry.unit_code else entry.unit_code,
        purpose=entry.purpose[:500] if entry.purpose else entry.purpose,
        outcome=entry.outcome[:120],
        route=entry.route[:200],
    )


# Built once (decision 0019): every audited request runs these three.
_LOCK_HEAD = (
    select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_INSERT_ENTRIES = audit_entry.insert()
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def append(session: Session, entry: Entry, key: bytes | None) -> int:
    """Chain ``entry`` after the head, in ``session``'s transaction; returns its ``seq``.

    Synchronous so that a ``before_commit`` hook can call it; async callers use
    ``await session.run_sync(append, entry, key)``.
    """
    return append_many(session, [entry], key)[-1]


def append_many(session: Session, entries: Sequence[Entry], key: bytes | None) -> list[int]:
    """Chain ``entries`` after the head in order, in ``session``'s transaction: one entry per
    act (e.g. each task of a bulk decision), written set-based — the head locked once, the
    entries inserted in one statement, the head moved once. Returns their ``seq``."""
    if not entries:
        return []
    head = session.execute(_LOCK_HEAD).one()
    return _append_after(session, (int(head.seq), str(head.hash)), entries, key)


def _append_after(
    session: Session, head: tuple[int, str], entries: Sequence[Entry], key: bytes | None
) -> list[int]:
    seq, prev_hash = head
    rows: list[dict[str, Any]] = []
    for entry in entries:
        entry = _bounded(entry)
        seq += 1
        entry_hash = digest(prev_hash, seq, entry, key)
        rows.append({"seq": seq, "prev_hash": prev_hash, "hash": entry_hash, **_fields_of(entry)})
        prev_hash = entry_hash
    session.execute(_INSERT_ENTRIES, rows)
    session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return [int(row["seq"]) for row in rows]


# -- deferred chaining (decision 0048) ------------------------------------------------------------

_INSERT_PENDING = audit_pending.insert()
_PENDING_BATCH = select(audit_pending).order_by(audit_pending.c.id).limit(bindparam("limit"))
PENDING_TAIL = select(func.count(), func.min(audit_pending.c.at))
_DELETE_PENDING = audit_pending.delete().where(
    audit_pending.c.id.in_(bindparam("ids", expanding=True))
)


def stage_many(session: Session, entries: Sequence[Entry]) -> None:
    """Write ``entries`` unchained, in ``session``'s transaction: one INSERT, no lock. They
    commit (or roll back) with the caller's change; the chainer links them after the commit."""
    if entries:
        session.execute(_INSERT_PENDING, [_fields_of(_bounded(entry)) for entry in entries])


def chain_pending(session: Session, key: bytes | None, limit: int = 1000) -> int:
    """Append up to ``limit`` pending entries to the chain in ``id`` order and delete them from
    the pending table, in ``session``'s transaction (the caller commits); returns how many.

    The head is locked *before* the pending rows are read: a second chainer (a replica whose
    lease lapsed) waits on it and then reads what the first left, so no entry is chained twice;
    a crash before the commit leaves the rows pending for the next round."""
    head = session.execute(_LOCK_HEAD).one()
    rows = session.execute(_PENDING_BATCH, {"limit": limit}).all()
    if not rows:
        return 0
    _append_after(session, (int(head.seq), str(head.hash)), [entry_of(r) for r in rows], key)
    session.execute(_DELETE_PENDING, {"ids": [int(r.id) for r in rows]})
    return len(rows)


# -- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    """What a walk of the chain found: entries checked, the head, and the first break."""

    entries: int
    head_seq: int
    head_hash: str
    broken: Break | None
    # Written but not chained yet (deferred chaining, decision 0048): the walk does not cover
    # them; they join the chain moments later, or the chainer is not running.
    pending: int = 0
    oldest_pending: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def entry_of(row: Any) -> Entry:
    return Entry(**{name: getattr(row, name) for name in Entry.__dataclass_fields__})


async def _rows(session: AsyncSession, after: int, last: int, chunk: int) -> AsyncIterator[Any]:
    """Entries after..``last`` in ``seq`` order, ``chunk`` at a time (keyset pages)."""
    while True:
        rows = (
            await session.execute(
                select(audit_entry)
                .where(audit_entry.c.seq > after, audit_entry.c.seq <= last)
                .order_by(audit_entry.c.seq)
                .limit(chunk)
            )
        ).all()
        for row in rows:
            yield row
        if len(rows) < chunk:
            return
        after = int(rows[-1].seq)


async def verify(
    session: AsyncSession,
    key: bytes | None,
    *,
    anchor: tuple[int, str] | None = None,
    since_anchor: bool = False,
    chunk: int = 5000,
) -> Verification:
    """Walk the chain up to the head; stop at the first entry that does not hold.

    Found: an edited entry (its hash), a deleted or reordered one (the ``seq`` sequence or the
    next entry's ``prev_hash``), a deleted tail (the chain ends before the head row), and —
    with ``anchor`` (a ``seq`` and ``hash`` recorded outside the database earlier) — a chain
    rewritten or cut back, head included, before that point. The head is read first, so
    entries a running service appends meanwhile are left for the next walk. Entries written
    but not chained yet (deferred chaining) are counted as ``pending``, not walked.

    ``since_anchor``: trust what an earlier walk verified up to ``anchor``; check that the
    anchored entry is still there, unchanged, and walk on from it (a periodic run then costs
    the entries added since, not the whole chain).
    """
    head = (await session.execute(select(audit_head).where(audit_head.c.id == 1))).one()
    head_seq, head_hash = int(head.seq), str(head.hash)
    pending, oldest = (await session.execute(PENDING_TAIL)).one()
    if oldest is not None:
        oldest = _utc(oldest)

    def result(count: int, broken: Break | None) -> Verification:
        return Verification(count, head_seq, head_hash, broken, int(pending), oldest)

    prev_hash, count = GENESIS, 0
    if anchor is not None and since_anchor:
        broken = await _anchored(session, key, anchor)
        if broken is not None:
            return result(0, broken)
        prev_hash, count = anchor[1], anchor[0]
    async for row in _rows(session, count, head_seq, chunk):
        seq = int(row.seq)
        if seq != count + 1:
            return result(count, Break(count + 1, f"entry {count + 1} is missing"))
        if row.prev_hash != prev_hash:
            return result(count, Break(seq, "does not follow the previous entry's hash"))
        if digest(prev_hash, seq, entry_of(row), key) != row.hash:
            reason = "its content does not match its hash (edited, or checked with a wrong key)"
            return result(count, Break(seq, reason))
        if anchor is not None and seq == anchor[0] and row.hash != anchor[1]:
            return result(count, Break(seq, "its hash differs from the anchored one"))
        prev_hash, count = row.hash, seq
    if count != head_seq or prev_hash != head_hash:
        reason = f"the head names entry {head_seq}; the chain ends at {count}"
        return result(count, Break(count + 1, reason))
    if anchor is not None and anchor[0] > count:
        reason = f"the anchored entry {anchor[0]} is gone: the chain ends at {count}"
        return result(count, Break(count + 1, reason))
    return result(count, None)


async def _anchored(
    session: AsyncSession, key: bytes | None, anchor: tuple[int, str]
) -> Break | None:
    """Is the anchored entry still in the chain, with its hash, and its content matching it?"""
    seq, anchored_hash = anchor
    row = (await session.execute(select(audit_entry).where(audit_entry.c.seq == seq))).one_or_none()
    if row is None:
        return Break(seq, f"the anchored entry {seq} is gone")
    if row.hash != anchored_hash:
        return Break(seq, "its hash differs from the anchored one")
    if digest(row.prev_hash, seq, entry_of(row), key) != row.hash:
        return Break(
            seq, "its content does not match its hash (edited, or checked with a wrong key)"
        )
    return None
