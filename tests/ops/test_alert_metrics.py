"""Every xueji metric an alert rule reads is one the services declare (decision 0030): each tier's
app is started on SQLite and the real broker and its ``GET /metrics`` scraped through the ASGI
client; the names come from its ``# TYPE`` lines (a family is declared there even before its
first sample, e.g. dead letters). Exporter metrics (RabbitMQ, postgres_exporter, kubelet,
cert-manager) are the exporters' own names and are not checked here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.testing import federation_copy
from tests.ops.alert_rules import undeclared, used_metrics
from tests.security.running import running

pytestmark = pytest.mark.broker

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def declared_names(exposition: str) -> set[str]:
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        names.add(name)
        names.update(name + suffix for suffix in SUFFIXES.get(kind, ()))
    return names


async def test_every_xueji_metric_the_rules_use_is_declared_by_a_service(
    tmp_path: Path, amqp_url: str
) -> None:
    config = federation_copy(tmp_path / "federation")
    declared: set[str] = set()
    by_tier: dict[str, set[str]] = {}
    for tier, base in (
        ("national", "national"),
        ("province", "province-41"),
        ("county", "county-41"),
        ("school", "school-41"),
    ):
        url = f"sqlite+aiosqlite:///{tmp_path / tier}.sqlite"
        async with running(tier, config, base, url, amqp_url) as service:
            response = await service.client.get("/metrics")
        assert response.status_code == 200
        by_tier[tier] = declared_names(response.text)
        declared |= by_tier[tier]

    used = used_metrics()
    assert any(name.startswith("xueji_") for name in used)
    assert undeclared(used, declared) == set()
    # what every tier exports (not only the one that happened to be scraped first)
    for tier, names in by_tier.items():
        for name in (
            "xueji_ready",
            "xueji_outbox_oldest_unsent_age_seconds",
            "xueji_messages_dead_lettered_total",
            "xueji_security_alerts_total",
            "xueji_audit_chain_broken",
            "xueji_accounts_sealed_last_hour",
            "xueji_signing_key_expiry_timestamp_seconds",
        ):
            assert name in names, (tier, name)
    assert "xueji_transfer_steps" in by_tier["national"]
