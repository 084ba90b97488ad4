"""``python -m services.<tier> --config F --instance NAME``: migrate, then serve."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.federation.config import Tier, load_federation
from shared.runtime.settings import ServiceSettings
from shared.telemetry.logging import configure_logging
from shared.telemetry.tracing import configure_tracing


def main(tier: Tier, build_app: Callable[[ServiceSettings], FastAPI]) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{tier}")
    parser.add_argument("--config", default=os.environ.get("XUEJI_FEDERATION_CONFIG"))
    parser.add_argument("--instance", default=os.environ.get("XUEJI_INSTANCE"), required=False)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default=None)
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    if args.config:
        overrides["federation_config"] = args.config
    if args.instance:
        overrides["instance"] = args.instance
    settings = ServiceSettings(**overrides)  # type: ignore[arg-type]
    if not settings.instance:
        parser.error("--instance (or XUEJI_INSTANCE) is required")
    configure_logging(settings.instance, settings.effective_log_format())
    configure_tracing(f"xueji-{tier.value}", settings)
    instance = load_federation(settings.federation_config).instance(settings.instance)
    if settings.auto_migrate:
        # Alembic (with Mako and Pygments, ~8 MB resident) only when this start migrates: a
        # production pod does not (its migration Job does), and stays under 120 MB at rest
        from shared.db.migrate import upgrade

        upgrade(tier, settings.effective_database_url())
    uvicorn.run(
        build_app(settings),
        host=args.host or instance.host,
        port=args.port or instance.port,
        log_level="warning",
        log_config=None,  # uvicorn's records go through our handler (format, masking)
        timeout_graceful_shutdown=5,
        # uvicorn's own bounds (decision 0026; the app measures headers, URL and body itself)
        limit_concurrency=settings.http_max_concurrency,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        forwarded_allow_ips=settings.http_forwarded_allow_ips,
    )
