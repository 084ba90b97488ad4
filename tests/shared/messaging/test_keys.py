"""Signing keys on disk and in settings: generated 0600, kept across runs, checked at start."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from devtools.testing import REPO_CONFIG
from shared.federation.config import Tier, UnitRef, load_federation
from shared.messaging.keys import (
    TRUST_FILE,
    development_keys,
    generate_federation_keys,
    load_keys,
    load_trust_file,
    main,
    private_key_path,
)
from shared.messaging.signing import SIGNATURE_HEADER, SecurityRefusal, Verifier
from shared.runtime.settings import ServiceSettings

FEDERATION = load_federation(REPO_CONFIG)
PRODUCTION = {
    "env": "production",
    "instance": "school-41",
    "database_url": "postgresql+asyncpg://x:y@db/x",
    "amqp_url": "amqp://user:secret@broker:5672/",
    "audit_key": "a production audit chain key of 32 bytes or more",
}


def test_generated_keys_are_private_kept_and_trusted(tmp_path: Path) -> None:
    trust_path = generate_federation_keys(FEDERATION, tmp_path / "keys")
    assert trust_path == tmp_path / "keys" / TRUST_FILE
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for instance in FEDERATION.instances:
        path = private_key_path(tmp_path / "keys", instance.name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = private_key_path(tmp_path / "keys", "school-41").read_bytes()
    generate_federation_keys(FEDERATION, tmp_path / "keys")  # a second run keeps every key
    assert private_key_path(tmp_path / "keys", "school-41").read_bytes() == before

    _signer, trust = load_keys(
        private_key_path(tmp_path / "keys", "school-41"), trust_path, "school-41"
    )
    assert len(trust) == len(FEDERATION.instances)
    entry = trust.get("school-41")
    assert entry is not None and "4101020001" in entry.units and entry.tier == "school"


def test_a_private_key_the_trust_file_does_not_list_is_refused_at_start(tmp_path: Path) -> None:
    trust_path = generate_federation_keys(FEDERATION, tmp_path / "keys")
    with pytest.raises(ValueError, match="receivers would refuse"):
        load_keys(private_key_path(tmp_path / "keys", "county-41"), trust_path, "school-41")


def test_the_trust_entry_command_prints_an_entry_for_a_new_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "school-41.key"
    assert (
        main(
            [
                "trust-entry",
                "--config",
                str(REPO_CONFIG),
                "--instance",
                "school-41",
                "--key",
                str(key),
            ]
        )
        == 0
    )
    (tmp_path / "trusted.toml").write_text(capsys.readouterr().out)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    _signer, trust = load_keys(key, tmp_path / "trusted.toml", "school-41")
    assert trust.get("school-41") is not None


def test_a_rotated_key_gets_its_own_id_and_a_rotation_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rotation (docs/runbook.md): the new key's entry sits beside the old one's."""
    entries = []
    for key_id, extra in (("school-41", []), ("school-41-2027", ["--expires", "2028-09-01"])):
        command = ["trust-entry", "--config", str(REPO_CONFIG), "--instance", "school-41"]
        key = tmp_path / f"{key_id}.key"
        assert main([*command, "--key", str(key), "--key-id", key_id, *extra]) == 0
        entries.append(capsys.readouterr().out)
    (tmp_path / "trusted.toml").write_text("\n".join(entries))
    signer, trust = load_keys(
        tmp_path / "school-41-2027.key", tmp_path / "trusted.toml", "school-41-2027"
    )
    assert signer.key_id == "school-41-2027"
    old, new = trust.get("school-41"), trust.get("school-41-2027")
    assert old is not None and new is not None and old.instance == new.instance == "school-41"
    assert (old.expires, new.expires) == (None, datetime(2028, 9, 1, tzinfo=UTC))


def test_production_refuses_to_start_without_signing_keys(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="XUEJI_SIGNING_KEY_FILE"):
        ServiceSettings(**PRODUCTION)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="go together"):
        ServiceSettings(**PRODUCTION, signing_key_file=tmp_path / "k")  # type: ignore[arg-type]
    settings = ServiceSettings(
        **PRODUCTION,  # type: ignore[arg-type]
        signing_key_file=tmp_path / "k",
        trusted_keys_file=tmp_path / "t",
    )
    assert settings.signing_key_file == tmp_path / "k"


def test_development_keys_verify_across_instances_and_only_for_their_units() -> None:
    signer, _ = development_keys(FEDERATION, "school-41")
    _, trust = development_keys(FEDERATION, "county-41")
    county = FEDERATION.instance("county-41")
    verifier = Verifier(
        "county-41",
        trust,
        frozenset(_unit("county", c) for c in county.units),
    )
    body = b'{"any": "body"}'
    key = verifier.verify(body, {SIGNATURE_HEADER: signer.sign(body)})
    assert key.instance == "school-41" and key.speaks_for(_unit("school", "4101020001"))
    assert not key.speaks_for(_unit("school", "3301020001"))
    with pytest.raises(SecurityRefusal, match="bad_signature"):
        verifier.verify(body + b" ", {SIGNATURE_HEADER: signer.sign(body)})


def test_the_trust_file_rejects_a_malformed_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[key]]\nid = "x"\ninstance = "x"\ntier = "school"\nunits = []\npublic_key = "not a key"\n'
    )
    with pytest.raises(ValueError, match="bad \\[\\[key\\]\\] entry"):
        load_trust_file(path)


def _unit(tier: str, code: str) -> UnitRef:
    return UnitRef(tier=Tier(tier), code=code)
