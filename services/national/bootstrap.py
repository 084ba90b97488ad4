"""The one place the national service is wired together."""

from fastapi import FastAPI

from components.approval_desk import http as desk_http
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import TaskKind
from components.approval_desk.metrics import register_task_gauge
from components.exports.approvals import ExportApprovals
from components.exports.http import export_router
from components.exports.service import Exports
from components.status_checks.clients import ClientRegister
from components.status_checks.http import check_router, client_router
from services.national.adapters.exports import registry_source
from services.national.adapters.orm import desk_tables, status_client
from services.national.adapters.status_checks import registry_lookup
from services.national.adapters.transfer_repository import TransferRepository
from services.national.config import NationalSettings
from services.national.entrypoints import (
    http,
    messages,
    promotion_http,
    statistics_http,
    status_http,
    transfer_http,
    verification_http,
)
from services.national.entrypoints.deadline_sweeper import DeadlineSweeper
from services.national.entrypoints.statistics_sweeper import StatisticsSweeper
from services.national.entrypoints.suspension_sweeper import SuspensionSweeper
from services.national.service_layer import statistics
from services.national.service_layer.transfers import metrics as transfer_metrics
from services.national.service_layer.transfers.context import TransferDeps
from services.national.service_layer.transfers.queries import open_step_gauge
from services.national.service_layer.transfers.rulebook import Rulebook
from shared.federation.config import Tier, load_federation
from shared.messaging.handlers import HandlerRegistry
from shared.runtime import diagnostics
from shared.runtime.app import create_app
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings


class NationalRuntime(ServiceRuntime):
    """The kernel runtime plus national's periodic sweeps: transfer deadlines, suspensions."""

    sweeper: DeadlineSweeper | None = None
    suspension_sweeper: SuspensionSweeper | None = None
    statistics_sweeper: StatisticsSweeper | None = None

    async def start(self) -> None:
        await super().start()
        if self.sweeper is not None:
            self.sweeper.start()
        if self.suspension_sweeper is not None:
            self.suspension_sweeper.start()
        if self.statistics_sweeper is not None:
            self.statistics_sweeper.start()

    async def stop(self, step_timeout: float = 15.0) -> None:
        if self.statistics_sweeper is not None:
            await self.statistics_sweeper.stop()
        if self.suspension_sweeper is not None:
            await self.suspension_sweeper.stop()
        if self.sweeper is not None:
            await self.sweeper.stop()
        await super().stop(step_timeout)


def build_app(settings: ServiceSettings) -> FastAPI:
    national = NationalSettings.of(settings)
    handlers = HandlerRegistry()
    diagnostics.register_diagnostics(handlers, national.instance)
    runtime = build_runtime(national, handlers)
    deps = TransferDeps(Rulebook(runtime.federation, national.federation_config), runtime.clock)
    runtime.extras[transfer_http.TRANSFER_DEPS] = deps
    messages.register(handlers, runtime.federation, deps)
    runtime.sweeper = DeadlineSweeper(runtime.sessions, deps, national.deadline_sweep_interval)
    runtime.suspension_sweeper = SuspensionSweeper(
        runtime.sessions, deps, national.deadline_sweep_interval
    )
    runtime.statistics_sweeper = StatisticsSweeper(
        runtime.sessions, deps, national.deadline_sweep_interval
    )
    register_metrics(runtime, deps)
    # national's approval desk keeps the approvals of the registry's exports, owned by the
    # approving unit of any tier (decisions 0011, 0022)
    exports = Exports(runtime, registry_source(), desk_tables)
    policies = {TaskKind.EXPORT_APPROVAL: ExportApprovals(exports)}
    kinds = frozenset({TaskKind.EXPORT_APPROVAL})
    desk = ApprovalDesk(runtime, desk_tables, policies=policies, kinds=kinds, guests=True)
    register_task_gauge(desk)
    clients = ClientRegister(status_client)
    return create_app(
        runtime,
        [
            diagnostics.router,
            http.registry_router,
            http.review_router,
            transfer_http.transfer_router,
            transfer_http.operations_router,
            promotion_http.promotion_router,
            export_router(exports, desk),
            desk_http.task_router(desk),
            desk_http.approvals_router(desk),
            status_http.status_router,
            status_http.operations_router,
            verification_http.verification_router,
            statistics_http.statistics_router,
            statistics_http.operations_router,
            client_router(runtime, clients),
            check_router(runtime, clients, registry_lookup(runtime.federation)),
        ],
        title="Xueji national service",
        description=(
            "National tier of the Xueji student registry: the basic registry (identity and "
            "current registration of every student, N2025 arts. 5, 23), national "
            "de-duplication and student numbers, the dedup review queue, and the transfer "
            "saga (一网通办, N2025 art. 15) with its working-day deadlines."
        ),
    )


def build_runtime(settings: NationalSettings, handlers: HandlerRegistry) -> NationalRuntime:
    federation = load_federation(settings.federation_config)
    return NationalRuntime(
        tier=Tier.NATIONAL,
        settings=settings,
        federation=federation,
        instance=federation.instance(settings.instance),
        handlers=handlers,
    )


def register_metrics(runtime: ServiceRuntime, deps: TransferDeps) -> None:
    async def transfer_steps() -> dict[tuple[str, ...], float]:
        async with runtime.sessions() as session:
            return await open_step_gauge(TransferRepository(session), deps.clock.today())

    runtime.metrics.register_gauge_callback(
        "xueji_transfer_steps",
        "Open transfer steps and overdue steps per party unit (kind=open|overdue)",
        ["unit", "kind"],
        transfer_steps,
    )

    async def warnings() -> dict[tuple[str, ...], float]:
        async with runtime.sessions() as session:
            return await statistics.alert_gauge(session, deps.clock.today())

    runtime.metrics.register_gauge_callback(
        "xueji_statistics_alerts",
        "Early warnings (N2025 art. 23) of the last four weeks per province and kind",
        ["province", "kind"],
        warnings,
    )
    transfer_metrics.declare(runtime.metrics)  # xueji_transfers_ended_total{outcome}
