"""The one place the province service is wired together."""

from fastapi import FastAPI

from components.approval_desk import http as desk_http
from components.approval_desk import messages as desk_messages
from components.approval_desk.desk import ApprovalDesk, DecidesSteps
from components.approval_desk.domain import AUTHORITY_KINDS, TaskKind
from components.approval_desk.metrics import register_task_gauge
from components.documents.http import documents_router
from components.documents.issuing import Documents
from components.exports.approvals import ExportApprovals
from components.exports.http import export_router
from components.exports.service import Exports
from components.received_statistics import http as received_http
from components.received_statistics import receiving
from components.school_mergers.http import build_router as merger_router
from services.province.adapters.certificate_tables import document_tables
from services.province.adapters.exports import archive_source
from services.province.adapters.orm import desk_tables, school_merger, statistics_received
from services.province.entrypoints import certificates_http, http, messages, status_http
from services.province.entrypoints.archive_sections_http import build_archive_sections_router
from services.province.entrypoints.contacts_http import build_contacts_router
from services.province.entrypoints.discipline_http import build_discipline_router
from services.province.entrypoints.promotion_http import build_promotion_router
from services.province.entrypoints.statistics_http import build_statistics_router
from services.province.entrypoints.statistics_publisher import StatisticsPublisher
from services.province.service_layer.transfer_steps import province_step_policy
from shared.federation.config import Tier, load_federation
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings


class ProvinceRuntime(ServiceRuntime):
    """The kernel runtime plus the province's statistics publication (decision 0047)."""

    publisher: StatisticsPublisher | None = None

    async def start(self) -> None:
        await super().start()
        if self.publisher is not None:
            self.publisher.start()

    async def stop(self, step_timeout: float = 15.0) -> None:
        if self.publisher is not None:
            await self.publisher.stop()
        await super().stop(step_timeout)


def build_app(settings: ServiceSettings) -> FastAPI:
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, settings.instance)
    federation = load_federation(settings.federation_config)
    runtime = ProvinceRuntime(
        tier=Tier.PROVINCE,
        settings=settings,
        federation=federation,
        instance=federation.instance(settings.instance),
        handlers=handlers,
    )
    runtime.publisher = StatisticsPublisher(runtime)
    receiving.register(handlers, runtime, statistics_received)
    steps = DecidesSteps(province_step_policy(runtime))  # the discipline check, HA art. 11(四)
    # the desk also keeps the approvals of the archives' exports (owned by the approving unit:
    # a county, or the province)
    exports = Exports(runtime, archive_source(runtime), desk_tables)
    policies = {TaskKind.TRANSFER_STEP: steps, TaskKind.EXPORT_APPROVAL: ExportApprovals(exports)}
    kinds = AUTHORITY_KINDS | {TaskKind.EXPORT_APPROVAL}
    desk = ApprovalDesk(runtime, desk_tables, policies=policies, kinds=kinds, guests=True)
    desk_messages.register(handlers, desk)
    messages.register(handlers, runtime.federation, school_merger)
    messages.register_status_changes(handlers, runtime)
    register_task_gauge(desk)
    documents = Documents(runtime.signer, runtime.trust, document_tables)
    return create_app(
        runtime,
        [
            diagnostics.router,
            http.build_router(desk),
            http.build_city_router(desk),
            http.build_school_router(runtime),
            build_discipline_router(runtime),
            build_archive_sections_router(runtime),
            build_contacts_router(runtime),
            build_promotion_router(runtime),
            build_statistics_router(runtime),
            received_http.build_router(runtime, statistics_received),
            desk_http.task_router(desk),
            desk_http.approvals_router(desk),
            export_router(exports, desk),
            status_http.build_router(runtime),
            certificates_http.build_router(documents),
            documents_router(documents),
            # the province's and its cities' mergers of the schools they run (N2013 art. 9)
            merger_router(runtime, school_merger, [Tier.PROVINCE, Tier.CITY]),
        ],
        title="Xueji province service",
        description="Province tier of the Xueji student registry: the students' archives "
        "(non-basic info), their hand-over on transfers, the province's own transfer steps "
        "and the registry authority of province-direct schools.",
    )
