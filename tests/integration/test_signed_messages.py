"""Signed messages across separate processes: the running national service refuses a forged,
a misattributed and a stale message (dead letter with its reason, security alert on /metrics,
nothing applied); ``xueji-ops`` replays the stale one with national's own key from the local
federation's key directory, and then it applies."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from typing import Any

import aio_pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from devtools.launcher import LocalFederation
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.envelope import build_envelope
from shared.messaging.keys import load_private_key, private_key_path
from shared.messaging.signing import SIGNATURE_HEADER, Signer
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.ops import cli
from shared.ops.dead_letters import list_dead_letters
from shared.runtime.diagnostics import Ping
from tests.integration.conftest import Federation
from tests.shared.messaging.harness import eventually

SCHOOL = UnitRef(tier=Tier.SCHOOL, code="4101020001")
HOUR_MS = 3_600_000


async def alerts(fed: Federation) -> dict[str, float]:
    response = await fed.get("national", "CN", "/metrics")
    assert response.status_code == 200, response.text
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "xueji_security_alerts"
        for sample in family.samples
        if sample.name == "xueji_security_alerts_total"
    }


async def pings_applied(fed: Federation) -> float:
    response = await fed.get("national", "CN", "/metrics")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "xueji_messages_in_total" and sample.labels == {
                "type": "diagnostics.ping",
                "outcome": "applied",
            }:
                return sample.value
    return 0.0


async def publish(amqp_url: str, body: bytes, headers: dict[str, Any], message_id: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        message = aio_pika.Message(
            body, headers=headers, message_id=message_id, type="diagnostics.ping"
        )
        await exchange.publish(message, "national.CN.diagnostics.ping", mandatory=True)


async def test_a_running_service_refuses_forged_misattributed_and_stale_messages(
    federation: LocalFederation, fed: Federation
) -> None:
    keys = federation.keys_dir
    school = federation.instance_for_unit("school", SCHOOL.code).name
    county = federation.instance_for_unit("county", "410102").name
    national = federation.instance_for_unit("national", "CN").name
    school_key = Signer(school, load_private_key(private_key_path(keys, school)))
    county_key = Signer(county, load_private_key(private_key_path(keys, county)))
    impostor = Signer(school, Ed25519PrivateKey.generate())  # the school's key id, not its key
    before, applied_before = await alerts(fed), await pings_applied(fed)

    sent: dict[str, str] = {}
    for reason, signer, age_ms in (
        ("bad_signature", impostor, 0),
        ("source_not_hosted_by_signer", county_key, 0),  # a county speaking for a school
        ("expired", school_key, 80 * HOUR_MS),
    ):
        envelope = build_envelope(Ping(probe_id=uuid.uuid4()), source=SCHOOL, target=NATIONAL)
        body = envelope.to_json()
        signature = signer.sign(body, time.time_ns() // 1_000_000 - age_ms)
        await publish(federation.amqp_url, body, {SIGNATURE_HEADER: signature}, reason)
        sent[reason] = str(envelope.message_id)

    async def alerted() -> bool:
        now = await alerts(fed)
        return all(now.get(reason, 0) > before.get(reason, 0) for reason in sent)

    await eventually(alerted, timeout=30)
    letters = {
        letter.message_id: letter.reason
        for letter in await asyncio.to_thread(list_dead_letters, federation.amqp_url, national)
    }
    for reason in sent:
        assert letters[reason].startswith(f"security: {reason}: "), letters[reason]
    assert await pings_applied(fed) == applied_before  # none applied

    # The operator replays the stale one; xueji-ops finds national's key through
    # federation.json and renews it, so it applies now (the others stay refused).
    out = io.StringIO()
    code = await asyncio.to_thread(
        cli.main,
        [
            "--federation",
            str(federation.federation_json),
            "dead-letters",
            "replay",
            "--instance",
            national,
            "--message-id",
            "expired",
        ],
        out,
    )
    assert code == 0, out.getvalue()
    assert "replayed  expired" in out.getvalue()

    async def applied() -> bool:
        return await pings_applied(fed) > applied_before

    await eventually(applied, timeout=30)
    assert (await alerts(fed)).get("expired", 0) == before.get("expired", 0) + 1
