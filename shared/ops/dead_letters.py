"""Dead letters of one instance (``xueji.<instance>.dead``): look at them, replay the fixed ones.

Browsing a queue without consuming it for good: every message is fetched with ``basic.get``
and left unacknowledged; when the browse ends, the channel is closed and the broker returns
the unacknowledged messages to the queue, in their order. (A return by channel closure, unlike
a ``nack`` with requeue, is not counted as a failed delivery against a quorum queue's delivery
limit on RabbitMQ 4.) Messages held unacknowledged are invisible to other readers meanwhile;
nothing else reads a dead-letter queue.

Replay republishes each chosen dead letter to ``xueji.events`` with its original routing key,
persistent, ``mandatory``, with a publisher confirm, and without the failure headers (and
without ``x-attempt``, so the consumer starts counting attempts afresh); only after the
confirm is the dead letter acknowledged off the dead queue. A replay that dies between the two
leaves the dead letter in place: replaying it again is harmless, the consumer's inbox applies
a message id once.

Signed messages (docs/decisions/0013-signed-messages.md): a replay keeps the sender's
signature (the body is republished byte for byte) and, given the dead letter's instance's own
signing key, adds a ``xueji-replay`` attestation so that the receiver measures the message's
age from the replay, not from its first publication. Without the key, a dead letter older than
the receivers' window (72 h by default) is refused again as expired.

Replay cannot launder (decision 0025):

- The inbox forgets applied messages after its retention (30 days by default,
  ``XUEJI_INBOX_RETENTION``). A dead letter *signed* longer ago than that, less a day, is kept
  unless the operator forces it: what it carries that did apply (the other envelopes of a
  bundle, decision 0021) would no longer be recognised, and would apply twice. The age is the
  signature's own time (``xueji-sig``), never when the letter was dead-lettered or last
  replayed, which anyone re-queuing it could make recent.
- A security refusal (``x-security-refusal``, or a reason ``security: …``: expired, forged,
  a sender not allowed …) is never replayed — so never renewed with the instance's key —
  unless the operator forces it *and* gives a reason; each such replay is written to the
  audit trail of the instance's database first (no audit entry, no replay).
- Every letter kept is reported with why.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker, NackError, UnroutableError

from shared.federation.config import UnitRef
from shared.messaging.consumer import (
    ATTEMPT_HEADER,
    DEFAULT_INBOX_RETENTION,
    REASON_HEADER,
    SECURITY_HEADER,
)
from shared.messaging.envelope import current_routing_key, routing_key_for
from shared.messaging.signing import REPLAY_HEADER, SIGNATURE_HEADER, Signer
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.ops.federation import OpsError

# What the consumer (and the broker, for a delivery-limit dead letter) adds when it gives up.
FAILURE_HEADERS = frozenset(
    {
        REASON_HEADER,
        SECURITY_HEADER,
        "x-failed-at",
        "x-failed-by",
        "x-original-routing-key",
        "x-original-exchange",
        ATTEMPT_HEADER,
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-delivery-count",
    }
)


def dead_queue(instance: str) -> str:
    return f"xueji.{instance}.dead"


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as the operator sees it (``body``/``headers`` kept for tools and tests)."""

    message_id: str
    type: str
    source: str
    target: str
    failed_at: str
    failed_by: str
    reason: str
    routing_key: str | None  # where a replay publishes it; None: cannot be replayed
    # the message ids of the envelopes it carries: a bundle's (decision 0021) go by its first
    envelope_ids: tuple[str, ...]
    # when its sender signed it (xueji-sig), None if unsigned or unreadable
    signed_at: datetime | None = None
    # the security refusal it was dead-lettered for (e.g. expired), None for any other failure
    security: str | None = None
    body: bytes = field(repr=False, default=b"")
    headers: dict[str, Any] = field(repr=False, default_factory=dict)
    properties: pika.BasicProperties = field(repr=False, default_factory=pika.BasicProperties)

    def summary(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("body", "headers", "properties"):
            row.pop(key)
        row["signed_at"] = self.signed_at.isoformat() if self.signed_at else None
        return row


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # message id -> why it stayed
    not_found: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)  # security refusals replayed, audited


