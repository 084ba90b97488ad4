"""Tracing is off in the test suite; ``spans`` turns it on for one test, into memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from shared.runtime.settings import ServiceSettings
from shared.telemetry import tracing


def _reset_global_tracing() -> None:
    # What opentelemetry-test-utils' reset_trace_globals does: the API allows one provider per
    # process, tests need "on" for one test and "off" again after it.
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    tracing._provider = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    exporter = InMemorySpanExporter()
    provider = tracing.configure_tracing(
        "xueji-test", ServiceSettings(instance="test"), processor=SimpleSpanProcessor(exporter)
    )
    assert provider is not None
    try:
        yield exporter
    finally:
        provider.shutdown()
        HTTPXClientInstrumentor().uninstrument()
        _reset_global_tracing()
