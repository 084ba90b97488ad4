"""A cross-province transfer, traced end to end into memory (docs/decisions/0006).

Every instance the transfer touches — national, provinces 33 and 41, counties 33 and 41,
schools 33 and 41 — is built in this process from its real ``bootstrap.build_app``, each on its
own SQLite file and the real broker, so one tracer provider with an in-memory exporter sees
every span. HTTP goes through ``httpx.ASGITransport`` (the runtimes are started by hand: it runs
no lifespan), with the W3C headers an instrumented client would send.

The whole transfer is ONE trace: it starts with the receiving school's request, and each
officer's decision — an HTTP request of its own — continues the trace in which its task was
opened (the task keeps that context), so request → national → each party's step → decision →
national → … → completion → the provinces' archive hand-over hang together. Every hop through
an outbox must keep its parent link: CONSUMER ← PRODUCER ← the span that emitted the message.

One process has one tracer provider and so one ``Resource``: here each span is stamped with the
``service.name`` / ``service.instance.id`` its own process would carry, from the service whose
request or background task (consumer, relay) started it; the stamp is checked against what the
kernel itself records (a CONSUMER span's queue is ``xueji.<instance>``).

The instances run on a private virtual host: this package's federation processes are alive
until the package ends and bind the same unit codes on the default one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

from devtools.broker import LocalRabbitMQ
from devtools.testing import federation_copy, instance_name
from services.county.bootstrap import build_app as build_county
from services.national.bootstrap import build_app as build_national
from services.national.config import NationalSettings
from services.province.bootstrap import build_app as build_province
from services.school.bootstrap import build_app as build_school
from shared.federation.config import Tier, load_federation
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security.testing import auth_headers
from shared.telemetry import tracing
from tests.databases import migrate_to_head
from tests.integration.conftest import Federation
from tests.integration.transfer_support import (
    FINAL,
    application_form,
    decide_task,
    enrolled_student,
    party_task,
    request_transfer,
    transfer,
    waiting_step,
)
from tests.shared.messaging.harness import eventually

pytestmark = pytest.mark.broker

TODAY = date(2026, 9, 7)  # inside Zhejiang's and Henan's transfer windows
SENDING, RECEIVING = "3301020001", "4101020001"  # Zhejiang → Henan: the archive crosses a border
INSTANCES: dict[str, tuple[Tier, Callable[[ServiceSettings], FastAPI]]] = {
    "national": (Tier.NATIONAL, build_national),
    "province-33": (Tier.PROVINCE, build_province),
    "province-41": (Tier.PROVINCE, build_province),
    "county-33": (Tier.COUNTY, build_county),
    "county-41": (Tier.COUNTY, build_county),
    "school-33": (Tier.SCHOOL, build_school),
    "school-41": (Tier.SCHOOL, build_school),
}
ROUTES = {
    "transfer_in": "/api/v1/schools/{school_code}/transfers-in",
    "decision": "/api/v1/tasks/{task_id}/decision",
}
SAGA_MESSAGES = ("transfer.", "archive.handed_over", "archive.received")
TIMEOUT = 60.0

# The service whose request or background task is running: what its process's Resource says.
SERVICE: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "xueji_test_service", default=None
)


class ServiceStamp(SpanProcessor):
    """Stamps each span with the service.name / service.instance.id of the service running."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        service = SERVICE.get()
        if service is not None:
            span.set_attributes({"service.name": service[0], "service.instance.id": service[1]})


def _reset_global_tracing() -> None:
    # as tests/shared/telemetry/conftest.py: the API allows one provider per process
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    tracing._provider = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only (before any app or engine is built)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    assert not tracing.tracing_enabled(), "a tracer provider is left over from another test"
    exporter = InMemorySpanExporter()
    provider = tracing.configure_tracing(
        "xueji-test", ServiceSettings(instance="test"), processor=SimpleSpanProcessor(exporter)
    )
    assert provider is not None
    provider.add_span_processor(ServiceStamp())
    try:
        yield exporter
    finally:
        provider.shutdown()
        HTTPXClientInstrumentor().uninstrument()
        # instrument_engine's instrumentor is a process-wide singleton: once instrumented it
        # ignores the next engine (tests/shared/telemetry's statement test would see none)
        if SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry:
            SQLAlchemyInstrumentor().uninstrument()
        _reset_global_tracing()


