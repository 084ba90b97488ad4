"""Token revocation across the federation: a sealed or locked account's tokens are refused by
every service within about ``interval`` seconds (10 by default), not when they expire.

An account lives with the instance hosting its unit; its tokens are verified wherever it
calls (its own instance, its county, province, national, a transfer's other school). So the
hosting instance *publishes* what it revoked and every instance listens (decision 0027):

- the accounts table records ``tokens_revoked_at`` (wall clock) when an account is sealed or
  locked (shared/security/accounts.py);
- every ``interval`` seconds each instance reads the accounts revoked within the horizon (the
  longest a token lives, plus the skew: older revocations concern no living token), and
  publishes those it has not published yet, one signed message per round, to the exchange
  ``xueji.revocations``, bound to the RabbitMQ *stream* of the same name (kept one hour).
  The broker's administrator declares both (devtools/broker_users.py, the broker overlay's
  ``exchanges.yaml``); an instance only looks them up, because its broker user may publish
  and read there but not configure, so it cannot delete the stream (decision 0025);
- every instance reads that stream from "now minus the horizon" at every (re)connection, so
  an instance that just started knows the revocations of the last quarter-hour too; it keeps
  ``(unit, username) -> revoked at`` in memory (entries expire with the horizon) and the token
  verifier refuses a token issued at or before that moment (shared/security/tokens.py);
- a message counts only if its signature verifies with a trusted key (``xueji-rev`` header:
  ``<key id>;<signature>`` over ``b"xueji-revocations/1;" + body``), and only for the units
  that key's instance hosts: an instance cannot revoke other instances' accounts.

The volume is one small message per instance per round *with* a revocation (sealing dormant
accounts is one statement and one message), read by every instance: what sealing and lockouts
produce, not what logins produce.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aiormq.exceptions import ChannelNotFoundEntity
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select

from shared.db.engine import SessionFactory
from shared.federation.config import UnitRef
from shared.messaging.connection import BrokerConnection
from shared.messaging.signing import Signer, TrustStore
from shared.runtime.periodic import Periodic
from shared.security.tables import account

log = logging.getLogger(__name__)

EXCHANGE = "xueji.revocations"
STREAM = "xueji.revocations"
STREAM_MAX_AGE = "3600s"
HEADER = "xueji-rev"
_CONTEXT = b"xueji-revocations/1;"

Entry = tuple[str, str, float]  # unit "tier:code", username, revoked at (epoch seconds)


class RevocationList:
    """What this instance knows of revoked accounts, everywhere in the federation."""

    def __init__(self, horizon: timedelta, clock: Callable[[], float] = time.time) -> None:
        self.horizon = horizon.total_seconds()
        self.clock = clock
        self._revoked: dict[tuple[str, str], float] = {}

    def revoked_at(self, unit: str, username: str) -> float | None:
        return self._revoked.get((unit, username))

    def record(self, entries: Iterable[Entry]) -> int:
        cutoff = self.clock() - self.horizon
        count = 0
        for unit, username, at in entries:
            key = (unit, username)
            if at > cutoff and at > self._revoked.get(key, 0.0):
                self._revoked[key] = at
                count += 1
        if len(self._revoked) > 1024:  # forget what no living token can concern any more
            self._revoked = {k: at for k, at in self._revoked.items() if at > cutoff}
        return count

    def __len__(self) -> int:
        return len(self._revoked)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode(signer: Signer, instance: str, entries: Iterable[Entry]) -> tuple[bytes, str]:
    """The body and the ``xueji-rev`` header of one round's revocations."""
    body = json.dumps(
        {"instance": instance, "revoked": [list(entry) for entry in entries]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    signature = signer.private_key.sign(_CONTEXT + body)
    return body, f"{signer.key_id};{_b64(signature)}"


def decode(trust: TrustStore, body: bytes, header: Any) -> list[Entry]:
    """The entries of a revocation message its signer may revoke; ValueError if forged."""
    if isinstance(header, bytes):
        header = header.decode("ascii", "replace")
    key_id, _, signature = str(header).partition(";")
    key = trust.get(key_id)
    if key is None:
        raise ValueError(f"revocations signed by unknown key {key_id!r}")
    try:
        key.public_key.verify(
            base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), _CONTEXT + body
        )
    except (InvalidSignature, ValueError) as exc:
        raise ValueError(f"revocations with a bad signature by key {key_id!r}") from exc
    entries: list[Entry] = []
    for unit, username, at in json.loads(body)["revoked"]:
        if key.speaks_for(UnitRef.parse(str(unit))):
            entries.append((str(unit), str(username), float(at)))
        else:
            log.warning("key %s may not revoke accounts of %s: ignored", key_id, unit)
    return entries


class RevocationBroadcast:
    """Publishes this instance's revocations and listens to everyone's."""

    def __init__(
        self,
        *,
        instance: str,
        sessions: SessionFactory,
        broker: BrokerConnection,
        signer: Signer,
        trust: TrustStore,
        revocations: RevocationList,
        interval: float,
    ) -> None:
        self.instance = instance
        self._sessions = sessions
        self._broker = broker
        self._signer = signer
        self._trust = trust
        self.revocations = revocations
        self.interval = interval
        self._published: dict[tuple[str, str], float] = {}
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._periodic = Periodic(f"{instance}-token-revocations", self.publish, interval)
        self.received = 0
        self.refused = 0
        broker.on_connected(self._attach)

    async def _attach(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        self._broker.watch_channel(channel)
        await channel.set_qos(prefetch_count=500)  # a stream is read with manual acks
        exchange, stream = await look_up(connection, channel)
        await stream.bind(exchange)
        since = datetime.fromtimestamp(time.time() - self.revocations.horizon, UTC)
        await stream.consume(self._receive, arguments={"x-stream-offset": since})
        self._exchange = exchange

    async def _receive(self, message: AbstractIncomingMessage) -> None:
        try:
            entries = decode(self._trust, message.body, (message.headers or {}).get(HEADER))
        except (ValueError, KeyError, TypeError) as exc:
            self.refused += 1
            log.error("revocations refused: %s", exc)
        else:
            self.received += self.revocations.record(entries)
        await message.ack()

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def publish(self) -> int:
        """Publish the revocations within the horizon not published yet; how many."""
        now = time.time()
        cutoff = datetime.fromtimestamp(now - self.revocations.horizon, UTC)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        account.c.unit_tier,
                        account.c.unit_code,
                        account.c.username,
                        account.c.tokens_revoked_at,
                    ).where(account.c.tokens_revoked_at > cutoff)
                )
            ).all()
        fresh: list[Entry] = []
        for row in rows:
            at = _aware(row.tokens_revoked_at).timestamp()
            key = (f"{row.unit_tier}:{row.unit_code}", str(row.username))
            if self._published.get(key) != at:
                fresh.append((key[0], key[1], at))
        if not fresh:
            return 0
        self.revocations.record(fresh)  # this instance's own verifier at once
        if self._exchange is None:
            raise RuntimeError("not connected to the broker")
        body, header = encode(self._signer, self.instance, fresh)
        await self._exchange.publish(
            aio_pika.Message(
                body,
                headers={HEADER: header},
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="",
        )
        for unit, username, at in fresh:
            self._published[(unit, username)] = at
        cutoff_s = now - self.revocations.horizon
        self._published = {k: at for k, at in self._published.items() if at > cutoff_s}
        log.info("published %d token revocations", len(fresh))
        return len(fresh)


STREAM_ARGUMENTS: dict[str, Any] = {"x-queue-type": "stream", "x-max-age": STREAM_MAX_AGE}


async def look_up(
    connection: AbstractConnection, channel: AbstractChannel
) -> tuple[AbstractExchange, AbstractQueue]:
    """The exchange and the stream, looked up passively: an instance's broker user may not
    configure them (decision 0025), the broker's administrator declared them. Declared here
    only when missing (a development broker, reached with an account that may)."""
    probe = await connection.channel(publisher_confirms=False)
    try:
        await probe.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, passive=True)
        await probe.declare_queue(STREAM, passive=True)
    except ChannelNotFoundEntity:
        return (
            await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True),
            await channel.declare_queue(STREAM, durable=True, arguments=STREAM_ARGUMENTS),
        )
    finally:
        with contextlib.suppress(Exception):
            await probe.close()
    return (
        await channel.get_exchange(EXCHANGE, ensure=False),
        await channel.get_queue(STREAM, ensure=False),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
