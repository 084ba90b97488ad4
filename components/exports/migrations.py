"""Data steps of the exports for the hosting services' Alembic revisions.

:func:`open_export_tasks`: when an export's approval became a desk task (decision 0022), the
export requests still waiting (``requested``) get their ``export_approval`` task, owned by
their approving unit, so that they appear in its list and its decision is the desk's. Decided
and expired exports need none (who decided is in the export and the audit trail).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

_EXPORT = sa.table(
    "kernel_export",
    sa.column("export_id", sa.String),
    sa.column("status", sa.String),
    sa.column("requested_by", sa.String),
    sa.column("requester_unit", sa.String),
    sa.column("population", sa.String),
    sa.column("fields", sa.JSON),
    sa.column("purpose", sa.String),
    sa.column("approver_unit", sa.String),
    sa.column("requested_at", sa.DateTime(timezone=True)),
)
_TASK = sa.table(
    "desk_task",
    sa.column("task_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("unit", sa.String),
    sa.column("school_code", sa.String),
    sa.column("subject_id", sa.String),
    sa.column("item_count", sa.Integer),
    sa.column("finding_count", sa.Integer),
    sa.column("details", sa.JSON),
    sa.column("opened_at", sa.DateTime(timezone=True)),
)


def open_export_tasks(op: Any) -> None:
    """One open ``export_approval`` task per waiting export (one INSERT for them all)."""
    bind = op.get_bind()
    waiting = bind.execute(sa.select(_EXPORT).where(_EXPORT.c.status == "requested")).all()
    tasks = [_task(row) for row in waiting]
    if tasks:
        bind.execute(_TASK.insert(), tasks)


def _task(row: Any) -> dict[str, Any]:
    kind, _, code = row.population.partition(":")
    return {
        "task_id": str(uuid.uuid4()),
        "kind": "export_approval",
        "status": "open",
        "unit": row.approver_unit,
        "school_code": code if kind == "school" else None,
        "subject_id": row.export_id,
        "item_count": 0,
        "finding_count": 0,
        "details": {
            "population": row.population,
            "fields": list(row.fields),
            "purpose": row.purpose,
            "requested_by": row.requested_by,
            "requester_unit": row.requester_unit,
        },
        "opened_at": row.requested_at,
    }
