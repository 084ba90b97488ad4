"""Audit anchors: each instance's chain head, signed with its key, kept by the level above.

Decision 0010 found a chain rewritten *and recomputed* (head included) only with an HMAC key
the database user lacks, or against a head recorded outside the database by an operator.
This records it outside without an operator (decision 0027):

- every ``XUEJI_AUDIT_ANCHOR_INTERVAL`` seconds (an hour by default) each instance reads its
  head and, when it moved, signs ``(instance, seq, hash, anchored_at)`` with its Ed25519
  signing key and sends ``audit.anchored`` through its outbox to the level above of its units
  (:func:`anchor_targets`): one message per target, staged in one transaction;
- the receiver checks the anchor's signature against the trust file (the key must be the
  named instance's) and keeps it in ``kernel_audit_anchor``, in its own database;
- ``xueji-ops audit verify`` reads the latest anchor of the instance from the databases above
  it (or every database of a local federation), checks its signature and verifies the chain
  against it: an entry rewritten at or before the anchor, or a chain cut back below it, is
  found although the chain itself is consistent.

What is written after the last anchor is covered only from the next anchor on: the interval
bounds what an attacker with write access can rewrite undetected.

Before it signs a head, the instance verifies its own chain (with its audit key) from the head
it verified last round: the whole chain once after start, then only the entries added since.
A break is never anchored: the round stops, logs it, and ``broken`` holds it for
``xueji_audit_chain_broken`` (the XuejiAuditChainBroken alert) until a round finds the chain
whole again. The auditor's page asks for the same walk (:meth:`AuditAnchoring.chain_state`):
one walk at a time, each from the last head found whole.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.chain import Break, Verification, verify
from shared.audit.tables import audit_anchor
from shared.contracts.audit import AuditAnchored
from shared.db.engine import SessionFactory
from shared.federation.config import NATIONAL, Federation, Instance, Tier, UnitRef
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.signing import Signer, TrustStore
from shared.messaging.uow import UnitOfWork
from shared.runtime.periodic import Periodic

log = logging.getLogger(__name__)

_CONTEXT = b"xueji-anchor/1;"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signed_bytes(instance: str, seq: int, digest: str, anchored_at: datetime) -> bytes:
    moment = anchored_at.astimezone(UTC).isoformat(timespec="microseconds")
    return _CONTEXT + f"{instance};{seq};{digest};{moment}".encode()


def sign_anchor(
    signer: Signer, instance: str, seq: int, digest: str, at: datetime
) -> AuditAnchored:
    signature = signer.private_key.sign(_signed_bytes(instance, seq, digest, at))
    return AuditAnchored(
        instance=instance,
        seq=seq,
        hash=digest,
        anchored_at=at,
        key_id=signer.key_id,
        signature=_b64(signature),
    )


def anchor_problem(
    trust: TrustStore, instance: str, seq: int, digest: str, at: datetime, key_id: str, sig: str
) -> str | None:
    """Why an anchor is not the named instance's own, or None when it is."""
    key = trust.get(key_id)
    if key is None:
        return f"anchor signed by unknown key {key_id!r}"
    if key.instance != instance:
        return f"anchor of {instance} signed by {key.instance}'s key"
    try:
        raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        key.public_key.verify(raw, _signed_bytes(instance, seq, digest, _aware(at)))
    except (InvalidSignature, ValueError):
        return f"anchor {instance} {seq} does not match its signature"
    return None


def anchor_targets(federation: Federation, instance: Instance) -> list[tuple[UnitRef, UnitRef]]:
    """(source, target) per unit directly above the instance's units, each target once."""
    pairs: dict[UnitRef, UnitRef] = {}
    for code in instance.units:
        source = UnitRef(tier=instance.tier, code=code)
        above: list[UnitRef] = []
        if instance.tier == Tier.SCHOOL:
            school = federation.school(code)
            above = [school.authority_unit] if school is not None else []
        elif instance.tier == Tier.COUNTY:
            county = federation.county(code)
            above = [UnitRef(tier=Tier.PROVINCE, code=county.province)] if county else []
        elif instance.tier == Tier.PROVINCE:
            above = [NATIONAL]
        else:  # national keeps its anchors with every province
            above = [UnitRef(tier=Tier.PROVINCE, code=p.code) for p in federation.provinces]
        for target in above:
            pairs.setdefault(target, source)
    return [(source, target) for target, source in sorted(pairs.items(), key=lambda p: str(p[0]))]


@dataclass(frozen=True)
class ChainState:
    """What the last walk of the chain found, for the auditor's page."""

    head_seq: int
    verified_seq: int  # the last entry found whole (0: none yet)
    verified_at: datetime | None
    broken: Break | None
    running: bool  # a walk is under way (the first after a start runs in the background)
    pending: int = 0  # written, not chained yet (deferred chaining, decision 0048)


