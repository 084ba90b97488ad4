"""The desk's tables, added to the hosting service's own MetaData.

Each service that hosts a desk calls :func:`define_desk_tables` once in its
``adapters/orm.py``; its own migrations create the tables (they are part of that service's
schema, in that service's database: county, province, school).

- ``desk_task``: one row per thing a unit has to decide — a submission (registration batch,
  key-field change, status change, graduating list), a transfer step (the unit's own step,
  or an intervention in a late party's step), a term check's findings, a duplicate
  resolution — owned by the deciding ``unit`` (a unit reference, ``county:410102``,
  ``school:4101020001``); the task list reads it through ``ix_desk_task_list`` (unit, status,
  opened_at). ``details`` holds what the officer reads besides the items (for a key-field
  change: the student number, the requested changes, the applicant's reason, the findings;
  for a transfer: the student summary, the schools, the proofs' links); ``correlation_id`` /
  ``message_id`` of the message that opened it let the decision continue the same message
  flow. Transfer tasks carry ``transfer_id`` (``transfer.closed`` voids them through
  ``ix_desk_task_transfer``), ``due_on`` / ``due_approximate`` (the overdue flag is computed
  from the clock when read) and ``reminded_at``; ``rule`` names the rule behind an automatic
  rejection.
- ``desk_task_item``: the registrations of a batch with their basic info only (an authority
  never receives extended info), findings and individual outcome.
- ``desk_task_proof``: the proofs of a key-field change, kept with the task for the officer
  (they never travel on to national).

Ids are :class:`uuid.UUID` and units :class:`~shared.federation.config.UnitRef` in Python;
the columns keep their text (``UuidText``, ``UnitText``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)

from shared.federation.config import UnitRef


class UuidText(TypeDecorator[uuid.UUID]):
    """A :class:`uuid.UUID` kept as its 36-character text."""

    impl = String(36)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(value)


class UnitText(TypeDecorator[UnitRef]):
    """A :class:`UnitRef` kept as its reference text (``county:410102``)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> UnitRef | None:
        return None if value is None else UnitRef.parse(value)


@dataclass(frozen=True)
class DeskTables:
    task: Table
    # None on a desk that takes no submission (national's, which decides only exports and
    # keeps basic info only): no batch items, no proofs
    item: Table | None
    proof: Table | None


def define_desk_tables(metadata: MetaData, *, submissions: bool = True) -> DeskTables:
    """Add the desk's tables to ``metadata`` (once per service) and return them; without
    ``submissions``, the task table alone."""
    if not submissions:
        return DeskTables(_task(metadata), None, None)
    return DeskTables(_task(metadata), _item(metadata), _proof(metadata))


def _task(metadata: MetaData) -> Table:
    task = Table(
        "desk_task",
        metadata,
        Column("task_id", UuidText, primary_key=True),
        Column("kind", String(30), nullable=False),
        Column("status", String(10), nullable=False),
        Column("unit", UnitText, nullable=False),  # the deciding unit
        Column("school_code", String(12), nullable=True),  # the school it concerns, if one
        Column("subject_id", UuidText, nullable=False),  # batch, change, step, export … id
        Column("item_count", Integer, nullable=False),
        Column("finding_count", Integer, nullable=False),
        Column("details", JSON, nullable=False),
        Column("opened_at", DateTime(timezone=True), nullable=False),
        Column("decided_at", DateTime(timezone=True), nullable=True),
        Column("decided_by", String(60), nullable=True),
        Column("reason", String(500), nullable=True),
        Column("correlation_id", UuidText, nullable=True),  # None: not opened by a message
        Column("message_id", UuidText, nullable=True),
        Column("transfer_id", UuidText, nullable=True),
        Column("due_on", Date, nullable=True),
        Column("due_approximate", Boolean, nullable=True),
        Column("reminded_at", DateTime(timezone=True), nullable=True),
        Column("rule", String(60), nullable=True),
        # A re-sent submission (or a redelivered step) never opens a second task.
        UniqueConstraint("unit", "kind", "subject_id", name="uq_desk_task_subject"),
    )
    Index("ix_desk_task_list", task.c.unit, task.c.status, task.c.opened_at)
    Index("ix_desk_task_transfer", task.c.unit, task.c.transfer_id)
    # an officer's queue filtered by school, and sorted by due date
    Index("ix_desk_task_school", task.c.unit, task.c.school_code, task.c.status, task.c.opened_at)
    Index("ix_desk_task_due", task.c.unit, task.c.status, task.c.due_on)
    return task


def _item(metadata: MetaData) -> Table:
    return Table(
        "desk_task_item",
        metadata,
        Column(
            "task_id",
            UuidText,
            ForeignKey("desk_task.task_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("registration_id", UuidText, primary_key=True),
        Column("position", Integer, nullable=False),
        Column("basic", JSON, nullable=False),
        Column("findings", JSON, nullable=False),
        Column("status", String(10), nullable=False),
        Column("reason", String(500), nullable=True),
    )


def _proof(metadata: MetaData) -> Table:
    return Table(
        "desk_task_proof",
        metadata,
        Column(
            "task_id",
            UuidText,
            ForeignKey("desk_task.task_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("position", Integer, primary_key=True),
        Column("kind", String(40), nullable=False),
        Column("filename", String(120), nullable=False),
        Column("size", Integer, nullable=False),
        Column("content", LargeBinary, nullable=False),
    )
