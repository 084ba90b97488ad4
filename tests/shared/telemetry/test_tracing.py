"""One trace across services: through the outbox, the broker and each consumer's inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.federation.config import UnitRef
from shared.messaging.envelope import build_envelope, routing_key_for
from shared.messaging.handlers import HandlerContext
from tests.shared.messaging.harness import Effect, Node, eventually, random_unit, unique_name


class HopNode(Node):
    """A harness node whose handler passes every effect on to ``next_hop`` (if set)."""

    next_hop: UnitRef | None = None

    async def _apply_effect(self, ctx: HandlerContext, effect: Effect) -> None:
        await super()._apply_effect(ctx, effect)
        if self.next_hop is not None:
            await ctx.emit(Effect(key=effect.key), target=self.next_hop)


@pytest.fixture
async def chain(tmp_path: Path, amqp_url: str) -> AsyncIterator[tuple[HopNode, HopNode, HopNode]]:
    nodes = [
        HopNode(
            unique_name(f"trace-{n}"),
            random_unit(),
            f"sqlite+aiosqlite:///{tmp_path / n}.db",
            amqp_url,
        )
        for n in ("a", "b", "c")
    ]
    a, b, c = nodes
    b.next_hop = c.unit
    for node in nodes:  # each trusts the others' signing keys
        node.trusted = [other.trusted_key for other in nodes if other is not node]
    for node in nodes:
        await node.start(consumer=node is not a)
    try:
        yield a, b, c
    finally:
        for node in nodes:
            await node.stop()


def by_id(spans: Sequence[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans}


def parent_of(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    return spans[span.parent.span_id]


def of_kind(spans: Sequence[ReadableSpan], kind: SpanKind, key: str) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind == kind and s.attributes and s.attributes.get("xueji.message_type") == key
    ]


@pytest.mark.broker
async def test_a_multi_hop_flow_is_one_trace_with_intact_parent_links(
    spans: InMemorySpanExporter, chain: tuple[HopNode, HopNode, HopNode]
) -> None:
    a, b, c = chain
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("request at A") as root:
        (sent,) = await a.send(Effect(key="hop"), target=b.unit)
    root_trace_id = f"{root.get_span_context().trace_id:032x}"
    assert sent.trace_context["traceparent"].split("-")[1] == root_trace_id

    async def c_applied() -> bool:
        return (await c.effect_counts()).get("hop") == 1

    await eventually(c_applied)
    finished = spans.get_finished_spans()
    index = by_id(finished)
    process_c = next(
        s
        for s in finished
        if s.kind == SpanKind.CONSUMER
        and s.attributes["messaging.destination.name"] == c.topology.queue_name
    )
    # walk up from C to the root: process C <- send (B's relay) <- process B <- send (A's relay)
    send_b = parent_of(process_c, index)
    process_b = parent_of(send_b, index)
    send_a = parent_of(process_b, index)
    top = parent_of(send_a, index)
    assert [s.kind for s in (process_c, send_b, process_b, send_a)] == [
        SpanKind.CONSUMER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.PRODUCER,
    ]
    assert process_b.attributes["messaging.destination.name"] == b.topology.queue_name
    assert send_a.attributes["messaging.rabbitmq.destination.routing_key"].startswith(
        routing_key_for(b.unit, "")
    )
    assert send_b.attributes["messaging.rabbitmq.destination.routing_key"].startswith(
        routing_key_for(c.unit, "")
    )
    assert top.context.span_id == root.get_span_context().span_id
    assert {s.context.trace_id for s in (process_c, send_b, process_b, send_a, top)} == {
        root.get_span_context().trace_id
    }
    # the message B emitted is the one C processed, and it names its cause
    assert process_c.attributes["messaging.message.conversation_id"] == str(sent.correlation_id)


@pytest.mark.broker
async def test_each_message_of_a_consumer_batch_gets_its_own_span_under_its_own_trace(
    spans: InMemorySpanExporter, tmp_path: Path, amqp_url: str
) -> None:
    sender = await Node(
        unique_name("trace-s"), random_unit(), f"sqlite+aiosqlite:///{tmp_path}/s.db", amqp_url
    ).start(consumer=False)
    receiver = Node(
        unique_name("trace-r"),
        random_unit(),
        f"sqlite+aiosqlite:///{tmp_path}/r.db",
        amqp_url,
        trusted=[sender.trusted_key],
    )
    await receiver.start(consumer=False)  # the messages pile up, then arrive as one batch
    try:
        tracer = trace.get_tracer("test")
        roots = {}
        envelopes = []
        for n in range(5):
            with tracer.start_as_current_span(f"request {n}") as root:
                envelopes.append(sender.envelope(Effect(key=f"m{n}"), receiver.unit))
                roots[str(envelopes[-1].message_id)] = root.get_span_context().trace_id
        async with sender.sessions() as session, session.begin():
            from shared.messaging.outbox import stage

            await stage(session, envelopes)  # one transaction, no span active
        await eventually(lambda: _published(sender, 5))
        receiver.consumer.start()
        await eventually(lambda: _total(receiver, 5))
        assert receiver.consumer.batches < 5  # some messages did share a transaction

        finished = spans.get_finished_spans()
        index = by_id(finished)
        processed = [s for s in finished if s.kind == SpanKind.CONSUMER]
        assert len(processed) == 5
        for span in processed:
            message_id = span.attributes["messaging.message.id"]
            send = parent_of(span, index)
            assert send.kind == SpanKind.PRODUCER
            assert send.attributes["messaging.message.id"] == message_id
            assert span.context.trace_id == roots[message_id]
    finally:
        await sender.stop()
        await receiver.stop()


async def _published(node: Node, count: int) -> bool:
    return node.relay.published >= count


async def _total(node: Node, count: int) -> bool:
    return await node.total_effects() == count


async def test_an_envelope_carries_the_active_spans_context(
    spans: InMemorySpanExporter,
) -> None:
    unit = random_unit()
    with trace.get_tracer("test").start_as_current_span("emit") as span:
        envelope = build_envelope(Effect(key="x"), source=unit, target=unit)
    trace_id = f"{span.get_span_context().trace_id:032x}"
    span_id = f"{span.get_span_context().span_id:016x}"
    assert envelope.trace_context["traceparent"].startswith(f"00-{trace_id}-{span_id}-")


def test_tracing_is_off_unless_configured() -> None:
    from shared.telemetry import tracing

    assert not tracing.tracing_enabled()
    unit = random_unit()
    assert build_envelope(Effect(key="x"), source=unit, target=unit).trace_context == {}


async def test_statements_are_traced_inside_their_operation_and_housekeeping_is_not(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from shared.db.engine import make_engine
    from shared.telemetry.tracing import instrument_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    instrument_engine(engine)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))  # no operation around it: not sampled
            with trace.get_tracer("test").start_as_current_span("handler") as handler:
                await connection.execute(text("SELECT 2"))
    finally:
        await engine.dispose()
    statements = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert len(statements) == 1
    assert statements[0].parent is not None
    assert statements[0].parent.span_id == handler.get_span_context().span_id
