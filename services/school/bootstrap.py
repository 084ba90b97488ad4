"""The one place the school service is wired together."""

from fastapi import FastAPI

from shared.federation.config import Tier
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import build_runtime
from shared.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings) -> FastAPI:
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, settings.instance)
    runtime = build_runtime(Tier.SCHOOL, settings, handlers)
    return create_app(
        runtime,
        [diagnostics.router],
        title="Xueji school service",
        description="School tier of the Xueji student registry.",
    )
