"""Telemetry every tier shares: traces (OpenTelemetry), metrics (Prometheus), JSON logs.

- :mod:`shared.telemetry.tracing` configures the process's tracer provider and instruments
  FastAPI, SQLAlchemy and httpx; it is off unless ``XUEJI_TRACES_EXPORTER`` says otherwise.
- :mod:`shared.telemetry.amqp` is how the messaging kernel carries a trace through the outbox
  and the broker (PRODUCER span per published message, CONSUMER span per applied message).
- :mod:`shared.telemetry.metrics` is the per-instance Prometheus registry behind ``/metrics``.
- :mod:`shared.telemetry.logging` writes one JSON object per line, personal data masked.

See docs/decisions/0006-observability.md.
"""
