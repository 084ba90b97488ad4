"""The gauges the operators' alerts watch that no other part exports (decision 0030).

- ``xueji_ready{check=database|broker}``: 1 when the check of ``GET /readyz`` passes, 0 when
  not (a database that does not answer within ``READY_TIMEOUT`` counts as down);
- ``xueji_audit_chain_broken`` (1 when the last verification of the instance's own audit chain,
  before anchoring it, found a break), ``xueji_audit_chain_verified_entry`` (the last entry
  found whole) and ``xueji_audit_chain_verifications_total{result=ok|broken}``; with deferred
  chaining (decision 0048) ``xueji_audit_pending_entries`` and
  ``xueji_audit_pending_oldest_seconds`` (the unchained tail, as the chainer last measured it)
  and ``xueji_audit_chained_entries_total``;
- ``xueji_accounts_sealed_last_hour{how=dormant|by_superior}``: accounts of this instance
  sealed in the last hour (one range read on ``ix_security_account_tokens_revoked_at``: sealing
  revokes the account's tokens at the same moment);
- ``xueji_signing_key_expiry_timestamp_seconds{key_id}``: when this instance's signing key is to
  be replaced (``expires`` of its trust file entry; absent when the entry has none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from shared.security.tables import account
from shared.telemetry.metrics import LabelValues

if TYPE_CHECKING:
    from shared.audit.anchors import AuditAnchoring
    from shared.audit.chaining import AuditChainer
    from shared.db.engine import SessionFactory
    from shared.messaging.signing import Signer, TrustStore
    from shared.runtime.service import ServiceRuntime

READY_TIMEOUT = 3.0
SEALED_WINDOW = timedelta(hours=1)


class AuditChainCollector(Collector):
    """What the anchoring task found when it last verified the chain (no I/O at scrape)."""

    def __init__(self, anchoring: AuditAnchoring, chainer: AuditChainer | None = None) -> None:
        self._anchoring = anchoring
        self._chainer = chainer

    def collect(self) -> Iterable[Metric]:
        anchoring = self._anchoring
        yield GaugeMetricFamily(
            "xueji_audit_chain_broken",
            "1 when the last verification of this instance's audit chain found a break",
            value=0 if anchoring.broken is None else 1,
        )
        yield GaugeMetricFamily(
            "xueji_audit_chain_verified_entry",
            "The last audit chain entry found whole (0 before the first verification)",
            value=anchoring.verified[0] if anchoring.verified else 0,
        )
        rounds = CounterMetricFamily(
            "xueji_audit_chain_verifications",
            "Verifications of the audit chain before anchoring, by result",
            labels=["result"],
        )
        for result, count in sorted(anchoring.verifications.items()):
            rounds.add_metric([result], count)
        yield rounds
        chainer = self._chainer  # None: chained inline, nothing is ever pending
        yield GaugeMetricFamily(
            "xueji_audit_pending_entries",
            "Audit entries written but not chained yet (deferred chaining, decision 0048)",
            value=chainer.pending if chainer else 0,
        )
        yield GaugeMetricFamily(
            "xueji_audit_pending_oldest_seconds",
            "How long the oldest audit entry not chained yet has waited",
            value=chainer.oldest_age() if chainer else 0,
        )
        yield CounterMetricFamily(
            "xueji_audit_chained_entries",
            "Audit entries this process's chainer appended to the chain",
            value=chainer.chained if chainer else 0,
        )


class SigningKeyCollector(Collector):
    """The rotation deadline of the key this instance signs with."""

    def __init__(self, signer: Signer, trust: TrustStore) -> None:
        self._signer = signer
        self._trust = trust

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "xueji_signing_key_expiry_timestamp_seconds",
            "When this instance's signing key is to be replaced (trust file 'expires')",
            labels=["key_id"],
        )
        entry = self._trust.get(self._signer.key_id)
        if entry is not None and entry.expires is not None:
            family.add_metric([entry.key_id], entry.expires.timestamp())
        yield family


async def sealed_since(sessions: SessionFactory, since: datetime) -> dict[LabelValues, float]:
    """Accounts sealed since ``since`` (wall clock), by how: dormant, or by the level above."""
    how = case(
        (account.c.sealed_reason.like("sealed by %"), "by_superior"),
        else_="dormant",
    ).label("how")
    query = (
        select(how, func.count())
        .where(account.c.tokens_revoked_at >= since, account.c.sealed_at.is_not(None))
        .group_by(how)
    )
    counts: dict[LabelValues, float] = {("dormant",): 0, ("by_superior",): 0}
    async with sessions() as session:
        for kind, count in (await session.execute(query)).all():
            counts[(str(kind),)] = count
    return counts


def register(runtime: ServiceRuntime) -> None:
    metrics = runtime.metrics

    async def ready() -> Mapping[LabelValues, float]:
        try:
            checks = await asyncio.wait_for(runtime.readiness(), READY_TIMEOUT)
        except TimeoutError:
            checks = {"database": "timeout", "broker": "ok" if runtime.broker.is_ready else "-"}
        return {(name,): 1.0 if state == "ok" else 0.0 for name, state in checks.items()}

    async def sealed() -> Mapping[LabelValues, float]:
        return await sealed_since(runtime.sessions, datetime.now(UTC) - SEALED_WINDOW)

    metrics.register_gauge_callback(
        "xueji_ready", "1 while the readiness check passes, by check", ["check"], ready
    )
    metrics.register_gauge_callback(
        "xueji_accounts_sealed_last_hour",
        "Accounts sealed in the last hour, by how (dormant, by_superior)",
        ["how"],
        sealed,
    )
    metrics.register_collector(AuditChainCollector(runtime.anchoring, runtime.chainer))
    metrics.register_collector(SigningKeyCollector(runtime.signer, runtime.trust))
