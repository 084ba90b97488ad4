"""Signing keys on disk: each instance's private key, and the federation's trusted public keys.

- A private key is an unencrypted PKCS#8 PEM file, mode 0600 (``XUEJI_SIGNING_KEY_FILE``; in
  Kubernetes a Secret mounted read-only).
- The trust file (``XUEJI_TRUSTED_KEYS_FILE``; in Kubernetes a ConfigMap) lists every key the
  federation's instances sign with, and what each may speak for::

      [[key]]
      id = "school-41"            # the key id in the xueji-sig header
      instance = "school-41"
      tier = "school"
      areas = ["410102", "410105"]  # a school instance's areas: it speaks for their schools
      public_key = "base64url of the 32 raw bytes"
      expires = 2027-09-01        # optional: the date it is to be replaced by (alerted before)

  Every other tier lists its ``units`` (``units = ["410102"]``), a province instance also its
  ``cities``. A school key names the areas it hosts, not its ~1,700 schools: one instance hosts
  every school of an area (decisions 0045, 0053), and a new school needs no new trust file. A
  school key listing ``units`` (a file written before) still works.

  Rotating a key: add the new entry (its own id, same instance) everywhere, switch the
  instance's Secret, remove the old entry once its messages are older than the window.

``python -m shared.messaging.keys generate --config federation.toml --out DIR`` creates a key
for every instance of a federation file that lacks one and (re)writes ``DIR/trusted-keys.toml``;
``python -m shared.messaging.keys trust-entry --config ... --instance NAME --key FILE`` prints
one instance's entry, for a ministry assembling the trust file of a whole federation.

Outside production, an instance without configured keys uses *development keys* derived from
instance names (:func:`development_keys`): anyone can compute them, so they only keep the code
path identical to production's; ``XUEJI_ENV=production`` refuses to start without real keys.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import tomllib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.federation.config import Federation, Instance, Tier, load_federation
from shared.messaging.envelope import hosted_areas
from shared.messaging.signing import Signer, TrustedKey, TrustStore

TRUST_FILE = "trusted-keys.toml"


def private_key_path(directory: Path, instance: str) -> Path:
    return directory / f"{instance}.key"


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as PEM readable by its owner only (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(temporary, 0o600)
    temporary.replace(path)


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode("ascii")


def speaks_for(instance: Instance) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(units, areas) an instance's key names: a school instance's areas and no school, any
    other instance's units (decision 0053)."""
    areas = hosted_areas(instance)
    return (() if areas else instance.units), areas


def trust_entry(
    instance: Instance,
    public_key: Ed25519PublicKey,
    key_id: str | None = None,
    expires: date | None = None,
) -> str:
    """One ``[[key]]`` of the trust file: a school instance's areas, another's units."""
    units, areas = speaks_for(instance)
    return (
        "[[key]]\n"
        f'id = "{key_id or instance.name}"\n'
        f'instance = "{instance.name}"\n'
        f'tier = "{instance.tier.value}"\n'
        + (f"areas = [{_codes(areas)}]\n" if areas else f"units = [{_codes(units)}]\n")
        + (f"cities = [{_codes(instance.cities)}]\n" if instance.cities else "")
        + f'public_key = "{public_key_text(public_key)}"\n'
        + (f"expires = {expires.isoformat()}\n" if expires is not None else "")
    )


def _codes(codes: Iterable[str]) -> str:
    return ", ".join(f'"{code}"' for code in codes)