# A security refusal named in a reason (a bundle's is prefixed by its envelope).
_SECURITY_REASON = re.compile(r"(?:^|: )security: ([a-z_]+): ")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def original_routing_key(headers: dict[str, Any], body: bytes) -> str | None:
    """The ``xueji.events`` routing key the message was first published with.

    ``x-original-routing-key`` is that key only when the failing delivery came from
    ``xueji.events``; a delivery that came back from a retry delay queue arrived through
    ``xueji.retry`` under the instance's requeue key. Then the key is the envelope's
    (``<tier>.<code>.<type>``, a school's ``school.<area>.<code>.<type>``), or the broker's
    ``x-death`` record for a delivery-limit dead letter. A key of before decision 0045 comes
    back in today's form.
    """
    if _text(headers.get("x-original-exchange")) == EVENTS_EXCHANGE:
        key = _text(headers.get("x-original-routing-key"))
        if key:
            return current_routing_key(key)  # a letter from before decision 0045: today's key
    for death in headers.get("x-death") or []:
        if _text(death.get("exchange")) == EVENTS_EXCHANGE and death.get("routing-keys"):
            return current_routing_key(_text(death["routing-keys"][0]))
    try:
        envelope = _first_envelope(body)
        return routing_key_for(UnitRef.model_validate(envelope["target"]), str(envelope["type"]))
    except (ValueError, KeyError, TypeError, IndexError):  # ValidationError is a ValueError
        return None


def _first_envelope(body: bytes) -> Any:
    """The envelope, or a bundle's first (a bundle's envelopes share target and type)."""
    data = json.loads(body)
    return data[0] if isinstance(data, list) else data


def _envelope_ids(body: bytes, message_id: str) -> tuple[str, ...]:
    """The ids of a bundle's envelopes; of anything else, the delivery's own message id."""
    try:
        data = json.loads(body)
    except ValueError:
        return (message_id,)
    if not isinstance(data, list):
        return (message_id,)
    ids = [str(e["message_id"]) for e in data if isinstance(e, dict) and "message_id" in e]
    return tuple(ids) or (message_id,)


def _envelope_units(body: bytes) -> tuple[str, str]:
    """Source and target as the envelope names them (blank when the body is not an envelope)."""
    try:
        envelope = _first_envelope(body)
        return (
            str(UnitRef.model_validate(envelope["source"])),
            str(UnitRef.model_validate(envelope["target"])),
        )
    except (ValueError, KeyError, TypeError, IndexError):
        return "", ""


def _signed_at(headers: dict[str, Any]) -> datetime | None:
    """When the sender signed the message, from its ``xueji-sig`` header."""
    parts = _text(headers.get(SIGNATURE_HEADER)).split(";")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 15:
        return None
    return datetime.fromtimestamp(int(parts[1]) / 1000, UTC)


def _security(headers: dict[str, Any], reason: str) -> str | None:
    code = _text(headers.get(SECURITY_HEADER))
    if code:
        return code
    found = _SECURITY_REASON.search(reason)
    return found.group(1) if found else None


def _dead_letter(properties: pika.BasicProperties, body: bytes) -> DeadLetter:
    headers = dict(properties.headers or {})
    source, target = _envelope_units(body)
    message_id = _text(properties.message_id)
    reason = _text(headers.get(REASON_HEADER)) or _text(headers.get("x-first-death-reason")) or "?"
    return DeadLetter(
        message_id=message_id,
        type=_text(properties.type) or "?",
        source=source,
        target=target,
        failed_at=_text(headers.get("x-failed-at")),
        failed_by=_text(headers.get("x-failed-by")),
        reason=reason,
        routing_key=original_routing_key(headers, body),
        envelope_ids=_envelope_ids(body, message_id),
        signed_at=_signed_at(headers),
        security=_security(headers, reason),
        body=body,
        headers=headers,
        properties=properties,
    )


@contextlib.contextmanager
def _connection(amqp_url: str) -> Iterator[pika.BlockingConnection]:
    parameters = pika.URLParameters(amqp_url)
    parameters.client_properties = {"connection_name": "xueji-ops"}
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as exc:
        raise OpsError(f"cannot connect to the broker: {exc!r}") from exc
    try:
        yield connection
    finally:
        if connection.is_open:
            connection.close()