@pytest.fixture
def vhost_url(broker: Any, amqp_url: str) -> Iterator[str]:
    """``amqp_url`` on a fresh virtual host of the session's broker, deleted afterwards."""
    if isinstance(broker, LocalRabbitMQ):

        def ctl(*args: str) -> None:
            done = broker.rabbitmqctl(*args)
            assert done.returncode == 0, done.stderr or done.stdout

    elif broker is not None and hasattr(broker, "exec"):  # a testcontainers RabbitMQ

        def ctl(*args: str) -> None:
            code, output = broker.exec(["rabbitmqctl", *args])
            assert code == 0, output

    else:
        pytest.skip("needs its own virtual host: not possible on an external broker (AMQP_URL)")
    parsed = urllib.parse.urlsplit(amqp_url)
    vhost = f"xueji-trace-{uuid.uuid4().hex[:8]}"
    ctl("add_vhost", vhost)
    try:
        ctl("set_permissions", "-p", vhost, parsed.username or "guest", ".*", ".*", ".*")
        yield urllib.parse.urlunsplit(parsed._replace(path=f"/{vhost}"))
    finally:
        ctl("delete_vhost", vhost)


class InProcessFederation(Federation):
    """The integration tests' ``Federation`` (by unit: ``fed.post("school", code, path)``) over
    in-process apps, one ASGI client per instance."""

    def __init__(self, config: Path) -> None:  # no processes: nothing of the base is used
        self.config = config
        self.federation = load_federation(config)
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.runtimes: dict[str, ServiceRuntime] = {}

    def instance_for(self, tier: str, code: str) -> str:
        for instance in self.federation.instances:
            if instance.tier == Tier(tier) and code in instance.units:
                return instance.name
        raise KeyError(f"no instance hosts {tier}:{code}")

    def party(self, step: dict[str, Any]) -> str:
        """The instance hosting the party of a transfer step (``party_unit`` ``tier:code``)."""
        tier, code = str(step["party_unit"]).split(":")
        return self.instance_for(tier, code)

    def name(self, base: str) -> str:
        return instance_name(self.config, base)

    def url(self, tier: str, code: str, path: str) -> str:
        return f"http://{self.instance_for(tier, code)}{path}"

    async def get(self, tier: str, code: str, path: str, **kw: Any) -> httpx.Response:
        client = self.clients[self.instance_for(tier, code)]
        return await client.get(
            path, headers=_trace_headers() | auth_headers(f"{tier}:{code}"), **kw
        )

    async def post(self, tier: str, code: str, path: str, **kw: Any) -> httpx.Response:
        client = self.clients[self.instance_for(tier, code)]
        headers = _trace_headers() | auth_headers(f"{tier}:{code}")
        return await client.post(path, headers=headers, **kw)


def _trace_headers() -> dict[str, str]:
    """What an instrumented client sends: the active span's W3C context (if any)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def _as_service(app: FastAPI, tier: Tier, instance: str) -> Any:
    """``app`` whose requests run as ``instance`` (what its own process would be)."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        # ASGITransport calls the app in the client's context: start it from an empty one, so
        # the trace continues from the request's headers only, as it does across processes
        detached = otel_context.attach(Context())
        token = SERVICE.set((f"xueji-{tier.value}", instance))
        try:
            await app(scope, receive, send)
        finally:
            SERVICE.reset(token)
            otel_context.detach(detached)

    return asgi


def _settings(fed_config: Path, base: str, tmp_path: Path, amqp_url: str) -> ServiceSettings:
    common: dict[str, Any] = {
        "env": "test",
        "instance": instance_name(fed_config, base),
        "federation_config": fed_config,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / base}.sqlite",
        "amqp_url": amqp_url,
        "auto_migrate": False,
        "today": TODAY,
        "retry_delays_ms": (200, 500, 1000),
        "relay_poll_interval": 0.2,
    }
    if base == "national":
        return NationalSettings(**common, deadline_sweep_interval=0)
    return ServiceSettings(**common)


