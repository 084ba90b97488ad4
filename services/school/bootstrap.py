"""The one place the school service is wired together."""

from fastapi import FastAPI

from components.exports.http import export_router
from components.exports.service import Exports
from services.school.adapters.exports import roster_source
from services.school.config import SchoolSettings
from services.school.entrypoints import (
    duplicates_http,
    graduation_http,
    http,
    messages,
    status_http,
    transfers_http,
    verification_http,
)
from services.school.entrypoints.metrics import register_task_gauge
from shared.federation.config import Tier
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import build_runtime
from shared.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings, school_settings: SchoolSettings | None = None) -> FastAPI:
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, settings.instance)
    messages.register(handlers)
    runtime = build_runtime(Tier.SCHOOL, settings, handlers)
    messages.register_transfers(handlers, runtime)
    register_task_gauge(runtime)
    app = create_app(
        runtime,
        [
            diagnostics.router,
            *http.routers,
            transfers_http.router,
            status_http.router,
            graduation_http.router,
            export_router(Exports(runtime, roster_source(runtime))),
            verification_http.router,
            duplicates_http.router,
        ],
        title="Xueji school service",
        description="School tier of the Xueji student registry: registration of new students, "
        "the roster, key-field changes, status changes, bulk admission, transfers, "
        "graduation, term re-verification and duplicate resolutions.",
    )
    app.state.school_settings = school_settings or SchoolSettings()
    http.install_error_handlers(app)
    return app
