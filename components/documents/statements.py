"""The signed statement a proof carries, the published keys, and offline verification.

A statement is a compact JWS (RFC 7515) signed with EdDSA by the issuing instance's Ed25519
key, the key it signs messages and tokens with (decisions 0013, 0027); ``kid`` names the key.
Its claims are only what the paper prints, so that reading the QR code reveals nothing beyond
the document::

    {"iss": "school:4101020001",            # the issuing unit
     "jti": "<document id>", "code": "K7M2Q9PA4D3XW8EN",  # the short code on the paper
     "kind": "registration_proof", "iat": 1740787200, "on": "2025-03-01",
     "sub": "G410102201803070017", "name": "张三", "unit_name": "郑州市中原区第一实验小学"}

The published keys (:func:`jwks`) say for each key the instance and the units it speaks for
(``xueji_units``; a school instance's key its areas instead, ``xueji_school_areas``: any school
whose code starts with one of them, decision 0053), so a verifier accepts a statement only if
its key speaks for its ``iss``: one instance's key cannot sign for another instance's units
(decision 0036).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.federation.config import Tier
from shared.messaging.signing import in_areas

ALGORITHM = "EdDSA"
TYPE = "xueji-document+jwt"
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 16  # 80 random bits


class NotGenuine(Exception):
    """The statement does not verify: malformed, unknown key, bad signature, wrong signer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Statement:
    """What a document states, as signed (see the module docstring for the claim names)."""

    document_id: str
    code: str
    kind: str
    issuer: str  # "school:4101020001"
    issuer_name: str
    issued_on: date
    issued_at: int
    subject: str | None
    subject_name: str | None

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "jti": self.document_id,
            "code": self.code,
            "kind": self.kind,
            "iat": self.issued_at,
            "on": self.issued_on.isoformat(),
            "unit_name": self.issuer_name,
        }
        if self.subject is not None:
            claims["sub"] = self.subject
        if self.subject_name is not None:
            claims["name"] = self.subject_name
        return claims

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> Statement:
        try:
            return cls(
                document_id=str(claims["jti"]),
                code=str(claims["code"]),
                kind=str(claims["kind"]),
                issuer=str(claims["iss"]),
                issuer_name=str(claims["unit_name"]),
                issued_on=date.fromisoformat(str(claims["on"])),
                issued_at=int(claims["iat"]),
                subject=str(claims["sub"]) if "sub" in claims else None,
                subject_name=str(claims["name"]) if "name" in claims else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NotGenuine(f"malformed claims: {exc}") from exc


def new_code() -> str:
    """A fresh short code: 16 Crockford base32 characters (80 random bits, not guessable)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``K7M2Q9PA4D3XW8EN`` → ``K7M2-Q9PA-4D3X-W8EN`` as printed."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str) -> str:
    """What a reader typed → the stored code: no dashes or spaces, upper case, O→0, I/L→1."""
    cleaned = "".join(text.split()).replace("-", "").upper()
    return cleaned.translate(str.maketrans("OIL", "011"))


def sign(statement: Statement, key_id: str, private_key: Ed25519PrivateKey) -> str:
    """The compact JWS of ``statement`` signed by the instance key ``key_id``."""
    return jwt.encode(
        statement.claims(),
        private_key,
        algorithm=ALGORITHM,
        headers={"kid": key_id, "typ": TYPE},
    )


@dataclass(frozen=True)
class PublishedKey:
    """One key of the federation as the JWKS publishes it."""

    key_id: str
    instance: str
    units: frozenset[str]  # "county:410102" …
    public_key: Ed25519PublicKey
    areas: frozenset[str] = frozenset()  # a school key's areas: "410102" … (decision 0053)

    def speaks_for(self, issuer: str) -> bool:
        """Whether the key may sign for the unit ``issuer`` (``"school:4101020001"``)."""
        if issuer in self.units:
            return True
        tier, _, code = issuer.partition(":")
        return tier == Tier.SCHOOL and in_areas(code, self.areas)

    def jwk(self) -> dict[str, Any]:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        jwk: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": ALGORITHM,
            "use": "sig",
            "kid": self.key_id,
            "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii"),
            "xueji_instance": self.instance,
            "xueji_units": sorted(self.units),
        }
        if self.areas:
            jwk["xueji_school_areas"] = sorted(self.areas)
        return jwk


def jwks(keys: Iterable[PublishedKey]) -> dict[str, Any]:
    """The JSON Web Key Set (RFC 7517) of ``keys``, in key-id order."""
    return {"keys": [key.jwk() for key in sorted(keys, key=lambda k: k.key_id)]}


def keys_of_jwks(document: Mapping[str, Any]) -> dict[str, PublishedKey]:
    """The keys of a published JWKS, by key id (what an offline verifier loads)."""
    found: dict[str, PublishedKey] = {}
    for entry in document.get("keys", []):
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        raw = base64.urlsafe_b64decode(str(entry["x"]) + "=" * (-len(str(entry["x"])) % 4))
        found[str(entry["kid"])] = PublishedKey(
            key_id=str(entry["kid"]),
            instance=str(entry.get("xueji_instance", "")),
            units=frozenset(str(unit) for unit in entry.get("xueji_units", [])),
            public_key=Ed25519PublicKey.from_public_bytes(raw),
            areas=frozenset(str(area) for area in entry.get("xueji_school_areas", [])),
        )
    return found


def verify(token: str, keys: Mapping[str, PublishedKey]) -> Statement:
    """The statement ``token`` carries, if a key in ``keys`` that speaks for its issuer signed
    it; :class:`NotGenuine` otherwise. Needs no network: this is the offline check."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise NotGenuine("malformed") from exc
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise NotGenuine("unknown_key")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            options={"require": ["iss", "jti", "iat"], "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise NotGenuine("bad_signature") from exc
    except jwt.PyJWTError as exc:
        raise NotGenuine("malformed") from exc
    statement = Statement.of(claims)
    if not key.speaks_for(statement.issuer):
        raise NotGenuine("key_not_for_issuer")
    return statement
