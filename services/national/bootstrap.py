"""The one place the national service is wired together."""

from fastapi import FastAPI

from services.national.entrypoints import http, messages
from shared.federation.config import Tier
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import build_runtime
from shared.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings) -> FastAPI:
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, settings.instance)
    runtime = build_runtime(Tier.NATIONAL, settings, handlers)
    messages.register(handlers, runtime.federation)
    return create_app(
        runtime,
        [diagnostics.router, http.registry_router, http.review_router],
        title="Xueji national service",
        description=(
            "National tier of the Xueji student registry: the basic registry (identity and "
            "current registration of every student, N2025 arts. 5, 23), national "
            "de-duplication and student numbers, and the dedup review queue."
        ),
    )
