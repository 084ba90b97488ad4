"""Access tokens: short-lived JWTs (HS256) every service verifies locally, without a database.

The token names the account, its unit and its roles. A sealed or locked account gets no new
token; one already issued stays valid until it expires (``XUEJI_TOKEN_TTL_SECONDS``, 15
minutes by default), which is what keeps a request free of account lookups.

A client sends the same token with every request until it expires, so a codec remembers the
tokens it verified (the last :data:`REMEMBERED` of them) with their expiry: a token seen before
costs a dictionary lookup and a clock read instead of decoding and an HMAC (~30 µs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt

from shared.security.principal import Principal, Role

ALGORITHM = "HS256"
ISSUER = "xueji"
AUDIENCE = "xueji"
_TIERS = frozenset({"school", "county", "province", "national"})
REMEMBERED = 4096  # verified tokens a codec keeps (one per active client session)


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not ours."""


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    ttl: timedelta = timedelta(minutes=15)
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    # token -> (its principal, its exp): tokens verified before, until they expire
    _verified: dict[str, tuple[Principal, int]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

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
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if self.clock() < expires:
                return principal
            del self._verified[token]
            raise InvalidToken("ExpiredSignatureError")
        principal, expires = self._decode(token)
        if len(self._verified) >= REMEMBERED:
            self._verified.clear()  # simplest bound: the active clients' tokens come back
        self._verified[token] = (principal, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, int]:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            kind, _, code = str(claims["unit"]).partition(":")
            roles = frozenset(Role(role) for role in claims["roles"])
            expires = int(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        if kind not in _TIERS or not code or not roles:
            raise InvalidToken("bad unit or roles")
        principal = Principal(
            username=str(claims["sub"]), unit_kind=kind, unit_code=code, roles=roles
        )
        return principal, expires
