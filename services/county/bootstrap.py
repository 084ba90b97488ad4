"""The one place the county service is wired together."""

from fastapi import FastAPI

from components.approval_desk import http as authority_http
from components.approval_desk import messages as authority_messages
from components.approval_desk.metrics import register_task_gauge
from components.approval_desk.role import RegistryAuthority
from services.county.adapters.orm import authority_tables
from services.county.entrypoints import http
from shared.federation.config import Tier
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import build_runtime
from shared.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings) -> FastAPI:
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, settings.instance)
    runtime = build_runtime(Tier.COUNTY, settings, handlers)
    authority = RegistryAuthority(runtime, authority_tables)
    authority_messages.register(handlers, authority)
    register_task_gauge(authority)
    return create_app(
        runtime,
        [diagnostics.router, http.build_router(authority), authority_http.task_router(authority)],
        title="Xueji county service",
        description="County tier of the Xueji student registry: the registry authority "
        "(学籍主管部门) of the schools it governs — registrations, key-field changes, and its "
        "steps in transfers (with interventions for its late schools).",
    )
