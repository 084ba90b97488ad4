"""Metrics of one service instance, exposed at ``GET /metrics`` in Prometheus text format.

Every :class:`ServiceRuntime` owns a :class:`ServiceMetrics` (its own ``CollectorRegistry``, so
several runtimes in one test process never share a series). It holds:

- the kernel's message counters by type, read from the consumer and the relay at scrape time
  (:class:`MessagingCollector`): ``xueji_messages_in_total{type,outcome=applied|duplicate}``,
  ``xueji_messages_retried_total{type}``, ``xueji_messages_dead_lettered_total{type}``,
  ``xueji_messages_published_total{type}``, ``xueji_security_alerts_total{reason}`` (messages
  refused by signature checks, every reason present from the start);
- ``xueji_outbox_backlog_messages`` and ``xueji_outbox_oldest_unsent_age_seconds``, computed from
  the database at each scrape;
- ``xueji_http_request_duration_seconds{method,route,status}`` (route = the path template);
- ``xueji_instance_info{xueji_instance,tier}`` (always 1): which federation instance and tier
  this target is. Dashboards join on it (``* on (instance) group_left (tier) xueji_instance_info``)
  so that no scrape configuration has to relabel anything;
- counters that count only what commits (:meth:`ServiceMetrics.committed_counter` and
  :func:`count_on_commit`): a use case notes the event in its transaction, the counter moves
  when that transaction commits and never for one that rolled back (a retried message is not
  counted twice), e.g. national's ``xueji_transfers_ended_total{outcome}``;
- gauges a tier adds with :meth:`ServiceMetrics.register_gauge_callback`, e.g.::

      async def open_tasks() -> dict[tuple[str, ...], float]:
          return {(unit,): count for unit, count in await repository.open_task_counts()}

      runtime.metrics.register_gauge_callback(
          "xueji_approval_tasks_open", "Open approval tasks per unit", ["unit"], open_tasks
      )

  An async callback runs once per scrape (keep it one set-based query); the gauge shows
  exactly the label sets it returned, so a unit whose count disappears leaves no stale series.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.messaging.outbox import backlog

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from shared.db.engine import SessionFactory
    from shared.messaging.connection import BrokerConnection
    from shared.messaging.consumer import MessageConsumer
    from shared.messaging.outbox import OutboxRelay

log = logging.getLogger(__name__)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "GaugeCallback",
    "MessagingCollector",
    "ServiceMetrics",
    "count_on_commit",
]

LabelValues = tuple[str, ...]
GaugeCallback = Callable[[], Awaitable[Mapping[LabelValues, float] | float]]
_ON_COMMIT = "xueji.metrics.on_commit"  # session.info: (counter name, label values) noted


def count_on_commit(session: AsyncSession | Session, name: str, *labels: str) -> None:
    """Count one event of counter ``name`` (a :meth:`ServiceMetrics.committed_counter`) when
    ``session``'s transaction commits; nothing if it rolls back. A name no registry of this
    session's factory declared is ignored (e.g. a use case run by a tool without metrics)."""
    session.info.setdefault(_ON_COMMIT, []).append((name, labels))


@dataclass
class _AsyncGauge:
    name: str
    help: str
    labels: tuple[str, ...]
    callback: GaugeCallback
    timeout: float
    values: Mapping[LabelValues, float] | None = None  # None: the last evaluation failed


class _AsyncGaugeCollector(Collector):
    """Reports the values the async callbacks returned at the start of this scrape."""

    def __init__(self, gauges: Mapping[str, _AsyncGauge]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterable[Metric]:
        for gauge in list(self._gauges.values()):
            if gauge.values is None:
                continue
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=gauge.labels)
            for label_values, value in gauge.values.items():
                family.add_metric(list(label_values), value)
            yield family


class _Constant(Collector):
    def __init__(self, family: Metric) -> None:
        self._family = family

    def collect(self) -> Iterable[Metric]:
        yield self._family