def write_trust_file(path: Path, entries: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Public signing keys of the federation (shared/messaging/keys.py)\n\n" + "\n".join(
        entries
    )
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def load_trust_file(path: Path) -> TrustStore:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    keys = []
    for entry in data.get("key", []):
        try:
            raw = base64.urlsafe_b64decode(entry["public_key"])
            keys.append(
                TrustedKey(
                    key_id=str(entry["id"]),
                    instance=str(entry["instance"]),
                    tier=Tier(entry["tier"]),
                    units=frozenset(str(u) for u in entry.get("units", ())),
                    cities=frozenset(str(c) for c in entry.get("cities", ())),
                    areas=frozenset(str(a) for a in entry.get("areas", ())),
                    public_key=Ed25519PublicKey.from_public_bytes(raw),
                    expires=_expiry(entry.get("expires")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: bad [[key]] entry {entry.get('id')!r}: {exc}") from exc
    return TrustStore(keys)


def _expiry(value: object) -> datetime | None:
    """A trust entry's ``expires``: a TOML date (midnight UTC) or date-time (UTC if naive)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise ValueError(f"expires must be a date or a date-time, not {value!r}")


def generate_federation_keys(federation: Federation, directory: Path) -> Path:
    """A private key per instance (kept if present) and the trust file of them all; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    entries = []
    for instance in federation.instances:
        path = private_key_path(directory, instance.name)
        if path.exists():
            key = load_private_key(path)
        else:
            key = Ed25519PrivateKey.generate()
            write_private_key(path, key)
        entries.append(trust_entry(instance, key.public_key()))
    trust = directory / TRUST_FILE
    write_trust_file(trust, entries)
    return trust


def _development_key(instance: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(b"xueji development signing key;" + instance.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _development_entry(instance: Instance) -> TrustedKey:
    units, areas = speaks_for(instance)
    return TrustedKey(
        key_id=instance.name,
        instance=instance.name,
        tier=instance.tier,
        units=frozenset(units),
        cities=frozenset(instance.cities),
        areas=frozenset(areas),
        public_key=_development_key(instance.name).public_key(),
    )


def development_keys(federation: Federation, instance: str) -> tuple[Signer, TrustStore]:
    """Keys anyone can derive from instance names: for development and tests only."""
    trust = TrustStore(_development_entry(i) for i in federation.instances)
    return Signer(instance, _development_key(instance)), trust


def load_keys(key_file: Path, trust_file: Path, key_id: str) -> tuple[Signer, TrustStore]:
    """The instance's signer and trust store from files; refuses a key the trust file lacks."""
    signer = Signer(key_id, load_private_key(key_file))
    trust = load_trust_file(trust_file)
    own = trust.get(key_id)
    if own is None or public_key_text(own.public_key) != public_key_text(signer.public_key):
        raise ValueError(
            f"{trust_file} has no entry {key_id!r} matching the private key {key_file}: "
            "receivers would refuse every message this instance sends"
        )
    return signer, trust


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.messaging.keys")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser(
        "generate", help="a key per instance of a federation file, and the trust file"
    )
    generate.add_argument("--config", type=Path, required=True)
    generate.add_argument("--out", type=Path, required=True)
    entry = commands.add_parser(
        "trust-entry", help="one instance's [[key]] entry (new key if none)"
    )
    entry.add_argument("--config", type=Path, required=True)
    entry.add_argument("--instance", required=True)
    entry.add_argument("--key", type=Path, required=True, help="private key file (created 0600)")
    entry.add_argument(
        "--key-id",
        help="the entry's id (default: the instance name; a rotated key needs a new one)",
    )
    entry.add_argument(
        "--expires",
        type=date.fromisoformat,
        help="YYYY-MM-DD by which the key is to be replaced (alerted 30 days before)",
    )
    args = parser.parse_args(argv)
    federation = load_federation(args.config)
    if args.command == "generate":
        print(generate_federation_keys(federation, args.out))
        return 0
    instance = federation.instance(args.instance)
    if args.key.exists():
        key = load_private_key(args.key)
    else:
        key = Ed25519PrivateKey.generate()
        write_private_key(args.key, key)
    sys.stdout.write(trust_entry(instance, key.public_key(), args.key_id, args.expires))
    return 0


if __name__ == "__main__":
    sys.exit(main())
