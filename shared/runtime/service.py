"""The runtime of one service instance: database, broker connection, outbox relay, consumer.

``bootstrap.py`` of each tier builds one with its handlers; the FastAPI lifespan starts and
stops it. Everything a request or a handler needs hangs off it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from shared.audit import anchors
from shared.audit.anchors import AuditAnchoring
from shared.audit.chaining import AuditChainer
from shared.audit.recording import AuditTrail, install
from shared.clock import Clock
from shared.db.engine import (
    SessionFactory,
    make_engine,
    make_session_factory,
    statement_sessions,
)
from shared.db.list_versions import ListVersions
from shared.federation.config import Federation, Instance, Tier, UnitRef, load_federation
from shared.messaging.connection import BrokerConnection
from shared.messaging.consumer import MessageConsumer
from shared.messaging.handlers import HandlerRegistry
from shared.messaging.keys import development_keys, load_keys
from shared.messaging.outbox import OutboxRelay, wake_relay_after_commit
from shared.messaging.signing import Signer, TrustStore, Verifier
from shared.messaging.topology import ServiceTopology
from shared.messaging.uow import UnitOfWork
from shared.runtime import health_metrics
from shared.runtime.settings import ServiceSettings
from shared.security import accounts
from shared.security.revocation import RevocationBroadcast, RevocationList
from shared.security.tokens import DEFAULT_SKEW, token_keys
from shared.telemetry.metrics import ServiceMetrics, register_kernel_metrics
from shared.telemetry.tracing import instrument_engine

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    tier: Tier
    settings: ServiceSettings
    federation: Federation
    instance: Instance
    handlers: HandlerRegistry
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.instance.tier != self.tier:
            raise ValueError(f"instance {self.instance.name} is a {self.instance.tier} instance")
        self.clock = Clock(self.settings.today)
        self.database_url = self.settings.effective_database_url()
        self.engine = make_engine(self.database_url)
        instrument_engine(self.engine)
        self.sessions: SessionFactory = make_session_factory(self.engine)
        self.reads = statement_sessions(self.sessions)  # no transaction around a read (0056)
        self.broker = BrokerConnection(self.settings.amqp_url, name=f"xueji-{self.instance.name}")
        self.signer, self.trust = signing_keys(self.settings, self.federation, self.instance)
        # Access tokens (0027): issued with the signing key, refused once revoked anywhere.
        self.revocations = RevocationList(
            timedelta(seconds=self.settings.token_max_lifetime_seconds) + DEFAULT_SKEW
        )
        self.token_issuer, self.tokens = token_keys(
            self.settings,
            self.signer,
            self.trust,
            revoked=self.revocations.revoked_at,
        )
        self.revocation_broadcast = RevocationBroadcast(
            instance=self.instance.name,
            sessions=self.sessions,
            broker=self.broker,
            signer=self.signer,
            trust=self.trust,
            revocations=self.revocations,
            interval=self.settings.token_revocation_interval,
        )
        self.relay = OutboxRelay(
            self.sessions,
            self.broker,
            signer=self.signer,
            batch_size=self.settings.relay_batch_size,
            poll_interval=self.settings.relay_poll_interval,
            retention=self.settings.outbox_sent_retention,
        )
        wake_relay_after_commit(self.sessions, self.relay)
        self.lists = ListVersions(self.sessions)  # task lists: 304s and long polls (0020)
        deferred = self.settings.audit_chaining == "deferred"
        self.audit = AuditTrail(
            self.sessions, self.settings.audit_key_bytes(), self._now, deferred=deferred
        )
        install(self.audit)
        # Deferred chaining (0048): entries written unchained are linked moments after.
        self.chainer = (
            AuditChainer(
                self.sessions,
                self.settings.audit_key_bytes(),
                interval=self.settings.audit_chain_interval,
                now=self._now,
            )
            if deferred
            else None
        )
        # The chain's head, signed, kept by the level above (0027); tiers with a level below
        # keep the anchors it sends.
        self.anchoring = AuditAnchoring(
            instance=self.instance,
            federation=self.federation,
            sessions=self.sessions,
            signer=self.signer,
            interval=self.settings.audit_anchor_interval,
            key=self.settings.audit_key_bytes(),
        )
        if self.tier != Tier.SCHOOL:
            anchors.register(self.handlers, self.trust)
        self.consumer = MessageConsumer(
            topology=ServiceTopology(
                instance=self.instance.name,
                units=self.units,
                retry_delays_ms=self.settings.retry_delays_ms,
            ),
            handlers=self.handlers,
            session_factory=self.sessions,
            broker=self.broker,
            verifier=Verifier(
                instance=self.instance.name,
                trust=self.trust,
                hosted=frozenset(self.units),
                max_age=self.settings.message_max_age,
                max_skew=self.settings.message_max_skew,
            ),
            batch_size=self.settings.consumer_batch_size,
            prefetch=self.settings.consumer_prefetch,
            inbox_retention=self.settings.inbox_retention,
        )
        # /metrics; tiers add gauges with self.metrics.register_gauge_callback(...)
        self.metrics = ServiceMetrics()
        self.metrics.describe_instance(self.instance.name, self.tier.value)
        self.metrics.count_commits_of(self.sessions)
        register_kernel_metrics(
            self.metrics,
            consumer=self.consumer,
            relay=self.relay,
            broker=self.broker,
            sessions=self.sessions,
        )
        health_metrics.register(self)  # readiness, audit chain, sealed accounts, key expiry

    def _now(self) -> datetime:
        return self.clock.now()

    @property
    def units(self) -> Sequence[UnitRef]:
        """Every unit hosted here: the instance's tier's, and a province's cities (0034)."""
        return list(self.instance.hosted)

    def hosts(self, code: str) -> bool:
        """Whether a unit of the instance's own tier with this code is hosted here."""
        return self.instance.hosts_code(code)

    def hosts_unit(self, unit: UnitRef) -> bool:
        return self.instance.hosts_unit(unit)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    async def start(self) -> None:
        await self.prepare_accounts()
        self.broker.start()
        self.consumer.start()
        self.relay.start()
        self.revocation_broadcast.start()
        if self.chainer is not None:
            self.chainer.start()
        self.anchoring.start()

    async def stop(self, step_timeout: float = 15.0) -> None:
        """Stop relay, consumer, broker connection and engine, in that order, each within
        ``step_timeout`` seconds: a shutdown that waits forever on one part (a publish
        confirm that never comes, a connection that never closes) would keep a pod in
        Terminating and a test session hanging; what is left unsent stays in the outbox."""
        for name, step in (
            ("audit anchoring", self.anchoring.stop),
            ("audit chainer", self.chainer.stop if self.chainer else _nothing),
            ("token revocations", self.revocation_broadcast.stop),
            ("relay", self.relay.stop),
            ("consumer", self.consumer.stop),
            ("broker connection", self.broker.close),
            ("database engine", self.engine.dispose),
        ):
            try:
                await asyncio.wait_for(step(), step_timeout)
            except TimeoutError:
                log.error("stopping the %s took over %.0f s; going on", name, step_timeout)

    async def prepare_accounts(self) -> None:
        """In development, create the accounts of XUEJI_DEV_ACCOUNTS for the hosted units.

        Dormant accounts are sealed when they try to log in or their unit's accounts are
        listed (shared/security/accounts.py), not here."""
        if self.settings.dev_accounts is None or self.settings.env == "production":
            return
        seeded = accounts.read_dev_accounts(self.settings.dev_accounts)
        async with self.sessions() as session:
            count = await accounts.seed_accounts(session, seeded, self.units, self.clock.now())
            await session.commit()
        log.info("development accounts ready: %d for the hosted units", count)

    async def readiness(self) -> dict[str, str]:
        """What /readyz reports: each dependency "ok" or why not."""
        checks: dict[str, str] = {}
        try:
            async with self.reads() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["broker"] = "ok" if self.broker.is_ready else "not connected"
        return checks


def signing_keys(
    settings: ServiceSettings, federation: Federation, instance: Instance
) -> tuple[Signer, TrustStore]:
    """The instance's signing key and trust store: from files, else development keys."""
    if settings.signing_key_file is not None and settings.trusted_keys_file is not None:
        return load_keys(
            settings.signing_key_file,
            settings.trusted_keys_file,
            settings.signing_key_id or instance.name,
        )
    if settings.env == "production":  # the settings refuse this already; never fall through
        raise ValueError("production needs message signing keys")
    log.warning(
        "no XUEJI_SIGNING_KEY_FILE: %s signs with a development key derived from its name;"
        " anyone can forge such messages (refused in production)",
        instance.name,
    )
    return development_keys(federation, instance.name)


def build_runtime(
    tier: Tier, settings: ServiceSettings, handlers: HandlerRegistry
) -> ServiceRuntime:
    federation = load_federation(settings.federation_config)
    return ServiceRuntime(
        tier=tier,
        settings=settings,
        federation=federation,
        instance=federation.instance(settings.instance),
        handlers=handlers,
    )


async def _nothing() -> None:
    return None
