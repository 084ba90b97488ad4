"""``python -m services.console --config F [--host H --port P]``: serve the console."""

from __future__ import annotations

import argparse
import os

import uvicorn

from services.console.app import build_app
from services.console.settings import ConsoleSettings
from shared.federation.config import load_federation
from shared.telemetry.logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.console")
    parser.add_argument("--config", default=os.environ.get("XUEJI_FEDERATION_CONFIG"))
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default=None)
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    if args.config:
        overrides["federation_config"] = args.config
    settings = ConsoleSettings(**overrides)  # type: ignore[arg-type]
    configure_logging("console", "text" if settings.env != "production" else "json")
    place = load_federation(settings.federation_config).console
    uvicorn.run(
        build_app(settings),
        host=args.host or place.host,
        port=args.port or place.port,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=5,
        forwarded_allow_ips=settings.http_forwarded_allow_ips,
    )


if __name__ == "__main__":
    main()
