"""The export use cases: ask, decide (producing the CSV), download, list, read.

Asking opens the export's task on the approval desk (``export_approval``, owned by the
approving unit) in the same unit of work; deciding is the desk's decision on that task, whose
policy (:mod:`.approvals`) refuses anyone but the approving unit's approver and produces the
CSV in the deciding transaction. Each runs in the unit of work it is given, which the request
commits (``UnitOfWorkDep``); the request's audit entry (``audited`` on the route) commits with
it. Expired exports are purged (status ``expired``, content dropped) at the start of every one
of them: one indexed UPDATE.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk import decisions
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import Decision, DecisionKind, TaskKind, TaskStatus
from components.approval_desk.repository import TaskRepository
from components.approval_desk.tables import DeskTables
from components.exports.domain import (
    ExportRefused,
    ExportStatus,
    Unit,
    approver_of,
    check_decision,
    check_download,
    check_request,
    check_trained,
)
from components.exports.source import ExportSource
from components.exports.tables import export
from shared.audit.recording import Actor, annotate
from shared.federation.config import UnitRef
from shared.messaging.uow import UnitOfWork
from shared.rules import ExportRules, load_province_rules
from shared.runtime.errors import DomainError
from shared.runtime.service import ServiceRuntime
from shared.workdays import WorkdayCalendar

# Working days as chinese_calendar knows them (the export's due date is the desk's flag only).
_WORKDAYS = WorkdayCalendar()


class Refused(DomainError):
    """An :class:`ExportRefused` as the HTTP answer (its status, rule, message, article)."""

    def __init__(self, refused: ExportRefused) -> None:
        super().__init__(refused.detail, rule=refused.rule, article=refused.article)
        self.status_code = refused.status


def _unit(actor: Actor) -> Unit:
    return Unit(actor.unit_kind, actor.unit_code)


def officer(actor: Actor, approve: bool, reason: str | None) -> Decision:
    """The desk's decision of ``actor`` (their account, unit and roles)."""
    return Decision(
        kind=DecisionKind.APPROVE if approve else DecisionKind.REJECT,
        decided_by=actor.username,
        reason=reason,
        unit=str(_unit(actor)),
        roles=_roles(actor),
    )


