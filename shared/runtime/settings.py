"""Service settings, from ``XUEJI_*`` environment variables (one class for every tier)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5682/"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUEJI_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    instance: str = ""
    federation_config: Path = Path("config/federation.toml")
    data_dir: Path = Path("var")
    database_url: str | None = None
    amqp_url: str = DEFAULT_AMQP_URL
    auto_migrate: bool = True
    # Pins "today" (a Beijing date) for tests and demonstrations; refused in production.
    today: date | None = None
    # Broker tuning; tests shorten the retry delays.
    retry_delays_ms: tuple[int, ...] = (1_000, 5_000, 30_000)
    consumer_batch_size: int = 100
    consumer_prefetch: int = 200
    # Outbox rows the relay reads and publishes per round: their bodies are held while it
    # publishes, and what a burst holds the allocator keeps (500 left national ~3.6 MB larger at
    # rest after its daily figures to every county; bench.idle_memory --country).
    relay_batch_size: int = 100
    relay_poll_interval: float = 1.0
    # Seconds between two runs of a province's statistics publication (decision 0047: the
    # non-basic figures of a day to each county, once); 0 turns it off (tests drive it).
    statistics_publish_interval: float = 3600.0
    # How long the outbox keeps rows it has sent: the window in which `xueji-ops resend` can
    # publish them again to a receiver restored from a backup (docs/runbook.md). It
    # must cover the recovery point plus the time to restore (RPO 5 min + RTO hours: 2 days).
    outbox_sent_retention: timedelta = timedelta(days=2)
    # Message signing (docs/decisions/0013-signed-messages.md): this instance's Ed25519 private
    # key (PEM) and the federation's trusted public keys. Both unset outside production:
    # development keys derived from instance names (insecure, refused in production).
    signing_key_file: Path | None = None
    signing_key_id: str | None = None  # default: the instance name
    trusted_keys_file: Path | None = None
    # Replay protection: a message signed (or replayed by an operator) longer ago is refused.
    message_max_age: timedelta = timedelta(hours=72)
    message_max_skew: timedelta = timedelta(minutes=5)
    # How long a consumer's inbox remembers what it applied (must exceed message_max_age; a
    # dead letter older than this is replayed only with --force).
    inbox_retention: timedelta = timedelta(days=30)
    # Telemetry (docs/decisions/0006-observability.md); OTLP endpoint from OTEL_EXPORTER_OTLP_*.
    traces_exporter: Literal["none", "console", "otlp"] = "none"
    traces_sample_ratio: float = 1.0
    log_format: Literal["json", "text"] | None = None  # default: text in development, else json
    # The audit chain's HMAC key (docs/decisions/0010-audit-hash-chain.md); plain SHA-256 if unset.
    audit_key: SecretStr | None = None
    # Security (shared/security, docs/decisions/0014-authentication.md, 0027): tokens are signed
    # with the instance's signing key above and verified against the trusted keys; a token
    # living longer than the maximum is refused whoever signed it.
    token_ttl_seconds: int = 900
    token_max_lifetime_seconds: int = 900
    # How often an instance publishes the accounts it revoked (sealed, locked) to every
    # verifier: a revoked account's tokens are refused everywhere within this plus delivery.
    token_revocation_interval: float = 10.0
    # Where audit entries are chained (decision 0048): "inline" in the request's transaction
    # under the chain head's lock; "deferred" written unchained and linked moments after the
    # commit by one chainer per database (what production on PostgreSQL runs: no request waits
    # for the head). The chainer's fallback round runs every audit_chain_interval seconds.
    audit_chaining: Literal["inline", "deferred"] = "inline"
    audit_chain_interval: float = 5.0
    # How often the audit chain's head is anchored at the level above (0: never).
    audit_anchor_interval: float = 3600.0
    password_max_age_days: int = 90  # forced rotation (N2025 art. 24: changed regularly)
    dormant_after_days: int = 183  # unused six months: sealed (N2025 art. 24)
    # Login abuse (shared/security/throttle.py, decision 0026): after this many failures for
    # a username (from addresses it never logged in from) or from an address, each further
    # attempt waits twice as long as the one before, from one second up to the cap.
    login_free_failures_account: int = 5
    login_free_failures_address: int = 20
    login_max_delay_seconds: int = 900
    login_failure_window_hours: int = 24  # failures older than this are forgotten
    # Argon2 verifications at once (64 MiB and a core each); 0: half the cores, at least one.
    login_hash_concurrency: int = 0
    login_hash_queue_seconds: float = 2.0  # waited for a hashing slot before a 503
    # Bounded requests (shared/runtime/limits.py; the ingress applies the same numbers).
    http_max_body_bytes: int = 1024 * 1024
    http_max_headers: int = 64
    http_max_header_bytes: int = 16 * 1024
    http_max_query_bytes: int = 4 * 1024
    http_max_path_bytes: int = 2 * 1024
    http_max_concurrency: int = 1000  # uvicorn answers 503 beyond (connections + tasks)
    # Proxies whose X-Forwarded-For names the client (the ingress); the login throttle counts
    # per client address.
    http_forwarded_allow_ips: str = "127.0.0.1"
    # Development only: a JSON file of accounts to create for the hosted units at start-up
    # (``python -m devtools`` writes var/dev-credentials.json).
    dev_accounts: Path | None = None

    @model_validator(mode="after")
    def _production_needs_explicit_endpoints(self) -> ServiceSettings:
        if (self.signing_key_file is None) != (self.trusted_keys_file is None):
            raise ValueError(
                "XUEJI_SIGNING_KEY_FILE and XUEJI_TRUSTED_KEYS_FILE go together (one is unset)"
            )
        if self.token_ttl_seconds > self.token_max_lifetime_seconds:
            raise ValueError(
                "XUEJI_TOKEN_TTL_SECONDS exceeds XUEJI_TOKEN_MAX_LIFETIME_SECONDS:"
                " every verifier would refuse the tokens"
            )
        if self.env == "production":
            if self.signing_key_file is None:
                raise ValueError(
                    "production needs XUEJI_SIGNING_KEY_FILE and XUEJI_TRUSTED_KEYS_FILE"
                    " (message signing keys)"
                )
            if self.database_url is None or self.database_url.startswith("sqlite"):
                raise ValueError("production needs XUEJI_DATABASE_URL pointing at PostgreSQL")
            if "guest:guest@" in self.amqp_url:
                raise ValueError("production refuses the default broker credentials")
            if self.today is not None:
                raise ValueError("production refuses a pinned date (XUEJI_TODAY)")
            if self.audit_key is None or len(self.audit_key.get_secret_value().encode()) < 32:
                raise ValueError("production needs XUEJI_AUDIT_KEY (32 bytes or more)")
            if self.dev_accounts is not None:
                raise ValueError("production refuses seeded accounts (XUEJI_DEV_ACCOUNTS)")
        return self

    def effective_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "text" if self.env == "development" else "json"

    def audit_key_bytes(self) -> bytes | None:
        return self.audit_key.get_secret_value().encode() if self.audit_key else None

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = (self.data_dir / "db" / f"{self.instance}.sqlite").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"
