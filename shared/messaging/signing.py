"""Signed messages: every published envelope carries its sending instance's Ed25519 signature.

The relay signs a message's body bytes as they go on the wire (no re-serialisation); the
consumer verifies them before it even parses the envelope. Two AMQP headers:

- ``xueji-sig``: ``<key id>;<signed at, epoch ms>;<signature, base64url>``, the signature over
  ``b"xueji-sig/1;" + key id + b";" + signed at + b";" + body``. The body is the whole
  envelope (source, target, type, message id, payload), so nothing that decides where or how a
  message applies can change without breaking the signature.
- ``xueji-replay`` (optional): ``<key id>;<replayed at, epoch ms>;<signature>`` over
  ``b"xueji-replay/1;" + key id + b";" + replayed at + b";" + the xueji-sig value``: the
  receiving instance itself, through ``xueji-ops dead-letters replay``, vouching for the replay
  of one of its dead letters at a later time. It cannot change the message (it signs the
  original signature, which signs the body); it only renews its age.

A receiver accepts a message only if (see :class:`Verifier`):

1. the key id is in its trust store and the signature verifies (else ``unknown_key``,
   ``bad_signature``, ``unsigned``, ``malformed_signature``);
2. it is fresh: signed (or, with a valid replay attestation by the receiver's own key,
   replayed) less than ``max_age`` ago and not more than ``max_skew`` in the future
   (``expired``, ``from_the_future``, ``bad_replay_attestation``);
3. the signing key's instance hosts the envelope's source unit (``source_not_hosted_by_signer``)
   and the receiver hosts its target (``wrong_target``).

A message id already applied is a duplicate, absorbed by the inbox. Refusals are
:class:`SecurityRefusal` (a permanent error): the consumer dead-letters the message with the
reason, raises a security alert (:func:`security_alert`) and never runs a handler.
docs/decisions/0013-signed-messages.md explains the choices (window, replays, keys).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.federation.config import Tier, UnitRef, school_area
from shared.messaging.errors import PermanentMessageError

if TYPE_CHECKING:
    from shared.messaging.envelope import Envelope

SIGNATURE_HEADER = "xueji-sig"
REPLAY_HEADER = "xueji-replay"
_SIG_CONTEXT = b"xueji-sig/1;"
_REPLAY_CONTEXT = b"xueji-replay/1;"

# The only reason labels a security alert can have (a hostile peer must not add series).
ALERT_REASONS = (
    "unsigned",
    "malformed_signature",
    "unknown_key",
    "bad_signature",
    "bad_replay_attestation",
    "expired",
    "from_the_future",
    "source_not_hosted_by_signer",
    "wrong_target",
    # message authorization (shared.messaging.authorization, decision 0025)
    "sender_not_allowed",
    "target_not_allowed",
    "not_a_party",
)

DEFAULT_MAX_AGE = timedelta(hours=72)
DEFAULT_MAX_SKEW = timedelta(minutes=5)

alert_log = logging.getLogger("xueji.security")


class SecurityRefusal(PermanentMessageError):
    """A message refused for what it claims (who sent it, to whom, when), not its content."""

    def __init__(self, code: str, reason: str, *, key_id: str | None = None) -> None:
        assert code in ALERT_REASONS, code
        super().__init__(f"security: {code}: {reason}")
        self.code = code
        self.key_id = key_id
        self.envelope: Envelope | None = None  # once the body was parsed


@dataclass(frozen=True)
class TrustedKey:
    """A public key and what it may speak for: one instance and the units it hosts.

    A school instance's key names its areas instead of its schools (decision 0053): one
    instance hosts every school of an area (decision 0045), so the key speaks for any school
    whose code starts with one of them.
    """

    key_id: str
    instance: str
    tier: Tier
    units: frozenset[str]
    public_key: Ed25519PublicKey
    # The date by which the key is to be replaced (``expires`` in the trust file): a rotation
    # deadline the operator sets, watched by the XuejiSigningKeyNearExpiry alert through
    # ``xueji_signing_key_expiry_timestamp_seconds``; verification does not depend on it.
    expires: datetime | None = None
    cities: frozenset[str] = frozenset()  # a province instance's cities (decision 0034)
    areas: frozenset[str] = frozenset()  # a school instance's areas (decision 0053)

    def __post_init__(self) -> None:
        if not self.units and not self.areas:
            raise ValueError(f"key {self.key_id!r} speaks for no unit: it needs units or areas")
        if self.areas and self.tier != Tier.SCHOOL:
            raise ValueError(f"key {self.key_id!r}: only a school key has areas, not a {self.tier}")
        bad = sorted(a for a in self.areas if len(a) != 6 or not (a.isascii() and a.isdigit()))
        if bad:
            raise ValueError(f"key {self.key_id!r}: an area is six digits, not {bad[0]!r}")

    def speaks_for(self, unit: UnitRef) -> bool:
        if unit.tier == Tier.CITY and unit.code in self.cities:
            return True
        if unit.tier != self.tier:
            return False
        return unit.code in self.units or in_areas(unit.code, self.areas)


def in_areas(school: str, areas: frozenset[str]) -> bool:
    """Whether the school code ``school`` lies in one of ``areas`` (a school key's, decision
    0053): a ten-digit code whose first six are one of them, not the six digits alone."""
    return len(school) == 10 and school_area(school) in areas


class TrustStore:
    """The public keys a receiver trusts, by key id."""

    def __init__(self, keys: Iterable[TrustedKey]) -> None:
        self._keys: dict[str, TrustedKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ValueError(f"key id {key.key_id!r} appears twice in the trust store")
            self._keys[key.key_id] = key

    def get(self, key_id: str) -> TrustedKey | None:
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Any:
        return iter(self._keys.values())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Signer:
    """Signs as one instance: the relay signs each body, xueji-ops signs replay attestations."""

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        if ";" in key_id or not key_id:
            raise ValueError(f"bad key id {key_id!r}")
        self.key_id = key_id
        self._key = private_key
        self._prefix = key_id.encode() + b";"

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """For access tokens (shared/security/tokens.py): the same key, another context."""
        return self._key

    def sign(self, body: bytes, now_ms: int | None = None) -> str:
        """The ``xueji-sig`` header value for ``body``."""
        stamp = str(_now_ms() if now_ms is None else now_ms).encode()
        signature = self._key.sign(b"".join((_SIG_CONTEXT, self._prefix, stamp, b";", body)))
        return f"{self.key_id};{stamp.decode()};{_b64(signature)}"

    def attest_replay(self, signature_header: str, now_ms: int | None = None) -> str:
        """The ``xueji-replay`` header value renewing the message signed by ``signature_header``."""
        stamp = str(_now_ms() if now_ms is None else now_ms).encode()
        signed = b"".join(
            (_REPLAY_CONTEXT, self._prefix, stamp, b";", signature_header.encode("ascii"))
        )
        return f"{self.key_id};{stamp.decode()};{_b64(self._key.sign(signed))}"


def _parse(value: Any, header: str) -> tuple[str, int, bytes]:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise SecurityRefusal("malformed_signature", f"header {header} is not text")
    parts = value.split(";")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 15:
        raise SecurityRefusal("malformed_signature", f"header {header} is not key;time;signature")
    key_id = parts[0][:80]
    try:
        signature = _unb64(parts[2])
    except ValueError as exc:
        raise SecurityRefusal("malformed_signature", f"header {header}: bad base64") from exc
    if len(signature) != 64:
        raise SecurityRefusal("malformed_signature", f"header {header}: not an Ed25519 signature")
    return key_id, int(parts[1]), signature


@dataclass(frozen=True)
class Verifier:
    """What a receiving instance checks before a message may reach the inbox and a handler."""

    instance: str
    trust: TrustStore
    hosted: frozenset[UnitRef]
    max_age: timedelta = DEFAULT_MAX_AGE
    max_skew: timedelta = DEFAULT_MAX_SKEW

    def verify(
        self, body: bytes, headers: Mapping[str, Any] | None, now_ms: int | None = None
    ) -> TrustedKey:
        """Check the signature and freshness of a delivery; return the key that signed it."""
        headers = headers or {}
        value = headers.get(SIGNATURE_HEADER)
        if value is None:
            raise SecurityRefusal("unsigned", f"no {SIGNATURE_HEADER} header")
        key_id, signed_at, signature = _parse(value, SIGNATURE_HEADER)
        key = self.trust.get(key_id)
        if key is None:
            raise SecurityRefusal("unknown_key", f"key {key_id!r} is not trusted", key_id=key_id)
        header = value.decode("ascii") if isinstance(value, bytes) else str(value)
        stamp = header.split(";")[1].encode()
        try:
            key.public_key.verify(
                signature, b"".join((_SIG_CONTEXT, key_id.encode(), b";", stamp, b";", body))
            )
        except InvalidSignature:
            raise SecurityRefusal(
                "bad_signature", f"signature by key {key_id!r} does not match", key_id=key_id
            ) from None
        fresh_at = signed_at
        if REPLAY_HEADER in headers:
            fresh_at = self._replayed_at(headers[REPLAY_HEADER], header, key_id)
        now = _now_ms() if now_ms is None else now_ms
        age_ms = now - fresh_at
        if age_ms > self.max_age.total_seconds() * 1000:
            raise SecurityRefusal(
                "expired",
                f"{'replayed' if fresh_at != signed_at else 'signed'} {age_ms // 1000} s ago, "
                f"older than the {int(self.max_age.total_seconds())} s window",
                key_id=key_id,
            )
        if -age_ms > self.max_skew.total_seconds() * 1000:
            raise SecurityRefusal(
                "from_the_future", f"signed {-age_ms // 1000} s in the future", key_id=key_id
            )
        return key

    def _replayed_at(self, value: Any, signature_header: str, signer_id: str) -> int:
        key_id, replayed_at, signature = _parse(value, REPLAY_HEADER)
        key = self.trust.get(key_id)
        if key is None or key.instance != self.instance:
            raise SecurityRefusal(
                "bad_replay_attestation",
                f"replay attested by key {key_id!r}, not by this instance's own key",
                key_id=signer_id,
            )
        signed = b"".join(
            (
                _REPLAY_CONTEXT,
                key_id.encode(),
                b";",
                str(replayed_at).encode(),
                b";",
                signature_header.encode("ascii"),
            )
        )
        try:
            key.public_key.verify(signature, signed)
        except InvalidSignature:
            raise SecurityRefusal(
                "bad_replay_attestation", "replay attestation does not match", key_id=signer_id
            ) from None
        return replayed_at

    def check_units(self, key: TrustedKey, envelope: Envelope) -> None:
        """The signer must host the source unit; this instance must host the target."""
        source, target = envelope.source, envelope.target
        refusal = None
        if not key.speaks_for(source):
            refusal = SecurityRefusal(
                "source_not_hosted_by_signer",
                f"source unit {source} is not hosted by instance {key.instance}"
                f" (key {key.key_id!r})",
                key_id=key.key_id,
            )
        elif target not in self.hosted:
            refusal = SecurityRefusal(
                "wrong_target",
                f"target unit {target} is not hosted by instance {self.instance}",
                key_id=key.key_id,
            )
        if refusal is not None:
            refusal.envelope = envelope
            raise refusal


def security_alert(
    refusal: SecurityRefusal,
    *,
    instance: str,
    message_id: str | None,
    message_type: str | None,
    source: UnitRef | None = None,
    target: UnitRef | None = None,
) -> None:
    """Log a refused message on the ``xueji.security`` logger (no payload, no personal data)."""
    fields = {
        "event": "security_alert",
        "reason": refusal.code,
        "instance": instance,
        "message_id": message_id,
        "message_type": message_type,
        "key_id": refusal.key_id,
        "source": str(source) if source else None,
        "target": str(target) if target else None,
    }
    alert_log.error(
        "security alert: %s refused message %s (%s): %s",
        instance,
        message_id,
        message_type,
        refusal.reason,
        extra={"security": fields},
    )
