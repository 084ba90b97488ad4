"""Signed messages across separate processes: the running national service refuses a forged,
a misattributed and a stale message (dead letter with its reason, security alert on /metrics,
nothing applied), and a routine ``xueji-ops`` replay keeps the stale one. A school's genuine key
cannot send what national alone decides (a forged ``transfer.completed``, ``step_opened``), and
a genuine national message signed a month ago is replayed only when forced with a reason, which
lands in the instance's audit trail (decisions 0013, 0025)."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aio_pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from devtools.launcher import LocalFederation
from shared.contracts.transfer import StudentSummary, TransferCompleted, TransferStepOpened
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.messaging.envelope import Envelope, build_envelope
from shared.messaging.keys import load_private_key, private_key_path
from shared.messaging.signing import SIGNATURE_HEADER, Signer
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.ops import cli
from shared.ops.dead_letters import list_dead_letters
from shared.runtime.diagnostics import Ping
from tests.integration.conftest import Federation
from tests.integration.transfer_support import enrolled_student, roster_status
from tests.shared.messaging.harness import eventually

SCHOOL = UnitRef(tier=Tier.SCHOOL, code="4101020001")
HOUR_MS = 3_600_000


async def alerts(fed: Federation, tier: str = "national", code: str = "CN") -> dict[str, float]:
    response = await fed.get(tier, code, "/metrics")
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

    # A routine replay keeps the stale one, even though xueji-ops finds national's own key
    # through federation.json (renewing it would launder an expired message); it says why.
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
    assert code == 1, out.getvalue()
    assert "kept      expired: security refusal (expired)" in out.getvalue()
    assert await pings_applied(fed) == applied_before


ZHEJIANG_SCHOOL = "3301020001"
SICHUAN_SCHOOL = "5134010001"


def signer_of(federation: LocalFederation, tier: str, code: str) -> Signer:
    """The genuine key of the instance hosting ``tier:code`` (as a compromised pod has it)."""
    name = federation.instance_for_unit(tier, code).name
    return Signer(name, load_private_key(private_key_path(federation.keys_dir, name)))


def completed(kid: dict[str, Any], to_school: str) -> TransferCompleted:
    now = datetime.now(UTC)
    return TransferCompleted(
        transfer_id=uuid.uuid4(),
        student_number=kid["student_number"],
        from_school=kid["school"],
        to_school=to_school,
        grade=kid["grade"],
        completed_at=now,
        archive_due_on=now.date() + timedelta(days=30),
        student=StudentSummary(
            name=kid["name"],
            gender=kid["gender"],
            birth_date=date.fromisoformat(kid["birth_date"]),
            grade=kid["grade"],
        ),
    )


async def send(
    federation: LocalFederation, envelope: Envelope, signer: Signer, age_ms: int = 0
) -> None:
    body = envelope.to_json()
    signature = signer.sign(body, time.time_ns() // 1_000_000 - age_ms)
    connection = await aio_pika.connect(federation.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        message = aio_pika.Message(
            body,
            headers={SIGNATURE_HEADER: signature},
            message_id=str(envelope.message_id),
            type=envelope.type,
        )
        await exchange.publish(message, envelope.routing_key, mandatory=True)


async def archive_at(fed: Federation, province: str, school: str, number: str) -> int:
    path = f"/api/v1/schools/{school}/archives/{number}"
    return (await fed.get("province", province, path)).status_code


async def test_a_school_key_cannot_send_what_national_alone_decides(
    federation: LocalFederation, fed: Federation
) -> None:
    """The review's forgery: ``transfer.completed`` signed with school 5134010001's genuine
    key, sent to the Zhejiang school (it would mark the student transferred out) and to
    province 33 (it would hand the archive to Sichuan), and a ``step_opened`` to a county
    (it would open a task): each refused with an alert, nothing changes."""
    kid = await enrolled_student(fed, ZHEJIANG_SCHOOL)
    number = kid["student_number"]
    source = UnitRef(tier=Tier.SCHOOL, code=SICHUAN_SCHOOL)
    school_key = signer_of(federation, "school", SICHUAN_SCHOOL)
    assert await archive_at(fed, "33", ZHEJIANG_SCHOOL, number) == 200
    targets = {
        ("school", ZHEJIANG_SCHOOL): completed(kid, SICHUAN_SCHOOL),
        ("province", "33"): completed(kid, SICHUAN_SCHOOL),
        ("county", "330102"): TransferStepOpened(
            transfer_id=uuid.uuid4(),
            step_id=uuid.uuid4(),
            role="sending_authority",
            student_number=number,
            student=completed(kid, SICHUAN_SCHOOL).student,
            from_school=ZHEJIANG_SCHOOL,
            to_school=SICHUAN_SCHOOL,
            reason="forged",
            opened_on=date.today(),
            due_on=date.today() + timedelta(days=14),
            due_approximate=False,
        ),
    }
    before = {unit: await alerts(fed, *unit) for unit in targets}
    sent = {}
    for (tier, code), payload in targets.items():
        target = UnitRef(tier=Tier(tier), code=code)
        envelope = build_envelope(payload, source=source, target=target)
        await send(federation, envelope, school_key)
        sent[(tier, code)] = envelope

    async def alerted() -> bool:
        for unit in targets:
            now = (await alerts(fed, *unit)).get("sender_not_allowed", 0)
            if now != before[unit].get("sender_not_allowed", 0) + 1:
                return False
        return True

    await eventually(alerted, timeout=30)
    for (tier, code), envelope in sent.items():
        instance = federation.instance_for_unit(tier, code).name
        letters = await asyncio.to_thread(list_dead_letters, federation.amqp_url, instance)
        [letter] = [d for d in letters if d.message_id == str(envelope.message_id)]
        assert letter.reason.startswith("security: sender_not_allowed: "), letter.reason
        assert letter.security == "sender_not_allowed"

    # No effect: the student is still enrolled in Zhejiang, the archive still there and not
    # handed to Sichuan, and the county has no task for the forged step.
    assert await roster_status(fed, ZHEJIANG_SCHOOL, number) == "enrolled"
    assert await archive_at(fed, "33", ZHEJIANG_SCHOOL, number) == 200
    assert await archive_at(fed, "51", SICHUAN_SCHOOL, number) == 404
    tasks = await fed.get(
        "county", "330102", "/api/v1/counties/330102/tasks", params={"limit": 200}
    )
    assert tasks.status_code == 200, tasks.text
    forged_step = sent[("county", "330102")].payload["transfer_id"]
    assert all(str(t.get("transfer_id")) != forged_step for t in tasks.json()["items"])


async def test_a_month_old_national_decision_is_replayed_only_when_forced_with_a_reason(
    federation: LocalFederation, fed: Federation
) -> None:
    """A genuine national ``transfer.completed`` signed 31 days ago is dead-lettered as
    expired; ``replay --all`` keeps it (saying why); ``--force --reason`` replays it, renewed
    by the school instance's own key, and the reason is in that instance's audit trail."""
    kid = await enrolled_student(fed, ZHEJIANG_SCHOOL)
    number = kid["student_number"]
    school = federation.instance_for_unit("school", ZHEJIANG_SCHOOL).name
    target = UnitRef(tier=Tier.SCHOOL, code=ZHEJIANG_SCHOOL)
    envelope = build_envelope(completed(kid, SICHUAN_SCHOOL), source=NATIONAL, target=target)
    before = (await alerts(fed, "school", ZHEJIANG_SCHOOL)).get("expired", 0)
    await send(federation, envelope, signer_of(federation, "national", "CN"), 31 * 24 * HOUR_MS)

    async def expired() -> bool:
        now = await alerts(fed, "school", ZHEJIANG_SCHOOL)
        return now.get("expired", 0) == before + 1

    await eventually(expired, timeout=30)
    message_id = str(envelope.message_id)
    command = ["--federation", str(federation.federation_json), "dead-letters", "replay"]
    command += ["--instance", school]
    if federation.database_url_for is not None:  # the instance's database, for the audit
        command += ["--database-url", federation.database_url_for(school)]

    out = io.StringIO()
    assert await asyncio.to_thread(cli.main, [*command, "--all"], out) == 1
    printed = out.getvalue()
    assert f"kept      {message_id}: security refusal (expired)" in printed
    assert "signed 31 days ago, near or past the inbox's memory" in printed
    assert await roster_status(fed, ZHEJIANG_SCHOOL, number) == "enrolled"

    reason = "国家平台故障恢复后核对无误，补发"
    out = io.StringIO()
    forced = [*command, "--message-id", message_id, "--force", "--reason", reason]
    assert await asyncio.to_thread(cli.main, forced, out) == 0, out.getvalue()
    assert f"replayed  {message_id} (security refusal, forced; audited)" in out.getvalue()

    async def left() -> bool:
        return await roster_status(fed, ZHEJIANG_SCHOOL, number) == "transferred_out"

    await eventually(left, timeout=30)
    audit = await fed.get(
        "school", ZHEJIANG_SCHOOL, "/api/v1/audit", params={"object_id": message_id}
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert (entry["action"], entry["purpose"], entry["outcome"]) == (
        "replay_forced",
        reason,
        "security: expired",
    )
