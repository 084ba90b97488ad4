"""How one trace crosses the outbox and the broker.

1. At emit time :func:`shared.messaging.envelope.build_envelope` captures the active span's W3C
   context into ``envelope.trace_context``; :func:`shared.messaging.outbox.stage` stores it in
   the outbox row's headers. (A handler's emit runs inside the CONSUMER span below, a request's
   inside its server span.)
2. The relay publishes each row under a PRODUCER span whose parent is that stored context, and
   replaces the ``traceparent`` header with the PRODUCER span's own (:func:`producer_span`).
3. The consumer applies each message under a CONSUMER span whose parent is the ``traceparent``
   header, falling back to the envelope's context for a message that did not come through a
   relay (:func:`consumer_span`) — one span per message, also inside a batch transaction.

So a flow school → county → national → province is one trace whose parent links run
emit → send → process → send → process … whatever the time a row spent in an outbox.
With tracing off every function here is a cheap no-op (the API's non-recording spans).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from shared.messaging.envelope import Envelope

TRACER_NAME = "xueji.messaging"
TRACE_HEADERS = ("traceparent", "tracestate")


def tracing_enabled() -> bool:
    """Whether a real tracer provider is installed (the API's default records nothing)."""
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def _tracer() -> trace.Tracer:
    # Looked up each time: follows whatever provider the process has now (tests switch it).
    return trace.get_tracer(TRACER_NAME)


def trace_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """The W3C trace-context entries of AMQP or outbox headers, as text."""
    found: dict[str, str] = {}
    for key in TRACE_HEADERS:
        value = (headers or {}).get(key)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and value:
            found[key] = value
    return found


def parent_context(headers: Mapping[str, Any] | None, envelope: Envelope | None = None) -> Context:
    """The context a message continues: its headers' (the PRODUCER span), else its envelope's."""
    carrier = trace_headers(headers) or (dict(envelope.trace_context) if envelope else {})
    return propagate.extract(carrier)


@contextmanager
def producer_span(
    *,
    message_id: str,
    message_type: str,
    routing_key: str,
    exchange: str,
    headers: Mapping[str, Any],
) -> Iterator[dict[str, Any]]:
    """A PRODUCER span for publishing one outbox row; yields the headers to publish with.

    The span's parent is the context stored with the row; the yielded headers carry the span
    itself, so the consumer's span becomes its child.
    """
    if not tracing_enabled():  # per-message cost matters on this path: skip the no-op span
        yield dict(headers)
        return
    with _tracer().start_as_current_span(
        f"send {message_type}",
        context=parent_context(headers),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": message_id,
            "xueji.message_type": message_type,
        },
    ):
        carried = dict(headers)
        propagate.inject(carried)
        yield carried


def _consumer_span_options(
    envelope: Envelope, headers: Mapping[str, Any] | None, queue: str, batch_size: int
) -> dict[str, Any]:
    return {
        "name": f"process {envelope.type}",
        "context": parent_context(headers, envelope),
        "kind": SpanKind.CONSUMER,
        "attributes": {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": str(envelope.message_id),
            "messaging.message.conversation_id": str(envelope.correlation_id),
            "messaging.batch.message_count": batch_size,
            "xueji.message_type": envelope.type,
            "xueji.source": str(envelope.source),
            "xueji.target": str(envelope.target),
        },
    }


@contextmanager
def consumer_span(
    envelope: Envelope, headers: Mapping[str, Any] | None, *, queue: str, batch_size: int
) -> Iterator[Span]:
    """A CONSUMER span around one message's handler, child of the PRODUCER span that sent it."""
    if not tracing_enabled():
        yield trace.INVALID_SPAN
        return
    options = _consumer_span_options(envelope, headers, queue, batch_size)
    with _tracer().start_as_current_span(options.pop("name"), **options) as span:
        yield span


@contextmanager
def consumer_spans(
    items: list[tuple[Envelope, Mapping[str, Any] | None]], *, queue: str, batch_size: int
) -> Iterator[list[dict[str, str] | None]]:
    """CONSUMER spans for messages applied together by one batch handler.

    No single span can be current for all of them, so each message gets its own span (child of
    its own PRODUCER span) and the yielded W3C contexts - one per message - are what the
    handler's emits carry, keeping every message's trace intact.
    """
    if not tracing_enabled():
        yield [None] * len(items)
        return
    spans = []
    for envelope, headers in items:
        options = _consumer_span_options(envelope, headers, queue, batch_size)
        spans.append(_tracer().start_span(options.pop("name"), **options))
    try:
        contexts: list[dict[str, str] | None] = []
        for span in spans:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            contexts.append(carrier)
        yield contexts
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()


def record_dead_letter(
    headers: Mapping[str, Any] | None, *, message_id: str, message_type: str, reason: str
) -> None:
    """A short error span in the message's trace: it was dead-lettered, and why."""
    span = _tracer().start_span(
        f"dead-letter {message_type}",
        context=parent_context(headers),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.message.id": message_id,
            "xueji.message_type": message_type,
            "xueji.failure_reason": reason[:200],
        },
    )
    span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
    span.end()