def _check_queue(connection: pika.BlockingConnection, queue: str) -> int:
    """How many messages ``queue`` holds; OpsError if it does not exist."""
    channel = connection.channel()
    try:
        declared = channel.queue_declare(queue, passive=True)
    except ChannelClosedByBroker as exc:
        raise OpsError(f"no queue {queue} on this broker (is the instance name right?)") from exc
    count = int(declared.method.message_count)
    channel.close()
    return count


def _browse(
    channel: BlockingChannel,
    queue: str,
    visit: Callable[[int, DeadLetter], None],
    limit: int | None,
) -> int:
    """Call ``visit(delivery tag, dead letter)`` for each message, leaving all unacknowledged."""
    seen = 0
    while limit is None or seen < limit:
        method, properties, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            break
        seen += 1
        visit(method.delivery_tag, _dead_letter(properties, body))
    return seen


def list_dead_letters(
    amqp_url: str, instance: str, *, limit: int | None = None
) -> list[DeadLetter]:
    """The dead letters of ``instance``, oldest first; the queue is left as it was."""
    queue = dead_queue(instance)
    found: list[DeadLetter] = []
    with _connection(amqp_url) as connection:
        _check_queue(connection, queue)
        channel = connection.channel()
        _browse(channel, queue, lambda _tag, letter: found.append(letter), limit)
        channel.close()  # the broker returns every unacknowledged message to the queue
    return found


def replay_headers(headers: dict[str, Any], signer: Signer | None = None) -> dict[str, Any]:
    cleaned = {k: v for k, v in headers.items() if k not in FAILURE_HEADERS}
    cleaned["x-replayed-at"] = datetime.now(UTC).isoformat()
    signature = cleaned.get(SIGNATURE_HEADER)
    if signer is not None and signature is not None:
        cleaned[REPLAY_HEADER] = signer.attest_replay(_text(signature))
    return cleaned


def _republish(
    channel: BlockingChannel, letter: DeadLetter, routing_key: str, signer: Signer | None
) -> None:
    source = letter.properties
    properties = pika.BasicProperties(
        content_type=source.content_type,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=source.message_id,
        type=source.type,
        correlation_id=source.correlation_id,
        timestamp=source.timestamp,
        headers=replay_headers(letter.headers, signer),
    )
    channel.basic_publish(EVENTS_EXCHANGE, routing_key, letter.body, properties, mandatory=True)


def _beyond_the_inbox(letter: DeadLetter, retention: timedelta, now: datetime) -> str | None:
    """Why replaying ``letter`` could apply something twice, if it could: judged by when it was
    signed (only an unsigned letter, which is a security refusal anyway, by when it failed)."""
    since, what = letter.signed_at, "signed"
    if since is None:
        since, what = _failed_at(letter), "failed"
    if since is None or now - since <= retention - timedelta(days=1):
        return None
    return (
        f"{what} {(now - since).days} days ago, near or past the inbox's memory"
        f" ({retention.days} days): what it carries that did apply would apply again;"
        " check, then replay with --force"
    )


def _failed_at(letter: DeadLetter) -> datetime | None:
    try:
        failed_at = datetime.fromisoformat(letter.failed_at)
    except ValueError:
        return None  # not failed by our consumer (e.g. the broker's delivery limit): no date
    return failed_at.replace(tzinfo=UTC) if failed_at.tzinfo is None else failed_at


def _security_hold(letter: DeadLetter, forced: bool) -> str | None:
    """Why a security refusal stays, unless forced with a reason (and then audited)."""
    if letter.security is None or forced:
        return None
    return (
        f"security refusal ({letter.security}): the receiver refused who sent it, to whom or "
        "when; it is never replayed (nor renewed) without --force and --reason, which is audited"
    )


# Records a forced replay of a security refusal (the audit trail) before it is republished.
AuditForced = Callable[[DeadLetter, str], None]


