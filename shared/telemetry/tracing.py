"""Tracing: one OpenTelemetry tracer provider per process, exporter chosen by settings.

``XUEJI_TRACES_EXPORTER`` is ``none`` (the default: no provider, the API stays a no-op and
nothing is instrumented), ``console`` (spans as JSON on stdout, for development) or ``otlp``
(OTLP over HTTP; endpoint, headers and timeout from the standard ``OTEL_EXPORTER_OTLP_*``
variables). The service name is ``xueji-<tier>`` and ``service.instance.id`` the instance.

Once configured, :func:`instrument_app` (per FastAPI app) and :func:`instrument_engine` (per
SQLAlchemy engine) add spans; httpx clients are instrumented process-wide. Messages are traced
by the kernel itself (:mod:`shared.telemetry.amqp`), through the outbox.

Root spans of kind CLIENT are not sampled: a database query or an HTTP call that belongs to no
request and no message is housekeeping (the relay polling its outbox, pruning), and exporting
each as a trace of its own would drown the traces that matter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

TracesExporter = Literal["none", "console", "otlp"]
# Probes and scrapes would otherwise be most of the traces.
EXCLUDED_URLS = "healthz,readyz,metrics"

_provider: TracerProvider | None = None


class _NoOrphanClientSpans(Sampler):
    """Root sampler: drop root CLIENT spans (housekeeping queries), sample the rest by ratio."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoOrphanClientSpans({self._ratio.get_description()})"


def sampler(ratio: float = 1.0) -> Sampler:
    """Children follow their parent; roots are sampled by ``ratio``, orphan CLIENT spans never."""
    return ParentBased(root=_NoOrphanClientSpans(ratio))


def _exporter(kind: TracesExporter) -> SpanExporter | None:
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT
    return None


def configure_tracing(
    service_name: str,
    settings: ServiceSettings,
    *,
    processor: SpanProcessor | None = None,
) -> TracerProvider | None:
    """Install the process's tracer provider from ``settings``; None when tracing is off.

    ``processor`` replaces the exporter chosen by settings (tests pass an in-memory one).
    Call once per process, before the app and the runtime are built.
    """
    global _provider
    if _provider is not None:
        return _provider
    if processor is None:
        exporter = _exporter(settings.traces_exporter)
        if exporter is None:
            return None
        processor = BatchSpanProcessor(exporter)
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "xueji",
            "service.instance.id": settings.instance or service_name,
            "deployment.environment.name": settings.env,
        }
    )
    provider = TracerProvider(resource=resource, sampler=sampler(settings.traces_sample_ratio))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    _instrument_httpx()
    log.info("tracing on: %s (%s)", service_name, settings.traces_exporter)
    return provider


def tracing_enabled() -> bool:
    return _provider is not None


def instrument_app(app: FastAPI) -> None:
    """Server spans for ``app``'s requests (not for probes and scrapes). No-op when off."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: AsyncEngine) -> None:
    """Client spans for ``engine``'s statements. No-op when tracing is off."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # 0.66b1 declares sqlalchemy < 2.1 and would refuse 2.1; the engine events it hooks are
    # unchanged in 2.1 (tests/shared/telemetry/test_tracing.py checks the spans).
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True
    )


def _instrument_httpx() -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_provider)