@pytest.fixture
async def in_process(
    spans: InMemorySpanExporter, tmp_path: Path, vhost_url: str
) -> AsyncIterator[InProcessFederation]:
    """The seven instances, migrated, started, their queues bound; stopped afterwards."""
    config = federation_copy(tmp_path / "config")
    running = InProcessFederation(config)
    settings = {base: _settings(config, base, tmp_path, vhost_url) for base in INSTANCES}
    for base, (tier, _) in INSTANCES.items():
        await asyncio.to_thread(migrate_to_head, tier.value, str(settings[base].database_url))
    try:
        for base, (tier, build_app) in INSTANCES.items():
            app = build_app(settings[base])
            runtime: ServiceRuntime = app.state.runtime
            name = settings[base].instance
            token = SERVICE.set((f"xueji-{tier.value}", name))
            try:  # its consumer, relay and broker tasks inherit the stamp
                await runtime.start()
            finally:
                SERVICE.reset(token)
            running.runtimes[name] = runtime
            running.clients[name] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=_as_service(app, tier, name)),
                base_url=f"http://{name}",
                timeout=30,
            )
        # every queue declared and bound before the first message is published
        await asyncio.gather(*(r.broker.wait_ready(30) for r in running.runtimes.values()))
        yield running
    finally:
        async with contextlib.AsyncExitStack() as stack:  # stops every one, even if one fails
            for client in running.clients.values():
                stack.push_async_callback(client.aclose)
            for runtime in running.runtimes.values():
                stack.push_async_callback(runtime.stop)


# --- reading the spans ------------------------------------------------------------------------


def attrs(span: ReadableSpan) -> Mapping[str, Any]:
    return span.attributes or {}


def kind_of(span: ReadableSpan) -> str:
    return {
        SpanKind.SERVER: "server",
        SpanKind.PRODUCER: "send",
        SpanKind.CONSUMER: "process",
    }.get(span.kind, span.kind.name.lower())


def instance_of(span: ReadableSpan) -> str | None:
    value = attrs(span).get("service.instance.id")
    return None if value is None else str(value)


def message_type(span: ReadableSpan) -> str | None:
    value = attrs(span).get("xueji.message_type")
    return None if value is None else str(value)


@dataclass
class Trace:
    """The finished spans of one trace, by span id."""

    trace_id: int
    spans: dict[int, ReadableSpan]

    @classmethod
    def of(cls, exporter: InMemorySpanExporter, trace_id: int) -> Trace:
        found = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        return cls(trace_id, {s.context.span_id: s for s in found})

    def consumers(self, msg_type: str | None = None) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans.values()
            if s.kind == SpanKind.CONSUMER and msg_type in (None, message_type(s))
        ]

    def processed_at(self, msg_type: str) -> set[str | None]:
        return {instance_of(s) for s in self.consumers(msg_type)}

    def chain(self, span: ReadableSpan) -> list[ReadableSpan]:
        """``span`` and its ancestors up to the root, or to the first one not exported."""
        chain = [span]
        while chain[-1].parent is not None and chain[-1].parent.span_id in self.spans:
            chain.append(self.spans[chain[-1].parent.span_id])
        return chain

    @property
    def root(self) -> ReadableSpan:
        [root] = [s for s in self.spans.values() if s.parent is None]
        return root

    def hops(self, span: ReadableSpan) -> list[tuple[str, str | None, str | None]]:
        """The path from the root down to ``span``: (kind, instance, route or message type)
        of every server, send and process span on it (the test's own root left out)."""
        return [
            (
                kind_of(s),
                instance_of(s),
                str(attrs(s).get("http.route")) if s.kind == SpanKind.SERVER else message_type(s),
            )
            for s in reversed(self.chain(span))
            if s.kind in (SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER)
        ]

    def broken_links(self) -> list[str]:
        """Every span whose parent is missing, except the root; every message hop not carried
        CONSUMER ← PRODUCER (same message) ← a span of the emitting service."""
        problems = []
        roots = [s for s in self.spans.values() if s.parent is None]
        if len(roots) != 1:
            problems.append(f"{len(roots)} roots: {[s.name for s in roots]}")
        for span in self.spans.values():
            if span.parent is None:
                continue
            parent = self.spans.get(span.parent.span_id)
            if parent is None:
                problems.append(f"{span.name} at {instance_of(span)}: parent not in the trace")
            elif span.kind == SpanKind.CONSUMER and not (
                parent.kind == SpanKind.PRODUCER
                and attrs(parent)["messaging.message.id"] == attrs(span)["messaging.message.id"]
            ):
                problems.append(f"{span.name} at {instance_of(span)}: parent is {parent.name}")
            elif span.kind == SpanKind.PRODUCER and instance_of(parent) != instance_of(span):
                problems.append(f"{span.name} at {instance_of(span)}: emitted by {parent.name}")
        return problems