def _roles(actor: Actor) -> frozenset[str]:
    return frozenset(str(role) for role in actor.roles)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def to_csv(fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark (spreadsheet programs then read the Chinese right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in rows:
        writer.writerow(
            ["" if v is None else v.isoformat() if isinstance(v, date) else v for v in row]
        )
    return buffer.getvalue().encode("utf-8-sig")


@dataclass(frozen=True)
class Pledge:
    """A unit's data-security pledge (附表4) in the register: its document (a signed one if
    there is, else the latest printed) and whether its signed scan is on file."""

    document_id: str | None
    signed: bool


# A unit's pledge as this service's document register has it.
Pledges = Callable[[AsyncSession, Unit], Awaitable[Pledge]]


async def _no_register(session: AsyncSession, unit: Unit) -> Pledge:
    return Pledge(None, False)


class Exports:
    """The exports of one service: its source, the desk tables where their approval tasks are
    kept and, where units print their security pledge (a school service), its register."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        source: ExportSource,
        tables: DeskTables,
        pledges: Pledges = _no_register,
    ) -> None:
        self.runtime = runtime
        self.source = source
        self.tables = tables
        self.pledges = pledges
        self._rules: dict[str, ExportRules] = {}

    async def check_pledge(self, session: AsyncSession, requester: Unit) -> None:
        """403 ``export_pledge_missing`` when the province's rule ``[exports] signed_pledge =
        "request"`` holds a school's request until its signed pledge is on file (LS 7)."""
        if requester.kind != "school" or self.rules(requester).signed_pledge != "request":
            return
        if not (await self.pledges(session, requester)).signed:
            raise ExportRefused(
                403,
                "export_pledge_missing",
                f"{requester} has no signed data-security pledge (附表4) on file: print it, "
                "have it signed and sealed, upload its scan",
                article="LS 7",
            )

    async def pledge_state(self, session: AsyncSession, unit: Unit) -> tuple[bool, Pledge]:
        """Whether the unit's province holds its requests until the pledge is on file, and
        the pledge as the register has it."""
        if unit.kind != "school":
            return False, Pledge(None, False)
        return self.rules(unit).signed_pledge == "request", await self.pledges(session, unit)

    def rules(self, unit: Unit) -> ExportRules:
        """The export rules of the unit's province (national defaults for national)."""
        province = "" if unit.kind == "national" else unit.code[:2]
        if province not in self._rules:
            self._rules[province] = (
                load_province_rules(self.runtime.settings.federation_config, province).exports
                if province
                else ExportRules()
            )
        return self._rules[province]

    def _approver(self, requester: Unit) -> Unit:
        rules = self.rules(requester)
        school = (
            self.runtime.federation.school(requester.code) if requester.kind == "school" else None
        )
        authority = (
            Unit(str(school.authority_unit.tier), school.authority_unit.code) if school else None
        )
        return approver_of(requester, authority, province_approves=rules.approved_by == "province")

    async def _purge(self, session: AsyncSession) -> None:
        await session.execute(
            update(export)
            .where(
                export.c.status == ExportStatus.APPROVED,
                export.c.expires_at <= self.runtime.clock.now(),
            )
            .values(status=ExportStatus.EXPIRED, content=None)
        )

    async def _row(self, session: AsyncSession, export_id: uuid.UUID) -> Any:
        row = (
            await session.execute(select(export).where(export.c.export_id == str(export_id)))
        ).one_or_none()
        if row is None:
            raise ExportRefused(404, "export_not_found", f"export {export_id} not found")
        return row

    async def _get(self, session: AsyncSession, export_id: uuid.UUID) -> Any:
        """The export (404 otherwise), its population named in the request's audit entry."""
        row = await self._row(session, export_id)
        annotate(unit_kind=row.population.split(":")[0], unit_code=row.population.split(":")[1])
        return row

    async def request(
        self, uow: UnitOfWork, actor: Actor, population: Unit, fields: list[str], purpose: str
    ) -> Any:
        requester = _unit(actor)
        check_request(_roles(actor), requester, population, fields, self.source.fields)
        await self.check_pledge(uow.session, requester)
        if not self.source.holds(population):
            raise ExportRefused(
                404, "population_not_served", f"{population}'s data is not kept here"
            )
        export_id = uuid.uuid4()
        annotate(
            unit_kind=population.kind,
            unit_code=population.code,
            object_id=str(export_id),
            purpose=purpose,
        )
        await self._purge(uow.session)
        await uow.session.execute(
            export.insert().values(
                export_id=str(export_id),
                status=ExportStatus.REQUESTED,
                requested_by=actor.username,
                requester_unit=str(requester),
                population=str(population),
                fields=fields,
                purpose=purpose,
                approver_unit=str(self._approver(requester)),
                requested_at=self.runtime.clock.now(),
                downloads=0,
            )
        )
        row = await self._get(uow.session, export_id)
        await self._open_task(uow.session, row)
        return row

    async def _open_task(self, session: AsyncSession, row: Any) -> None:
        """The export's approval task on the desk, owned by the approving unit, whatever its
        tier (the task stays here, where the data is: decision 0011)."""
        population = Unit.parse(row.population)
        details = {
            "population": row.population,
            "fields": list(row.fields),
            "purpose": row.purpose,
            "requested_by": row.requested_by,
            "requester_unit": row.requester_unit,
        }
        task = {
            "task_id": uuid.uuid4(),
            "kind": TaskKind.EXPORT_APPROVAL,
            "status": TaskStatus.OPEN,
            "unit": UnitRef.parse(row.approver_unit),
            "school_code": population.code if population.kind == "school" else None,
            "subject_id": uuid.UUID(row.export_id),
            "item_count": 0,
            "finding_count": 0,
            "details": details,
            "opened_at": row.requested_at,
        }
        days = self.rules(Unit.parse(row.requester_unit)).decide_within_working_days
        deadline = _WORKDAYS.add_workdays(self.runtime.clock.today(), days)
        task |= {"due_on": deadline.due, "due_approximate": deadline.approximate}
        await TaskRepository(session, self.tables).add(task)

    async def decide(
        self, uow: UnitOfWork, desk: ApprovalDesk, export_id: uuid.UUID, decision: Decision
    ) -> Any:
        """The approving unit's decision on the export's desk task, in the caller's unit of
        work (the kind's policy, :class:`.approvals.ExportApprovals`, produces the CSV)."""
        await self._purge(uow.session)
        row = await self._get(uow.session, export_id)
        annotate(purpose=decision.reason)
        check_decision(
            decision.roles,
            decision.decided_by,
            Unit.parse(decision.unit or ""),
            Unit.parse(row.approver_unit),
            row.requested_by,
            row.status,
        )
        tasks = desk.tasks(uow.session)
        approver = UnitRef.parse(row.approver_unit)
        task_id = await tasks.find_subject(approver, TaskKind.EXPORT_APPROVAL, export_id)
        task = await tasks.get(task_id) if task_id is not None else None
        if task is None:
            raise ExportRefused(404, "export_not_found", f"export {export_id} has no task")
        await decisions.settle(desk, tasks, task, decision, uow.emitter(approver))
        return await self._get(uow.session, export_id)

    async def settle(
        self,
        session: AsyncSession,
        export_id: uuid.UUID,
        approved: bool,
        decision: Decision,
        now: datetime,
    ) -> None:
        """Record the decision on the export, producing the CSV with exactly the approved
        fields when approved (in the deciding transaction, where the data is)."""
        row = await self._row(session, export_id)
        values: dict[str, Any] = {
            "decided_by": decision.decided_by,
            "decided_at": now,
            "reason": decision.reason,
        }
        if approved:
            rows = await self.source.rows(session, Unit.parse(row.population), row.fields)
            hours = self.rules(Unit.parse(row.requester_unit)).download_hours
            values |= {
                "status": ExportStatus.APPROVED,
                "content": to_csv(row.fields, rows),
                "row_count": len(rows),
                "expires_at": now + timedelta(hours=hours),
            }
        else:
            values["status"] = ExportStatus.REJECTED
        await session.execute(
            update(export).where(export.c.export_id == row.export_id).values(**values)
        )

    async def download(
        self, uow: UnitOfWork, actor: Actor, export_id: uuid.UUID
    ) -> tuple[str, bytes]:
        """The file, counted as downloaded. A refusal raises after purging what expired: the
        caller commits that purge (and the refusal's audit entry) all the same."""
        row = await self._get(uow.session, export_id)
        annotate(purpose=row.purpose)  # a download serves the approved purpose
        expired = row.expires_at is not None and _aware(row.expires_at) <= self.runtime.clock.now()
        try:
            check_download(actor.username, row.requested_by, row.status, expired)
            check_trained(getattr(actor, "trained", True))
        except ExportRefused as refused:
            annotate(outcome=f"refused {refused.status} {refused.rule}")
            await self._purge(uow.session)
            raise
        await uow.session.execute(
            update(export)
            .where(export.c.export_id == row.export_id)
            .values(downloads=export.c.downloads + 1)
        )
        return f"export-{row.export_id}.csv", bytes(row.content)

    async def visible(self, uow: UnitOfWork, actor: Actor, status: str | None) -> Sequence[Any]:
        """The actor's own requests and those their unit decides, newest first."""
        query = (
            select(export)
            .where(
                or_(
                    export.c.requested_by == actor.username,
                    export.c.approver_unit == str(_unit(actor)),
                )
            )
            .order_by(export.c.requested_at.desc())
            .limit(200)
        )
        if status is not None:
            query = query.where(export.c.status == status)
        await self._purge(uow.session)
        rows = (await uow.session.execute(query)).all()
        return rows

    async def read(self, actor: Actor, export_id: uuid.UUID) -> Any:
        async with self.runtime.sessions() as session:
            row = await self._get(session, export_id)
        if actor.username != row.requested_by and str(_unit(actor)) != row.approver_unit:
            raise ExportRefused(404, "export_not_found", f"export {export_id} not found")
        return row
