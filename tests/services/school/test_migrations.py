"""The school's migrations: the schema is exactly what the models describe, and revision 0014
carries the open transfer-step tasks onto the approval desk (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, Connection, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from services.school.adapters.orm import metadata
from shared.contracts.transfer import TransferStepOpened
from shared.db.engine import SessionFactory
from shared.db.list_versions import list_version_metadata
from shared.db.migrate import alembic_config, upgrade
from shared.federation.config import NATIONAL
from shared.messaging.envelope import Envelope, build_envelope
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.components.approval_desk.support import basic as authority_basic
from tests.services.school.transfer_support import (
    ZHONGYUAN_PRIMARY,
    school_ref,
    school_service,
    step_opened,
)


def _school_diffs(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(context, [metadata, list_version_metadata])  # type: ignore[arg-type]
    shared_tables = ("kernel_", "security_", "alembic_version")  # tested with their own models
    return [d for d in diffs if not any(name in repr(d) for name in shared_tables)]


async def test_the_migrated_schema_matches_the_models(sessions: SessionFactory) -> None:
    async with sessions() as session:
        connection = await session.connection()
        assert await connection.run_sync(_school_diffs) == []


# --- revision 0014: the sending school's tasks move onto the approval desk -----------------

_SCHOOL_TASK = text(
    "INSERT INTO school_task (task_id, school_code, kind, status, transfer_id, step_id, details,"
    " opened_at, due_on, due_approximate, reminded_at, decided_at, decided_by, reason,"
    " correlation_id, message_id) VALUES (:task_id, :school_code, 'transfer_step', :status,"
    " :transfer_id, :step_id, :details, :opened_at, :due_on, false, :reminded_at, NULL, NULL,"
    " NULL, :correlation_id, :message_id)"
).bindparams(bindparam("details", type_=JSON))


_OLD_VERSION = text(
    "INSERT INTO list_version (list_name, scope, version) VALUES ('school_task', :scope, 3)"
)


async def _execute(database_url: str, statement: Any, *rows: dict[str, Any]) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            if rows:
                await connection.execute(statement, list(rows))
                return []
            return list((await connection.execute(statement)).all())
    finally:
        await engine.dispose()


def _old_task(status: str, step: TransferStepOpened, opened: Envelope) -> dict[str, Any]:
    """A row of ``school_task`` as the school wrote it before revision 0014."""
    return {
        "task_id": str(uuid.uuid4()),
        "school_code": ZHONGYUAN_PRIMARY,
        "status": status,
        "transfer_id": str(step.transfer_id),
        "step_id": str(step.step_id),
        "details": {
            "role": "sending_school",
            "student_number": step.student_number,
            "student": step.student.model_dump(mode="json"),
            "roster_status": "enrolled",
            "from_school": step.from_school,
            "to_school": step.to_school,
            "reason": step.reason,
            "opened_on": step.opened_on.isoformat(),
            "proofs": [{"index": 0, "kind": "application_form", "url": "http://school/p/0"}],
            "trace_context": {},
        },
        "opened_at": datetime(2026, 9, 7, 1, 0, tzinfo=UTC),
        "due_on": step.due_on,
        "reminded_at": datetime(2026, 9, 8, 1, 0, tzinfo=UTC),
        "correlation_id": str(opened.correlation_id),
        "message_id": str(opened.message_id),
    }


async def test_open_school_tasks_are_carried_onto_the_desk(
    tmp_path: Path, database_url: str
) -> None:
    """Revision 0014 on SQLite and PostgreSQL: the open task of ``school_task`` becomes a desk
    task the registrar lists, reads and decides as before (the decision continues the flow
    that opened it); a decided one is not carried; ``school_task`` is gone."""
    await asyncio.to_thread(upgrade, "school", database_url, "0013")
    student = authority_basic()
    waiting, decided = step_opened(student), step_opened(student)
    opened = build_envelope(waiting, source=NATIONAL, target=school_ref(ZHONGYUAN_PRIMARY))
    carried = _old_task("open", waiting, opened)
    await _execute(database_url, _SCHOOL_TASK, carried, _old_task("approved", decided, opened))
    await _execute(database_url, _OLD_VERSION, {"scope": ZHONGYUAN_PRIMARY})

    async with school_service(tmp_path / "federation", database_url) as school:  # to head
        versions = await _execute(database_url, text("SELECT list_name FROM list_version"))
        assert "school_task" not in {v.list_name for v in versions}  # the old list is gone
        tables = await _execute(database_url, text("SELECT * FROM desk_task"))
        assert [(t.unit, t.kind, t.status, t.subject_id) for t in tables] == [
            (f"school:{ZHONGYUAN_PRIMARY}", "transfer_step", "open", str(waiting.step_id))
        ]
        listed = await school.client.get(f"/api/v1/schools/{ZHONGYUAN_PRIMARY}/tasks")
        assert listed.status_code == 200, listed.text
        [task] = listed.json()["items"]
        assert (task["task_id"], task["step_id"]) == (carried["task_id"], str(waiting.step_id))
        assert (task["status"], task["roster_status"], task["due_on"]) == (
            "open",
            "enrolled",
            waiting.due_on.isoformat(),
        )
        assert task["reminded_at"] is not None and task["proofs"][0]["index"] == 0

        approved = await school.client.post(
            f"/api/v1/tasks/{task['task_id']}/decision",
            json={"decision": "approve"},
            headers=auth_headers(f"school:{ZHONGYUAN_PRIMARY}", Role.APPROVER),
        )
        assert approved.status_code == 200, approved.text
        [sent] = await school.staged("transfer.step_decided")
        assert (sent.correlation_id, sent.causation_id) == (
            opened.correlation_id,
            opened.message_id,
        )
        assert sent.payload["step_id"] == str(waiting.step_id)
    with pytest.raises(DBAPIError):
        await _execute(database_url, text("SELECT count(*) FROM school_task"))


async def test_the_desk_revision_downgrades_with_the_open_tasks(
    tmp_path: Path, database_url: str
) -> None:
    """Back to 0013, the open transfer steps return to ``school_task``."""
    await asyncio.to_thread(upgrade, "school", database_url, "0013")
    step = step_opened(authority_basic())
    opened = build_envelope(step, source=NATIONAL, target=school_ref(ZHONGYUAN_PRIMARY))
    await _execute(database_url, _SCHOOL_TASK, _old_task("open", step, opened))
    await asyncio.to_thread(upgrade, "school", database_url, "0014")
    config = alembic_config("school", database_url)
    await asyncio.to_thread(command.downgrade, config, "0013")
    rows = await _execute(database_url, text("SELECT step_id, status FROM school_task"))
    assert [(r.step_id, r.status) for r in rows] == [(str(step.step_id), "open")]


_EXPORT = text(
    "INSERT INTO kernel_export (export_id, status, requested_by, requester_unit, population,"
    " fields, purpose, approver_unit, requested_at, downloads) VALUES (:export_id, :status,"
    " :requested_by, :requester_unit, :population, :fields, :purpose, :approver_unit,"
    " :requested_at, 0)"
).bindparams(bindparam("fields", type_=JSON))


def _old_export(status: str) -> dict[str, Any]:
    return {
        "export_id": str(uuid.uuid4()),
        "status": status,
        "requested_by": "li.registrar",
        "requester_unit": f"school:{ZHONGYUAN_PRIMARY}",
        "population": f"school:{ZHONGYUAN_PRIMARY}",
        "fields": ["student_number", "grade"],
        "purpose": "体检名单",
        "approver_unit": f"county:{ZHONGYUAN_PRIMARY[:6]}",
        "requested_at": datetime(2026, 9, 1, 2, 0, tzinfo=UTC),
    }


async def test_waiting_exports_get_their_desk_task(tmp_path: Path, database_url: str) -> None:
    """Revision 0015 on SQLite and PostgreSQL: an export waiting for approval becomes the
    approving county's task, which it lists and decides through the desk (the export is then
    approved); a decided export gets none; going down removes the export tasks."""
    await asyncio.to_thread(upgrade, "school", database_url, "0014")
    waiting, decided = _old_export("requested"), _old_export("rejected")
    await _execute(database_url, _EXPORT, waiting, decided)
    county = f"county:{ZHONGYUAN_PRIMARY[:6]}"
    approver = auth_headers(county, Role.APPROVER, username="wang.approver")

    async with school_service(tmp_path / "federation", database_url) as school:  # to head
        listed = await school.client.get(
            "/api/v1/approvals", params={"unit": county}, headers=approver
        )
        assert listed.status_code == 200, listed.text
        [task] = listed.json()["items"]
        assert (task["kind"], task["status"], task["subject_id"]) == (
            "export_approval",
            "open",
            waiting["export_id"],
        )
        read = await school.client.get(f"/api/v1/tasks/{task['task_id']}", headers=approver)
        assert read.json()["export"]["fields"] == ["student_number", "grade"]
        approved = await school.client.post(
            f"/api/v1/tasks/{task['task_id']}/decision",
            json={"decision": "approve"},
            headers=approver,
        )
        assert approved.status_code == 200, approved.text
        export = await school.client.get(
            f"/api/v1/exports/{waiting['export_id']}", headers=approver
        )
        assert (export.json()["status"], export.json()["decided_by"]) == (
            "approved",
            "wang.approver",
        )

    config = alembic_config("school", database_url)
    await asyncio.to_thread(command.downgrade, config, "0014")
    left = await _execute(database_url, text("SELECT kind FROM desk_task"))
    assert [row.kind for row in left] == []
    exports = await _execute(database_url, text("SELECT status FROM kernel_export"))
    assert sorted(row.status for row in exports) == ["approved", "rejected"]


_TRANSFER_IN = text(
    "INSERT INTO school_transfer_in (transfer_id, school_code, student_number, from_school,"
    " grade, reason, status, requested_on, requested_at, settled_at) VALUES (:transfer_id,"
    " :school_code, :student_number, '3301020001', 3, '随父母工作调动', :status, '2026-09-01',"
    " :requested_at, :settled_at)"
)


async def test_the_transfers_in_completed_are_the_first_arrivals(database_url: str) -> None:
    """Revision 0024: a completed transfer in is an arrival (at its settling time), so that its
    completion re-sent later is not applied again; a pending one is not."""
    await asyncio.to_thread(upgrade, "school", database_url, "0023")
    requested = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    settled = datetime(2026, 9, 9, 3, 0, tzinfo=UTC)
    completed, pending = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        (completed, "G410102201703075070", "completed", settled),
        (pending, "G410102201703075089", "pending", None),
    ]
    for transfer_id, number, status, settled_at in rows:
        await _execute(
            database_url,
            _TRANSFER_IN,
            {
                "transfer_id": transfer_id,
                "school_code": ZHONGYUAN_PRIMARY,
                "student_number": number,
                "status": status,
                "requested_at": requested,
                "settled_at": settled_at,
            },
        )
    await asyncio.to_thread(upgrade, "school", database_url, "0024")
    arrivals = await _execute(database_url, text("SELECT * FROM school_arrival"))
    assert [(a.school_code, a.subject_id, a.student_number, a.kind) for a in arrivals] == [
        (ZHONGYUAN_PRIMARY, completed, "G410102201703075070", "transfer")
    ]
    config = alembic_config("school", database_url)
    await asyncio.to_thread(command.downgrade, config, "0023")
    with pytest.raises(DBAPIError):
        await _execute(database_url, text("SELECT count(*) FROM school_arrival"))
