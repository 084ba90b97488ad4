"""The export use cases: ask, decide (producing the CSV), download, list, read.

Each runs in the unit of work it is given, which the request commits (``UnitOfWorkDep``); the
request's audit entry (``audited`` on the route) commits with it. Expired exports are purged
(status ``expired``, content dropped) at the start of every one of them: one indexed UPDATE.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from components.exports.domain import (
    ExportRefused,
    ExportStatus,
    Unit,
    approver_of,
    check_decision,
    check_download,
    check_request,
)
from components.exports.source import ExportSource
from components.exports.tables import export
from shared.audit.recording import Actor, annotate
from shared.messaging.uow import UnitOfWork
from shared.rules import ExportRules, load_province_rules
from shared.runtime.service import ServiceRuntime


def _unit(actor: Actor) -> Unit:
    return Unit(actor.unit_kind, actor.unit_code)


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


class Exports:
    def __init__(self, runtime: ServiceRuntime, source: ExportSource) -> None:
        self.runtime = runtime
        self.source = source
        self._rules: dict[str, ExportRules] = {}

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

    async def _get(self, session: AsyncSession, export_id: uuid.UUID) -> Any:
        row = (
            await session.execute(select(export).where(export.c.export_id == str(export_id)))
        ).one_or_none()
        if row is None:
            raise ExportRefused(404, "export_not_found", f"export {export_id} not found")
        annotate(unit_kind=row.population.split(":")[0], unit_code=row.population.split(":")[1])
        return row

    async def request(
        self, uow: UnitOfWork, actor: Actor, population: Unit, fields: list[str], purpose: str
    ) -> Any:
        requester = _unit(actor)
        check_request(_roles(actor), requester, population, fields, self.source.fields)
        if not self.source.holds(population):
            raise ExportRefused(
                404, "population_not_served", f"{population}'s data is not kept here"
            )
        export_id = str(uuid.uuid4())
        annotate(
            unit_kind=population.kind,
            unit_code=population.code,
            object_id=export_id,
            purpose=purpose,
        )
        await self._purge(uow.session)
        await uow.session.execute(
            export.insert().values(
                export_id=export_id,
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
        return await self._get(uow.session, uuid.UUID(export_id))

    async def decide(
        self, uow: UnitOfWork, actor: Actor, export_id: uuid.UUID, approve: bool, reason: str | None
    ) -> Any:
        await self._purge(uow.session)
        row = await self._get(uow.session, export_id)
        annotate(purpose=reason)
        check_decision(
            _roles(actor),
            actor.username,
            _unit(actor),
            Unit.parse(row.approver_unit),
            row.requested_by,
            row.status,
        )
        now = self.runtime.clock.now()
        values: dict[str, Any] = {
            "decided_by": actor.username,
            "decided_at": now,
            "reason": reason,
        }
        if approve:
            rows = await self.source.rows(uow.session, Unit.parse(row.population), row.fields)
            hours = self.rules(Unit.parse(row.requester_unit)).download_hours
            values |= {
                "status": ExportStatus.APPROVED,
                "content": to_csv(row.fields, rows),
                "row_count": len(rows),
                "expires_at": now + timedelta(hours=hours),
            }
        else:
            values["status"] = ExportStatus.REJECTED
        await uow.session.execute(
            update(export).where(export.c.export_id == row.export_id).values(**values)
        )
        return await self._get(uow.session, export_id)

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
