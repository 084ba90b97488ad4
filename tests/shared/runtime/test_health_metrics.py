"""The gauges the alert rules watch (decision 0030), scraped from ``GET /metrics`` of a started
school service on the real broker and each database: readiness, the audit chain's own
verification, sealed accounts of the last hour and the signing key's rotation deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from devtools.testing import federation_copy
from shared.audit.chain import append
from shared.federation.config import UnitRef, load_federation
from shared.messaging.keys import generate_federation_keys, load_trust_file, private_key_path
from shared.security import accounts
from shared.security.principal import Role
from shared.security.tables import account
from tests.security.running import Running, running
from tests.shared.audit.support import entry, tamper

pytestmark = pytest.mark.broker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SCHOOL = UnitRef.parse("school:4101020001")


async def scrape(school: Running) -> Samples:
    response = await school.client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
async def school(tmp_path: Path, database_url: str, amqp_url: str) -> AsyncIterator[Running]:
    config = federation_copy(tmp_path / "federation")
    async with running("school", config, "school-41", database_url, amqp_url) as started:
        yield started


async def test_ready_reports_each_check_and_drops_when_the_broker_goes(school: Running) -> None:
    samples = await scrape(school)
    assert value(samples, "xueji_ready", check="database") == 1
    assert value(samples, "xueji_ready", check="broker") == 1

    await school.runtime.broker.close()
    samples = await scrape(school)
    assert value(samples, "xueji_ready", check="broker") == 0
    assert value(samples, "xueji_ready", check="database") == 1


async def test_sealed_accounts_of_the_last_hour_by_how(school: Running) -> None:
    now = datetime.now(UTC)
    sessions = school.runtime.sessions
    async with sessions() as session:
        for n in range(5):
            new = accounts.NewAccount(f"reg-{n}", SCHOOL, frozenset({Role.REGISTRAR}), "x" * 12)
            await accounts.create_account(session, new, now - timedelta(days=400))
        await session.commit()
    samples = await scrape(school)
    assert value(samples, "xueji_accounts_sealed_last_hour", how="dormant") == 0
    assert value(samples, "xueji_accounts_sealed_last_hour", how="by_superior") == 0

    async with sessions() as session:
        await accounts.seal(session, "reg-0", "county:410102/admin", "调离", now)
        await accounts.seal(session, "reg-1", "county:410102/admin", "调离", now)
        # sealed two hours ago: outside the window
        await accounts.seal(session, "reg-2", "county:410102/admin", "调离", now)
        await session.execute(
            update(account)
            .where(account.c.username == "reg-2")
            .values(tokens_revoked_at=now - timedelta(hours=2))
        )
        policy = accounts.AccountPolicy.of(school.runtime.settings)
        assert await accounts.seal_dormant(session, policy, now) == 2  # reg-3, reg-4
        await session.commit()
    samples = await scrape(school)
    assert value(samples, "xueji_accounts_sealed_last_hour", how="by_superior") == 2
    assert value(samples, "xueji_accounts_sealed_last_hour", how="dormant") == 2


async def test_the_audit_chain_is_verified_before_anchoring_and_a_break_is_reported(
    school: Running,
) -> None:
    anchoring = school.runtime.anchoring
    samples = await scrape(school)
    assert value(samples, "xueji_audit_chain_broken") == 0
    assert value(samples, "xueji_audit_chain_verified_entry") == 0

    sessions = school.runtime.sessions
    for n in range(4):
        async with sessions() as session:
            await session.run_sync(append, entry(n), school.runtime.settings.audit_key_bytes())
            await session.commit()
    assert await anchoring.anchor() is not None
    samples = await scrape(school)
    assert value(samples, "xueji_audit_chain_broken") == 0
    assert value(samples, "xueji_audit_chain_verified_entry") == 4
    assert value(samples, "xueji_audit_chain_verifications_total", result="ok") == 1

    # an entry after the last verified head is edited: the next round finds it, anchors nothing
    async with sessions() as session:
        await session.run_sync(append, entry(4), school.runtime.settings.audit_key_bytes())
        await session.commit()
    await tamper(sessions, "UPDATE kernel_audit_entry SET purpose = '篡改' WHERE seq = 5")
    assert await anchoring.anchor() is None
    assert anchoring.broken is not None and anchoring.broken.seq == 5
    # the verified head stays where it was; the next round is broken again
    assert await anchoring.anchor() is None
    samples = await scrape(school)
    assert value(samples, "xueji_audit_chain_broken") == 1
    assert value(samples, "xueji_audit_chain_verified_entry") == 4
    assert value(samples, "xueji_audit_chain_verifications_total", result="broken") == 2
    assert anchoring.anchored is not None and anchoring.anchored[0] == 4

    # an anchored entry edited later is found too (the round checks it is still whole)
    await tamper(sessions, "UPDATE kernel_audit_entry SET purpose = '核对学籍' WHERE seq = 5")
    assert await anchoring.anchor() is not None
    assert value(await scrape(school), "xueji_audit_chain_broken") == 0
    await tamper(sessions, "UPDATE kernel_audit_entry SET purpose = '篡改' WHERE seq = 2")
    await tamper(sessions, "UPDATE kernel_audit_entry SET actor = 'x' WHERE seq = 5")
    assert await anchoring.anchor() is None
    assert value(await scrape(school), "xueji_audit_chain_broken") == 1


def _with_expiry(trust: Path, key_id: str, expires: str) -> None:
    text = trust.read_text()
    marker = f'id = "{key_id}"\n'
    assert marker in text
    trust.write_text(text.replace(marker, f"{marker}expires = {expires}\n"))


def test_a_trust_entry_may_carry_its_rotation_deadline(tmp_path: Path) -> None:
    config = federation_copy(tmp_path / "federation")
    federation = load_federation(config)
    trust = generate_federation_keys(federation, tmp_path / "keys")
    names = [i.name for i in federation.instances]
    _with_expiry(trust, names[0], "2027-09-01")
    _with_expiry(trust, names[1], "2027-09-01T08:00:00+08:00")
    store = load_trust_file(trust)
    assert store.get(names[0]).expires == datetime(2027, 9, 1, tzinfo=UTC)  # type: ignore[union-attr]
    assert store.get(names[1]).expires == datetime(2027, 9, 1, tzinfo=UTC)  # type: ignore[union-attr]
    assert store.get(names[2]).expires is None  # type: ignore[union-attr]

    text = trust.read_text().replace("expires = 2027-09-01\n", 'expires = "soon"\n')
    trust.write_text(text)
    with pytest.raises(ValueError, match="expires"):
        load_trust_file(trust)


async def test_the_signing_key_expiry_is_exported_for_the_instances_own_key(
    tmp_path: Path, database_url: str, amqp_url: str
) -> None:
    config = federation_copy(tmp_path / "federation")
    federation = load_federation(config)
    keys = tmp_path / "keys"
    trust = generate_federation_keys(federation, keys)
    school_name = next(i.name for i in federation.instances if i.name.startswith("school-41"))
    _with_expiry(trust, school_name, date(2027, 3, 1).isoformat())
    signing = {
        "signing_key_file": private_key_path(keys, school_name),
        "trusted_keys_file": trust,
    }
    async with running("school", config, "school-41", database_url, amqp_url, **signing) as s:
        samples = await scrape(s)
    expected = datetime(2027, 3, 1, tzinfo=UTC).timestamp()
    found = {
        labels: v
        for (name, labels), v in samples.items()
        if name == "xueji_signing_key_expiry_timestamp_seconds"
    }
    assert found == {frozenset({("key_id", school_name)}): expected}