def describe(trace_: Trace) -> str:
    """The trace as an indented tree (database statements left out)."""
    lines = []
    for span in sorted(trace_.spans.values(), key=lambda s: s.start_time or 0):
        if span.kind == SpanKind.CLIENT:
            continue
        depth = len(trace_.chain(span)) - 1
        lines.append(f"{'  ' * depth}{kind_of(span)} {span.name} @ {instance_of(span)}")
    return "\n".join(lines)


# --- the test -----------------------------------------------------------------------------------


@dataclass
class Action:
    """An officer's action under a root span of its own (what an instrumented front end
    would start), and the trace it started."""

    what: str
    trace_id: int = 0


async def traced(action: Action, call: Awaitable[Any]) -> Any:
    with trace.get_tracer("xueji.tests").start_as_current_span(action.what) as root:
        action.trace_id = root.get_span_context().trace_id
        return await call


async def test_a_cross_province_transfer_is_one_trace_through_every_outbox(
    in_process: InProcessFederation, spans: InMemorySpanExporter
) -> None:
    fed = in_process
    kid = await enrolled_student(fed, SENDING)  # Zhejiang auto-approves
    spans.clear()

    # The receiving school requests the transfer; each party's officer approves from its task
    # list (no province of this route decides a step by itself).
    request = Action(f"school {RECEIVING} requests a transfer in")
    started = await traced(
        request,
        request_transfer(
            fed,
            kid,
            RECEIVING,
            proofs=[application_form("origin_registration_proof")],  # Henan requires it
        ),
    )
    transfer_id = str(started["transfer_id"])
    opened: list[dict[str, Any]] = []
    decisions: list[Action] = []
    while (step := await waiting_step(fed, transfer_id)) is not None:
        opened.append(step)
        unit = step["party_unit"]
        task = await party_task(fed, unit, transfer_id)
        decision = Action(f"{unit} approves as {step['role']}")
        await traced(decision, decide_task(fed, unit, task["task_id"], "approve"))
        decisions.append(decision)
        await eventually(partial(_moved_on, fed, transfer_id, step), TIMEOUT, 0.1)
    assert (await transfer(fed, transfer_id))["state"] == "completed"
    assert len(decisions) >= 3, opened  # at least the sending school and both authorities
    actions = [request, *decisions]

    national = fed.name("national")
    school_33, school_41 = fed.name("school-33"), fed.name("school-41")
    province_33, province_41 = fed.name("province-33"), fed.name("province-41")
    settled_at_the_end = {
        "transfer.completed": {school_33, school_41, province_33, province_41},
        "archive.handed_over": {province_41},
        "archive.received": {province_33},
    }

    def unsettled() -> list[str]:
        """What is still missing: the last consequences processed everywhere, every span of
        the flow's trace exported (a PRODUCER span ends at the broker's confirm, maybe after
        its CONSUMER span), no message of the saga in another trace."""
        flow = Trace.of(spans, request.trace_id)
        problems = [
            f"{message} not processed at {sorted(absent)} in the transfer's trace"
            for message, expected in settled_at_the_end.items()
            if (absent := expected - flow.processed_at(message))
        ]
        problems += flow.broken_links()
        problems += [
            f"{s.name} at {instance_of(s)} is outside the transfer's trace"
            for s in spans.get_finished_spans()
            if s.kind in (SpanKind.CONSUMER, SpanKind.PRODUCER)
            and (message_type(s) or "").startswith(SAGA_MESSAGES)
            and s.context.trace_id != request.trace_id
        ]
        return problems

    async def settled() -> bool:
        return not unsettled()

    try:
        await eventually(settled, TIMEOUT, 0.1)
    except AssertionError:
        trees = [f"--- {a.what}\n{describe(Trace.of(spans, a.trace_id))}" for a in actions]
        raise AssertionError("\n".join([*unsettled(), *trees])) from None
    flow = Trace.of(spans, request.trace_id)
    assert flow.root.name == request.what

    # (1) ONE trace for the whole transfer: request → national → each party's step → its
    # officer's decision (which continues the trace its task was opened in) → national → …
    # → completion at both schools and both provinces → archive hand-over and receipt.
    path = [
        ("server", school_41, ROUTES["transfer_in"]),
        ("send", school_41, "transfer.requested"),
        ("process", national, "transfer.requested"),
    ]
    for step in opened:
        party = fed.party(step)
        path += [
            ("send", national, "transfer.step_opened"),
            ("process", party, "transfer.step_opened"),
            ("send", party, "transfer.step_decided"),
            ("process", national, "transfer.step_decided"),
        ]
    completed = [*path, ("send", national, "transfer.completed")]
    completed_at = {instance_of(s): s for s in flow.consumers("transfer.completed")}
    assert set(completed_at) == settled_at_the_end["transfer.completed"]
    for instance, span in completed_at.items():
        assert flow.hops(span) == [*completed, ("process", instance, "transfer.completed")]
    handed_over = [
        *completed,
        ("process", province_33, "transfer.completed"),
        ("send", province_33, "archive.handed_over"),
        ("process", province_41, "archive.handed_over"),
    ]
    [arrived] = flow.consumers("archive.handed_over")
    assert flow.hops(arrived) == handed_over
    [receipt] = flow.consumers("archive.received")
    assert flow.hops(receipt) == [
        *handed_over,
        ("send", province_41, "archive.received"),
        ("process", province_33, "archive.received"),
    ]

    # (2) Each officer's decision is an HTTP request of its own (its own trace, its server
    # span at the deciding service); the message it causes is in the transfer's trace.
    for n, decision in enumerate(decisions):
        own = Trace.of(spans, decision.trace_id)
        servers = [s for s in own.spans.values() if s.kind == SpanKind.SERVER]
        assert [(instance_of(s), attrs(s)["http.route"]) for s in servers] == [
            (fed.party(opened[n]), ROUTES["decision"])
        ], decision.what
        assert not [s for s in own.spans.values() if s.kind == SpanKind.CONSUMER], decision.what

    # (3) Parent links intact through every outbox: each CONSUMER span's parent is the
    # PRODUCER span of its message, each PRODUCER span's parent a span of the service that
    # emitted it, one root. Every span names its service, and the stamp is the kernel's own
    # attribution: a CONSUMER span is recorded by the owner of its queue, a server span by the
    # host the request went to.
    assert flow.broken_links() == []
    for span in flow.spans.values():
        if span is flow.root:
            continue
        instance = instance_of(span)
        assert instance in fed.runtimes, f"{span.name} names no service"
        tier = fed.runtimes[instance].tier
        assert attrs(span)["service.name"] == f"xueji-{tier.value}"
        if span.kind == SpanKind.CONSUMER:
            assert attrs(span)["messaging.destination.name"] == f"xueji.{instance}"
        if span.kind == SpanKind.SERVER:
            assert attrs(span)["http.server_name"] == instance
    # every instance took part in the one trace: national, both provinces, counties, schools
    assert {instance_of(s) for s in flow.spans.values()} - {None} == set(fed.runtimes)
    assert unsettled() == []


async def _moved_on(fed: InProcessFederation, transfer_id: str, step: dict[str, Any]) -> bool:
    now = await transfer(fed, transfer_id)
    return now["state"] in FINAL or now["waiting_for"]["step_id"] != step["step_id"]