class AuditAnchoring:
    """The periodic task of one instance: anchor its head at the level above when it moved."""

    def __init__(
        self,
        *,
        instance: Instance,
        federation: Federation,
        sessions: SessionFactory,
        signer: Signer,
        interval: float,
        key: bytes | None = None,
    ) -> None:
        self.instance = instance
        self.targets = anchor_targets(federation, instance)
        self._sessions = sessions
        self._signer = signer
        self.interval = interval
        self._key = key  # the audit chain's HMAC key (XUEJI_AUDIT_KEY), to verify it
        self.anchored: tuple[int, str] | None = None  # the last head sent
        self.verified: tuple[int, str] | None = None  # the last head found whole
        self.broken: Break | None = None  # what the last verification found, if it failed
        self.verifications = {"ok": 0, "broken": 0}  # rounds by result, for /metrics
        self.verified_at: datetime | None = None
        self.head_seq = 0
        self.pending = 0  # entries not chained yet, as the last walk found
        self._walking = asyncio.Lock()  # one walk at a time: the round's or a page's
        self._first_walk: asyncio.Task[Verification] | None = None
        self._periodic = Periodic(f"{self.instance.name}-audit-anchors", self.anchor, interval)

    def start(self) -> None:
        if self.targets:
            self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def anchor(self) -> AuditAnchored | None:
        """Verify the chain up to its head, then send the head to the level above (nothing
        when it did not move, or when the chain is broken)."""
        checked = await self.walk()
        if checked.broken is not None:
            return None
        seq, digest = checked.head_seq, checked.head_hash
        if seq == 0 or self.anchored == (seq, digest):
            return None
        anchor = sign_anchor(self._signer, self.instance.name, seq, digest, datetime.now(UTC))
        async with UnitOfWork(self._sessions) as uow:
            for source, target in self.targets:
                await uow.emitter(source)(anchor, target=target)
            await uow.commit()
        self.anchored = (seq, digest)
        log.info("audit chain anchored at entry %d with %d units above", seq, len(self.targets))
        return anchor

    async def walk(self) -> Verification:
        """Verify the chain from the last head found whole up to the head (the whole chain the
        first time), and keep what it found."""
        async with self._walking, self._sessions() as session:
            since = self.verified if self.verified is not None and self.verified[0] > 0 else None
            checked = await verify(session, self._key, anchor=since, since_anchor=True)
            self.head_seq, self.verified_at = checked.head_seq, datetime.now(UTC)
            self.pending = checked.pending
            if checked.broken is not None:
                self.broken = checked.broken
                self.verifications["broken"] += 1
                log.error(
                    "audit chain broken at entry %d: %s; not anchored (xueji-ops audit verify)",
                    checked.broken.seq,
                    checked.broken.reason,
                )
                return checked
            self.broken = None
            self.verifications["ok"] += 1
            self.verified = (checked.head_seq, checked.head_hash)
            return checked

    async def chain_state(self) -> ChainState:
        """The chain verified up to its head now — or, while a walk runs (the whole chain's
        after a start runs in the background, whatever its length), what is known so far."""
        if self.verified is None and self.broken is None:
            if self._first_walk is None or self._first_walk.done():
                self._first_walk = asyncio.create_task(self.walk(), name="audit-chain-walk")
            await asyncio.wait({self._first_walk}, timeout=1.0)
        elif not self._walking.locked():
            await self.walk()
        return ChainState(
            head_seq=self.head_seq,
            verified_seq=self.verified[0] if self.verified else 0,
            verified_at=self.verified_at,
            broken=self.broken,
            running=self._walking.locked(),
            pending=self.pending,
        )


def register(handlers: HandlerRegistry, trust: TrustStore) -> None:
    """Keep the anchors the instances below send (every tier that has a level below)."""

    async def keep(contexts: Sequence[HandlerContext], payloads: Sequence[Any]) -> None:
        rows = []
        for ctx, anchor in zip(contexts, payloads, strict=True):
            problem = anchor_problem(
                trust,
                anchor.instance,
                anchor.seq,
                anchor.hash,
                anchor.anchored_at,
                anchor.key_id,
                anchor.signature,
            )
            key = trust.get(anchor.key_id)
            if problem is None and key is not None and not key.speaks_for(ctx.envelope.source):
                problem = f"{ctx.envelope.source} is not hosted by {anchor.instance}"
            if problem is not None:
                log.error("audit anchor refused: %s", problem)
                continue
            rows.append(
                {
                    "instance": anchor.instance,
                    "seq": anchor.seq,
                    "hash": anchor.hash,
                    "anchored_at": anchor.anchored_at,
                    "key_id": anchor.key_id,
                    "signature": anchor.signature,
                    "source_unit": str(ctx.envelope.source),
                    "received_at": datetime.now(UTC),
                }
            )
        if rows:
            await _insert_new(contexts[0].session, rows)

    handlers.register_many(AuditAnchored, keep)


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert anchors, skipping those already kept (one anchor reaches an instance once per
    unit above it that it hosts)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(audit_anchor).values(rows).on_conflict_do_nothing())


async def latest_anchor(
    session: AsyncSession, instance: str, trust: TrustStore | None
) -> tuple[tuple[int, str] | None, list[str]]:
    """The latest anchor of ``instance`` kept in this database whose signature holds (not
    checked without ``trust``), and the problems of the later ones that did not hold."""
    rows = (
        await session.execute(
            select(audit_anchor)
            .where(audit_anchor.c.instance == instance)
            .order_by(audit_anchor.c.seq.desc())
            .limit(20)
        )
    ).all()
    problems: list[str] = []
    for row in rows:
        problem = None
        if trust is not None:
            problem = anchor_problem(
                trust, instance, row.seq, row.hash, row.anchored_at, row.key_id, row.signature
            )
        if problem is None:
            return (int(row.seq), str(row.hash)), problems
        problems.append(problem)
    return None, problems


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
