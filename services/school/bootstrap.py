"""The one place the school service is wired together."""

from fastapi import FastAPI

from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import TaskKind
from components.approval_desk.http import approvals_router
from components.approval_desk.metrics import register_task_gauge
from components.documents.http import documents_router
from components.documents.issuing import Documents
from components.exports.approvals import ExportApprovals
from components.exports.http import export_router
from components.exports.service import Exports
from services.school.adapters.exports import roster_source
from services.school.adapters.orm import desk_tables, document_tables
from services.school.adapters.pledges import school_pledge
from services.school.config import SchoolSettings
from services.school.entrypoints import (
    documents_http,
    duplicates_http,
    graduation_http,
    http,
    messages,
    progression_http,
    status_http,
    tasks_http,
    transfers_http,
    verification_http,
)
from services.school.service_layer.transfer_out import SendingSchoolSteps
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
    # the school decides its steps in transfers out (转出学校核办) on its approval desk, which
    # also keeps the approvals of its roster's exports (owned by the approving county)
    exports = Exports(runtime, roster_source(runtime), desk_tables, pledges=school_pledge)
    kinds = frozenset({TaskKind.TRANSFER_STEP, TaskKind.PROGRESSION_STEP, TaskKind.EXPORT_APPROVAL})
    policies = {
        TaskKind.TRANSFER_STEP: SendingSchoolSteps(),
        TaskKind.EXPORT_APPROVAL: ExportApprovals(exports),
    }
    desk = ApprovalDesk(runtime, desk_tables, policies=policies, kinds=kinds, guests=True)
    messages.register_decisions(handlers, runtime.federation)
    messages.register_transfers(handlers, desk)
    register_task_gauge(desk)
    documents = Documents(runtime.signer, runtime.trust, document_tables)
    app = create_app(
        runtime,
        [
            diagnostics.router,
            *http.routers,
            transfers_http.router,
            progression_http.router,
            tasks_http.build_router(desk),
            status_http.router,
            graduation_http.router,
            export_router(exports, desk),
            approvals_router(desk),
            verification_http.router,
            duplicates_http.router,
            documents_http.build_router(documents),
            documents_router(documents),
        ],
        title="Xueji school service",
        description="School tier of the Xueji student registry: registration of new students, "
        "the roster, key-field changes, status changes, bulk admission, transfers, "
        "graduation, term re-verification, duplicate resolutions and the documents it "
        "prints (with their public verification).",
    )
    app.state.school_settings = school_settings or SchoolSettings()
    http.install_error_handlers(app)
    return app
