"""The one place the province service is wired together."""

from fastapi import FastAPI

from components.approval_desk import http as authority_http
from components.approval_desk import messages as authority_messages
from components.approval_desk.metrics import register_task_gauge
from components.approval_desk.role import RegistryAuthority
from components.exports.http import export_router
from components.exports.service import Exports
from services.province.adapters.exports import archive_source
from services.province.adapters.orm import authority_tables
from services.province.entrypoints import http, messages, status_http
from services.province.entrypoints.discipline_http import build_discipline_router
from services.province.entrypoints.promotion_http import build_promotion_router
from services.province.service_layer.transfer_steps import province_step_policy
from shared.federation.config import Tier
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import build_runtime
from shared.runtime.settings import ServiceSettings


def build_app(settings: ServiceSettings) -> FastAPI:
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, settings.instance)
    runtime = build_runtime(Tier.PROVINCE, settings, handlers)
    authority = RegistryAuthority(
        runtime, authority_tables, step_policy=province_step_policy(runtime)
    )
    authority_messages.register(handlers, authority)
    messages.register(handlers, runtime.federation)
    messages.register_status_changes(handlers, runtime)
    register_task_gauge(authority)
    return create_app(
        runtime,
        [
            diagnostics.router,
            http.build_router(authority),
            http.build_school_router(runtime),
            build_discipline_router(runtime),
            build_promotion_router(runtime),
            authority_http.task_router(authority),
            export_router(Exports(runtime, archive_source(runtime))),
            status_http.build_router(runtime),
        ],
        title="Xueji province service",
        description="Province tier of the Xueji student registry: the students' archives "
        "(non-basic info), their hand-over on transfers, the province's own transfer steps "
        "and the registry authority of province-direct schools.",
    )
