"""The one place the county service is wired together: the county's approval desk."""

from fastapi import FastAPI

from components.approval_desk import http as desk_http
from components.approval_desk import messages as desk_messages
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.metrics import register_task_gauge
from components.received_statistics import http as received_http
from components.received_statistics import receiving
from components.school_mergers import reports as merger_reports
from components.school_mergers.http import build_router as merger_router
from services.county import http, transfer_reports
from services.county.tables import (
    desk_tables,
    school_merger,
    statistics_received,
    transfer_term_report,
)
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
    desk = ApprovalDesk(runtime, desk_tables)  # the county adds no policy of its own
    desk_messages.register(handlers, desk)
    transfer_reports.register(handlers, runtime, transfer_term_report)
    merger_reports.register(handlers, runtime, school_merger)
    receiving.register(handlers, runtime, statistics_received)
    register_task_gauge(desk)
    return create_app(
        runtime,
        [
            diagnostics.router,
            http.build_router(desk),
            desk_http.task_router(desk),
            transfer_reports.build_router(runtime, transfer_term_report),
            merger_router(runtime, school_merger, [Tier.COUNTY]),
            received_http.build_router(runtime, statistics_received),
        ],
        title="Xueji county service",
        description="County tier of the Xueji student registry: the registry authority "
        "(学籍主管部门) of the schools it governs — registrations, key-field changes, and its "
        "steps in transfers (with interventions for its late schools).",
    )
