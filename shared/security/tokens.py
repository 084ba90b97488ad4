"""Access tokens: short-lived JWTs (EdDSA) signed by the issuing instance's own key.

The hosting instance of an account's unit issues its tokens with the instance's Ed25519 key
(the same key as its message signatures, decision 0013; ``kid`` = the key id, i.e. the
instance name unless rotated). Every service verifies them locally against the federation's
trust file (``XUEJI_TRUSTED_KEYS_FILE``), which says for each key the instance and the units it
hosts: a token is accepted only if its unit is one of the units its signer hosts, so one leaked
instance key mints tokens for that instance's units and no other's (docs/decisions/0027).

Verification also refuses:

- a token whose lifetime (``exp - iat``) exceeds ``max_lifetime`` (15 minutes) plus ``skew``,
  or issued more than ``skew`` in the future, whatever the signer wrote;
- a token of an account revoked (sealed, locked) after the token was issued: ``revoked``
  answers the revocation time of ``(unit, username)`` (shared/security/revocation.py), checked
  on every request, also for remembered tokens.

A client sends the same token with every request until it expires, so a verifier remembers the
tokens it verified (the last :data:`REMEMBERED` of them) with their expiry: a token seen before
costs a dictionary lookup and a clock read instead of decoding and an Ed25519 verification.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.federation.config import UnitRef
from shared.messaging.signing import Signer, TrustedKey, TrustStore
from shared.runtime.settings import ServiceSettings
from shared.security.principal import Principal, Role

ALGORITHM = "EdDSA"
ISSUER = "xueji"
AUDIENCE = "xueji"
DEFAULT_TTL = timedelta(minutes=15)
DEFAULT_MAX_LIFETIME = timedelta(minutes=15)
DEFAULT_SKEW = timedelta(seconds=60)
REMEMBERED = 4096  # verified tokens a verifier keeps (one per active client session)
# Tests and tools mint tokens with this key id; only instances running on development keys
# (no key files, refused in production) trust it, for any unit.
DEVELOPMENT_KEY_ID = "development"


class InvalidToken(Exception):
    """The token is missing, malformed, expired, revoked or not ours."""


@dataclass(frozen=True)
class TokenKey:
    """A public key that may sign tokens, and the units whose accounts it speaks for."""

    key_id: str
    instance: str
    public_key: Ed25519PublicKey
    # The trust file's record of the key, whose units it speaks for (its codes, a school
    # instance's areas, decision 0053; not a unit object per unit); None: any unit (the
    # development key only).
    record: TrustedKey | None

    def speaks_for(self, unit: UnitRef) -> bool:
        return self.record is None or self.record.speaks_for(unit)


class TokenKeys:
    """The keys a verifier trusts for tokens, by key id (``kid``)."""

    def __init__(self, keys: Iterable[TokenKey]) -> None:
        self._keys = {key.key_id: key for key in keys}

    @classmethod
    def of(cls, trust: TrustStore, *extra: TokenKey) -> TokenKeys:
        """The message trust store's keys, each speaking for the units of its instance."""
        return cls(
            [
                TokenKey(
                    key_id=key.key_id,
                    instance=key.instance,
                    public_key=key.public_key,
                    record=key,
                )
                for key in trust
            ]
            + list(extra)
        )

    def get(self, key_id: str) -> TokenKey | None:
        return self._keys.get(key_id)


def development_token_key() -> Ed25519PrivateKey:
    """The private key of :data:`DEVELOPMENT_KEY_ID`: anyone can derive it (tests, tools)."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"xueji development token key").digest()
    )


def development_token_entry() -> TokenKey:
    """The development key, trusted for any unit (services on development keys only: tests
    also mint tokens for units that do not exist, to see them refused as such)."""
    return TokenKey(
        key_id=DEVELOPMENT_KEY_ID,
        instance=DEVELOPMENT_KEY_ID,
        public_key=development_token_key().public_key(),
        record=None,
    )


@dataclass(frozen=True)
class TokenIssuer:
    """Issues tokens as one instance, with its signing key."""

    key_id: str
    private_key: Ed25519PrivateKey = field(repr=False)
    ttl: timedelta = DEFAULT_TTL

    def issue(self, principal: Principal, now: datetime) -> str:
        claims = {
            "sub": principal.username,
            "unit": principal.unit,
            "roles": sorted(principal.roles),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
        }
        if not principal.trained:
            claims["trained"] = False  # absent means trained: tokens minted before stay valid
        return jwt.encode(
            claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.key_id}
        )


# (unit "tier:code", username) -> when its tokens were revoked (epoch seconds), else None
Revoked = Callable[[str, str], float | None]


def _never_revoked(unit: str, username: str) -> float | None:
    return None


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    issued_at: int
    expires: int


@dataclass(frozen=True)
class TokenVerifier:
    keys: TokenKeys
    max_lifetime: timedelta = DEFAULT_MAX_LIFETIME
    skew: timedelta = DEFAULT_SKEW
    revoked: Revoked = field(default=_never_revoked, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    # token -> what it verified to: tokens verified before, until they expire
    _verified: dict[str, _Verified] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is None:
            known = self._decode(token)
            if len(self._verified) >= REMEMBERED:
                self._verified.clear()  # simplest bound: the active clients' tokens come back
            self._verified[token] = known
        elif self.clock() >= known.expires:
            del self._verified[token]
            raise InvalidToken("ExpiredSignatureError")
        revoked_at = self.revoked(known.principal.unit, known.principal.username)
        if revoked_at is not None and known.issued_at <= revoked_at:
            raise InvalidToken("revoked")
        return known.principal

    def _decode(self, token: str) -> _Verified:
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(key_id) if isinstance(key_id, str) else None
            if key is None:
                raise InvalidToken("unknown kid")
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self.skew,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            unit = UnitRef.parse(str(claims["unit"]))
            roles = frozenset(Role(role) for role in claims["roles"])
            issued_at, expires = int(claims["iat"]), int(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        if not roles:
            raise InvalidToken("no roles")
        if expires - issued_at > (self.max_lifetime + self.skew).total_seconds():
            raise InvalidToken("lifetime over the maximum")
        if issued_at > self.clock() + self.skew.total_seconds():
            raise InvalidToken("issued in the future")
        if not key.speaks_for(unit):
            raise InvalidToken(f"{unit} is not hosted by the signer {key.instance}")
        principal = Principal(
            username=str(claims["sub"]),
            unit_kind=unit.tier.value,
            unit_code=unit.code,
            roles=roles,
            trained=claims.get("trained", True) is not False,
        )
        return _Verified(principal, issued_at, expires)


def token_keys(
    settings: ServiceSettings,
    signer: Signer,
    trust: TrustStore,
    revoked: Revoked = _never_revoked,
) -> tuple[TokenIssuer, TokenVerifier]:
    """An instance's token issuer (its signing key) and verifier (the trusted keys).

    On development keys (no key files; production refuses that) the verifier also trusts
    :data:`DEVELOPMENT_KEY_ID`, with which tests and tools mint tokens for any unit."""
    extra = () if settings.signing_key_file is not None else (development_token_entry(),)
    issuer = TokenIssuer(
        signer.key_id, signer.private_key, timedelta(seconds=settings.token_ttl_seconds)
    )
    verifier = TokenVerifier(
        TokenKeys.of(trust, *extra),
        max_lifetime=timedelta(seconds=settings.token_max_lifetime_seconds),
        revoked=revoked,
    )
    return issuer, verifier
