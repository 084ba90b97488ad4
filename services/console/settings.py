"""The console's settings, from ``XUEJI_*`` environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUEJI_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    federation_config: Path = Path("config/federation.toml")
    # Encrypts and signs the session cookie (Fernet: 32 url-safe base64 bytes, or any text of
    # 32 characters or more, hashed into a key). Unset outside production: a random key per
    # process (a restart logs everyone out).
    console_secret: SecretStr | None = None
    # Instance base URLs where the federation file names bind addresses (Kubernetes): a JSON
    # object {"school-41": "http://xueji-school"}; otherwise http://host:port of the file.
    console_instance_urls: dict[str, str] = {}
    # The session ends after this many seconds without a request, and when the token expires.
    console_idle_seconds: int = 1800
    # Cookies are sent over HTTPS only (behind the ingress's TLS); off for local http.
    console_secure_cookie: bool = False
    console_api_timeout: float = 30.0
    console_max_upload_bytes: int = 32 * 1024 * 1024
    # Tell the tiers the user's address (X-Forwarded-For) for their per-address login
    # throttle; they believe it only from the console's address (decision 0032).
    console_forward_client_address: bool = True
    # The proxies (the ingress) whose X-Forwarded-For this console believes about the user's
    # address; the same variable as the tiers'.
    http_forwarded_allow_ips: str = "127.0.0.1"

    @model_validator(mode="after")
    def _production(self) -> ConsoleSettings:
        if self.env == "production":
            secret = self.console_secret.get_secret_value() if self.console_secret else ""
            if len(secret) < 32 or "CHANGE-ME" in secret:
                raise ValueError("production needs XUEJI_CONSOLE_SECRET (32 characters or more)")
            if not self.console_secure_cookie:
                raise ValueError("production needs XUEJI_CONSOLE_SECURE_COOKIE=true")
        return self

    def session_secret(self) -> str:
        if self.console_secret is not None:
            return self.console_secret.get_secret_value()
        return secrets.token_urlsafe(32)