class ServiceMetrics:
    """The Prometheus registry of one service instance."""

    def __init__(self, *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self.http_request_duration = Histogram(
            "xueji_http_request_duration_seconds",
            "HTTP request latency by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._callback_failures = Counter(
            "xueji_metrics_callback_failures_total",
            "Gauge callbacks that failed or timed out during a scrape",
            ["gauge"],
            registry=self.registry,
        )
        self._gauges: dict[str, _AsyncGauge] = {}
        self.registry.register(_AsyncGaugeCollector(self._gauges))
        self._committed: dict[str, Counter] = {}

    def describe_instance(self, instance: str, tier: str) -> None:
        """``xueji_instance_info{xueji_instance, tier} 1``: what this scrape target is."""
        info = GaugeMetricFamily(
            "xueji_instance_info",
            "The federation instance and tier of this target (always 1; join on it)",
            labels=["xueji_instance", "tier"],
        )
        info.add_metric([instance, tier], 1)
        self.registry.register(_Constant(info))

    def committed_counter(self, name: str, help: str, labels: Sequence[str]) -> Counter:
        """A counter moved by :func:`count_on_commit` (``name`` without ``_total``), once the
        session that noted the event commits (see :meth:`count_commits_of`)."""
        if name in self._committed:
            raise ValueError(f"counter {name!r} declared twice")
        counter = Counter(name, help, list(labels), registry=self.registry)
        self._committed[name] = counter
        return counter

    def count_commits_of(self, sessions: SessionFactory) -> None:
        """Move the committed counters for what the sessions of ``sessions`` noted, at commit."""
        session_class = sessions.kw["sync_session_class"]

        @event.listens_for(session_class, "after_commit")
        def _after_commit(session: Session) -> None:
            for name, labels in session.info.pop(_ON_COMMIT, ()):
                counter = self._committed.get(name)
                if counter is not None:
                    (counter.labels(*labels) if labels else counter).inc()

        @event.listens_for(session_class, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop(_ON_COMMIT, None)

    def register_collector(self, collector: Collector) -> None:
        """Add a synchronous collector (read at scrape time; must not do I/O)."""
        self.registry.register(collector)

    def register_gauge_callback(
        self,
        name: str,
        help: str,
        labels: Sequence[str],
        callback: GaugeCallback,
        *,
        timeout: float = 5.0,
    ) -> None:
        """Add a gauge computed by ``await callback()`` at every scrape.

        ``callback`` returns ``{(label value, ...): value}`` with one value per label name in
        ``labels``, in order (or a bare number when ``labels`` is empty). A callback that raises
        or exceeds ``timeout`` seconds leaves its gauge out of that scrape and counts in
        ``xueji_metrics_callback_failures_total{gauge=name}``.
        """
        if name in self._gauges:
            raise ValueError(f"gauge {name!r} registered twice")
        self._gauges[name] = _AsyncGauge(name, help, tuple(labels), callback, timeout)

    async def render(self) -> bytes:
        """Evaluate the gauge callbacks, then the whole registry in text format."""
        for gauge in list(self._gauges.values()):
            gauge.values = await self._evaluate(gauge)
        return generate_latest(self.registry)

    async def _evaluate(self, gauge: _AsyncGauge) -> Mapping[LabelValues, float] | None:
        try:
            result = await asyncio.wait_for(gauge.callback(), gauge.timeout)
        except Exception as exc:
            log.warning("gauge callback %s failed: %r", gauge.name, exc)
            self._callback_failures.labels(gauge.name).inc()
            return None
        values = {(): result} if isinstance(result, int | float) else dict(result)
        if any(len(key) != len(gauge.labels) for key in values):
            log.warning(
                "gauge callback %s returned label sets not matching %s", gauge.name, gauge.labels
            )
            self._callback_failures.labels(gauge.name).inc()
            return None
        return {tuple(str(v) for v in key): float(value) for key, value in values.items()}


class MessagingCollector(Collector):
    """The kernel's counters by message type, read from the consumer and the relay."""

    def __init__(
        self, consumer: MessageConsumer, relay: OutboxRelay, broker: BrokerConnection
    ) -> None:
        self._consumer = consumer
        self._relay = relay
        self._broker = broker

    def collect(self) -> Iterable[Metric]:
        families = {
            "in": CounterMetricFamily(
                "xueji_messages_in",
                "Messages consumed, by type and outcome (applied, or skipped as a duplicate)",
                labels=["type", "outcome"],
            ),
            "retried": CounterMetricFamily(
                "xueji_messages_retried",
                "Deliveries sent to a retry delay queue, by type",
                labels=["type"],
            ),
            "dead_lettered": CounterMetricFamily(
                "xueji_messages_dead_lettered",
                "Messages dead-lettered, by type",
                labels=["type"],
            ),
        }
        for (message_type, outcome), count in sorted(self._consumer.outcomes.items()):
            if outcome in ("applied", "duplicate"):
                families["in"].add_metric([message_type, outcome], count)
            else:
                families[outcome].add_metric([message_type], count)
        yield from families.values()
        published = CounterMetricFamily(
            "xueji_messages_published",
            "Outbox messages published and confirmed by the broker, by type",
            labels=["type"],
        )
        for message_type, count in sorted(self._relay.published_by_type.items()):
            published.add_metric([message_type], count)
        yield published
        alerts = CounterMetricFamily(
            "xueji_security_alerts",
            "Messages refused for their signature, age or addressing (dead-lettered), by reason",
            labels=["reason"],
        )
        for reason, count in sorted(self._consumer.security_alerts.items()):
            alerts.add_metric([reason], count)
        yield alerts
        yield CounterMetricFamily(
            "xueji_consumer_batches",
            "Consumer transactions committed",
            value=self._consumer.batches,
        )
        yield GaugeMetricFamily(
            "xueji_broker_connected",
            "1 while the broker connection is up",
            value=1 if self._broker.is_ready else 0,
        )


def register_kernel_metrics(
    metrics: ServiceMetrics,
    *,
    consumer: MessageConsumer,
    relay: OutboxRelay,
    broker: BrokerConnection,
    sessions: SessionFactory,
) -> None:
    """The metrics every instance has: message counters and the outbox backlog."""
    metrics.register_collector(MessagingCollector(consumer, relay, broker))

    async def unsent() -> float:
        async with sessions() as session:
            count, _ = await backlog(session)
        return count

    async def oldest_age() -> float:
        async with sessions() as session:
            _, oldest = await backlog(session)
        if oldest is None:
            return 0.0
        if oldest.tzinfo is None:  # SQLite returns naive datetimes
            oldest = oldest.replace(tzinfo=UTC)
        return max(0.0, (datetime.now(UTC) - oldest).total_seconds())

    metrics.register_gauge_callback(
        "xueji_outbox_backlog_messages", "Outbox messages not yet published", [], unsent
    )
    metrics.register_gauge_callback(
        "xueji_outbox_oldest_unsent_age_seconds",
        "Age of the oldest unpublished outbox message (0 when none)",
        [],
        oldest_age,
    )
