"""Signing keys on disk and in settings: generated 0600, kept across runs, checked at start."""

from __future__ import annotations

import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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
    public_key_text,
    trust_entry,
    write_trust_file,
)
from shared.messaging.signing import (
    SIGNATURE_HEADER,
    SecurityRefusal,
    Signer,
    TrustedKey,
    Verifier,
)
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
    assert entry is not None and entry.speaks_for(_unit("school", "4101020001"))
    assert entry.tier == "school"


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


# --- a school instance's key names its areas (decision 0053) ----------------------------------


def test_an_area_key_speaks_for_the_schools_of_its_areas_only() -> None:
    key = TrustedKey(
        key_id="school-41",
        instance="school-41",
        tier=Tier.SCHOOL,
        units=frozenset(),
        areas=frozenset({"410102"}),
        public_key=Ed25519PrivateKey.generate().public_key(),
    )
    assert key.speaks_for(_unit("school", "4101020001"))
    assert key.speaks_for(_unit("school", "4101029999"))  # a school opened since: no new file
    assert not key.speaks_for(_unit("school", "4101050001"))  # another area
    assert not key.speaks_for(_unit("county", "410102"))  # the same digits, another tier
    assert not key.speaks_for(_unit("school", "410102"))  # the area is not itself a school


def test_a_school_instance_s_trust_entry_names_its_areas_not_its_schools(tmp_path: Path) -> None:
    school, county = FEDERATION.instance("school-41"), FEDERATION.instance("county-41")
    private = {i.name: Ed25519PrivateKey.generate() for i in (school, county)}
    entries = [trust_entry(i, private[i.name].public_key()) for i in (school, county)]
    path = tmp_path / TRUST_FILE
    write_trust_file(path, entries)

    written = {e["id"]: e for e in tomllib.loads(path.read_text())["key"]}
    assert written["school-41"]["areas"] == ["410000", "410102", "410105"]
    assert "units" not in written["school-41"]
    assert not any(code in path.read_text() for code in school.units)
    assert written["county-41"]["units"] == list(county.units)  # other tiers as before

    trust = load_trust_file(path)
    key, county_key = trust.get("school-41"), trust.get("county-41")
    assert key is not None and county_key is not None
    assert (key.units, key.areas) == (frozenset(), frozenset({"410000", "410102", "410105"}))
    assert public_key_text(key.public_key) == public_key_text(private["school-41"].public_key())
    assert all(key.speaks_for(unit) for unit in school.hosted)
    assert (county_key.units, county_key.areas) == (frozenset(county.units), frozenset())


def test_an_old_trust_file_listing_a_school_instance_s_schools_still_verifies(
    tmp_path: Path,
) -> None:
    private = Ed25519PrivateKey.generate()
    path = tmp_path / TRUST_FILE
    path.write_text(
        '[[key]]\nid = "school-41"\ninstance = "school-41"\ntier = "school"\n'
        'units = ["4101020001", "4101050001"]\n'
        f'public_key = "{public_key_text(private.public_key())}"\n'
    )
    trust = load_trust_file(path)
    verifier = Verifier("county-41", trust, frozenset({_unit("county", "410102")}))
    body = b'{"any": "body"}'
    key = verifier.verify(body, {SIGNATURE_HEADER: Signer("school-41", private).sign(body)})
    assert key.speaks_for(_unit("school", "4101050001"))
    assert not key.speaks_for(_unit("school", "4101020002"))  # not listed: as before


@pytest.mark.parametrize(
    ("tier", "speaks_for", "refusal"),
    [
        ("school", 'units = ["4101020001"]\nareas = ["41010"]', "six digits, not '41010'"),
        ("school", 'areas = ["410102", "41010A"]', "six digits, not '41010A'"),
        ("county", 'units = ["410102"]\nareas = ["410102"]', "only a school key has areas"),
        ("school", "areas = []", "speaks for no unit"),
    ],
    ids=["five digits", "not digits", "on a county key", "nothing"],
)
def test_bad_areas_are_refused_naming_the_key(
    tmp_path: Path, tier: str, speaks_for: str, refusal: str
) -> None:
    public_key = public_key_text(Ed25519PrivateKey.generate().public_key())
    path = tmp_path / TRUST_FILE
    path.write_text(
        f'[[key]]\nid = "{tier}-41"\ninstance = "{tier}-41"\ntier = "{tier}"\n{speaks_for}\n'
        f'public_key = "{public_key}"\n'
    )
    with pytest.raises(ValueError, match=f"entry '{tier}-41': .*{refusal}"):
        load_trust_file(path)


def _unit(tier: str, code: str) -> UnitRef:
    return UnitRef(tier=Tier(tier), code=code)