def replay_dead_letters(
    amqp_url: str,
    instance: str,
    *,
    message_ids: Collection[str] | None = None,
    signer: Signer | None = None,
    inbox_retention: timedelta = DEFAULT_INBOX_RETENTION,
    force: bool = False,
    reason: str | None = None,
    audit: AuditForced | None = None,
    now: datetime | None = None,
) -> ReplayReport:
    """Republish the chosen dead letters of ``instance`` (all when ``message_ids`` is None;
    a bundle is chosen by the id of any envelope it carries, and replayed whole: the inbox
    skips those of its envelopes that did apply).

    ``signer``: ``instance``'s own signing key, attesting the replay (renews the message's age).
    ``inbox_retention``: the instance's; a letter signed before the inbox's memory (less a
    day) is kept unless ``force``.
    ``reason`` and ``audit``: a security refusal is replayed only when forced with a reason,
    and ``audit(letter, reason)`` records it first (it raises, nothing is replayed).

    A dead letter is acknowledged off the dead queue only after its republication is
    confirmed; one that cannot be routed (or is refused) stays, with the reason in the report.
    """
    queue = dead_queue(instance)
    wanted = None if message_ids is None else set(message_ids)
    why = (reason or "").strip()
    may_force_security = force and bool(why) and audit is not None
    report = ReplayReport()
    found: set[str] = set()  # envelope ids of the letters replayed
    with _connection(amqp_url) as connection:
        _check_queue(connection, queue)
        publisher = connection.channel()
        publisher.confirm_delivery()
        browser = connection.channel()

        def visit(tag: int, letter: DeadLetter) -> None:
            if wanted is not None and wanted.isdisjoint((letter.message_id, *letter.envelope_ids)):
                return
            if letter.message_id in report.replayed:  # refused again meanwhile: a new letter
                return
            if letter.routing_key is None:
                report.refused[letter.message_id] = "no routing key (the body is not an envelope)"
                return
            forgotten = _beyond_the_inbox(letter, inbox_retention, now or datetime.now(UTC))
            held = [
                hold
                for hold in (
                    _security_hold(letter, may_force_security),
                    None if force else forgotten,
                )
                if hold
            ]
            if held:
                report.refused[letter.message_id] = "; ".join(held)
                return
            if letter.security is not None:
                assert audit is not None
                audit(letter, why)  # before it leaves: no audit entry, no replay
                report.forced.append(letter.message_id)
            try:
                _republish(publisher, letter, letter.routing_key, signer)
            except UnroutableError:
                report.refused[letter.message_id] = f"unroutable: {letter.routing_key}"
                return
            except NackError:
                report.refused[letter.message_id] = "refused by the broker"
                return
            browser.basic_ack(tag)
            report.replayed.append(letter.message_id)
            found.update(letter.envelope_ids)

        _browse(browser, queue, visit, None)
        browser.close()  # returns the dead letters not replayed
        publisher.close()
    if wanted is not None:
        done = set(report.replayed) | set(report.refused) | found
        report.not_found = sorted(wanted - done)
    return report


@dataclass
class DiscardReport:
    discarded: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)


# Records a discard in the instance's audit trail before the dead letter is removed.
AuditDiscard = Callable[[DeadLetter, str], None]


def discard_dead_letters(
    amqp_url: str,
    instance: str,
    *,
    message_ids: Collection[str],
    reason: str,
    audit: AuditDiscard,
) -> DiscardReport:
    """Remove the named dead letters of ``instance`` for good (a bundle by the id of any
    envelope it carries, whole), each recorded first with ``audit(letter, reason)``: what the
    message carried is never applied at the receiver, so the reason and who decided it stay in
    its audit trail. Only named letters: there is no "discard all"."""
    wanted = set(message_ids)
    why = reason.strip()
    if not wanted:
        raise OpsError("name the dead letters to discard (--message-id)")
    if not why:
        raise OpsError("a discard needs --reason (written to the instance's audit trail)")
    report = DiscardReport()
    found: set[str] = set()
    with _connection(amqp_url) as connection:
        _check_queue(connection, dead_queue(instance))
        browser = connection.channel()

        def visit(tag: int, letter: DeadLetter) -> None:
            if wanted.isdisjoint((letter.message_id, *letter.envelope_ids)):
                return
            audit(letter, why)  # before it goes: no audit entry, no discard
            browser.basic_ack(tag)
            report.discarded.append(letter.message_id)
            found.update((letter.message_id, *letter.envelope_ids))

        _browse(browser, dead_queue(instance), visit, None)
        browser.close()  # returns the dead letters not discarded
    report.not_found = sorted(wanted - found)
    return report
