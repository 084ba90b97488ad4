"""The session: an encrypted, signed, httpOnly, SameSite=Strict cookie (Fernet).

It holds the user's own API token and what the pages need to address the user's unit, plus
the CSRF token every form carries. Nothing is stored server-side: any console replica can
serve any request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "xueji_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# An unused cookie is refused after this long whatever it says (Fernet's own timestamp).
MAX_COOKIE_AGE = 24 * 3600


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token: str | None = None
    username: str | None = None
    unit: str | None = None  # tier:code
    roles: list[str] = field(default_factory=list)
    token_expires: float = 0.0  # epoch seconds
    last_seen: float = 0.0
    flash: str | None = None  # a message for the next page (e.g. why the login page shows)
    changed: bool = False

    @property
    def logged_in(self) -> bool:
        return self.token is not None

    @property
    def tier(self) -> str:
        return (self.unit or ":").partition(":")[0]

    @property
    def code(self) -> str:
        return (self.unit or ":").partition(":")[2]

    def log_in(self, token: str, claims: dict[str, Any], now: float) -> None:
        self.token = token
        self.username = str(claims.get("sub", ""))
        self.unit = str(claims.get("unit", ""))
        self.roles = [str(r) for r in claims.get("roles", [])]
        self.token_expires = float(claims.get("exp", 0))
        self.last_seen = now
        self.csrf = secrets.token_urlsafe(24)  # a new session, a new CSRF token
        self.changed = True

    def log_out(self, flash: str | None = None) -> None:
        self.token = self.username = self.unit = None
        self.roles = []
        self.token_expires = self.last_seen = 0.0
        self.csrf = secrets.token_urlsafe(24)
        self.flash = flash
        self.changed = True

    def expired(self, now: float, idle_seconds: int) -> bool:
        return self.logged_in and (now >= self.token_expires or now - self.last_seen > idle_seconds)

    def touch(self, now: float) -> None:
        if self.logged_in and now - self.last_seen > 30:
            self.last_seen = now  # refreshed at most every 30 s: fewer Set-Cookie headers
            self.changed = True

    def say(self, message: str) -> None:
        """A message for the next page the user sees."""
        self.flash = message
        self.changed = True

    def pop_flash(self) -> str | None:
        message, self.flash = self.flash, None
        if message is not None:
            self.changed = True
        return message


class SessionCodec:
    """Encrypts a session into a cookie value and back; a bad or old cookie is no session."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(_key(secret))

    def dumps(self, session: Session) -> str:
        body = {
            "c": session.csrf,
            "t": session.token,
            "u": session.username,
            "n": session.unit,
            "r": session.roles,
            "e": session.token_expires,
            "s": session.last_seen,
            "f": session.flash,
        }
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return self._fernet.encrypt(raw).decode("ascii")

    def loads(self, value: str | None) -> Session:
        if not value:
            return Session(changed=True)
        try:
            raw = self._fernet.decrypt(value.encode("ascii"), ttl=MAX_COOKIE_AGE)
            body = json.loads(raw)
            return Session(
                csrf=str(body["c"]),
                token=body["t"],
                username=body["u"],
                unit=body["n"],
                roles=list(body["r"]),
                token_expires=float(body["e"]),
                last_seen=float(body["s"]),
                flash=body.get("f"),
            )
        except (InvalidToken, ValueError, KeyError, TypeError, UnicodeError):
            return Session(changed=True)


def _key(secret: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(secret.encode())) == 32:
            return secret.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def token_claims(token: str) -> dict[str, Any]:
    """The claims of the API's token, read without verifying it: the console only uses them to
    address the user's unit and shape its menus; every API call is verified by the API."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def now() -> float:
    return time.time()
