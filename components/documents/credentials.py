"""The student-status credential (N2025 art. 24): a compact JWS another government system can
verify with the published keys, stating only the claims chosen when it was issued.

Signed like a document's statement (EdDSA, the issuing instance's key, ``kid``) but typed
``xueji-status+jwt`` and short-lived (``exp``), so a verifier never mistakes one for the
other. The holder (or the school for them) picks the claims at issue, e.g. only "enrolled at a
school of county C in grade G on date D"; the rest is never in the token (decision 0036).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from components.documents.statements import ALGORITHM, NotGenuine, PublishedKey

TYPE = "xueji-status+jwt"
DEFAULT_TTL = timedelta(days=30)
# What a credential may state, and nothing else.
SELECTABLE = frozenset(
    {"enrolled", "status", "grade", "county", "province", "school", "student_number", "name"}
)


def issue(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    key_id: str,
    private_key: Ed25519PrivateKey,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """A credential of ``claims`` (keys from :data:`SELECTABLE`) issued by unit ``issuer``."""
    unknown = set(claims) - SELECTABLE
    if unknown:
        raise ValueError(f"not selectable: {sorted(unknown)}")
    body = {
        **claims,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "as_of": now.date().isoformat(),
    }
    return jwt.encode(body, private_key, algorithm=ALGORITHM, headers={"kid": key_id, "typ": TYPE})


def verify(token: str, keys: Mapping[str, PublishedKey], now: datetime) -> dict[str, Any]:
    """The claims of a genuine, unexpired credential whose key speaks for its issuer;
    :class:`NotGenuine` otherwise (offline: the keys are the published JWKS)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise NotGenuine("malformed") from exc
    if header.get("typ") != TYPE:
        raise NotGenuine("not_a_credential")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise NotGenuine("unknown_key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            options={"require": ["iss", "exp", "iat"], "verify_exp": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise NotGenuine("bad_signature") from exc
    except jwt.PyJWTError as exc:
        raise NotGenuine("malformed") from exc
    if claims["exp"] <= now.timestamp():
        raise NotGenuine("expired")
    if not key.speaks_for(str(claims["iss"])):
        raise NotGenuine("key_not_for_issuer")
    return claims
