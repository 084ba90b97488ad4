"""The authority's tables, added to the hosting service's own MetaData.

Each service that plays the authority calls :func:`define_authority_tables` once in its
``adapters/orm.py``; its own migrations create the tables (they are part of that service's
schema, in that service's database).

- ``authority_task``: one row per submission (registration batch or key-field change) or
  transfer step (the authority's own step, or an intervention in a late party's step), owned
  by the authority unit; the task list reads it through ``ix_authority_task_list``
  (authority unit, status, opened_at). ``details`` holds what the officer reads besides the
  items (for a key-field change: the student number, the requested changes, the applicant's
  reason, the findings; for a transfer: the student summary, the schools, the proofs' links);
  ``correlation_id`` / ``message_id`` of the submission let a later decision continue the
  same message flow. Transfer tasks carry ``transfer_id`` (``transfer.closed`` voids them
  through ``ix_authority_task_transfer``), ``due_on`` / ``due_approximate`` (the overdue flag
  is computed from the clock when read) and ``reminded_at``; ``rule`` names the rule behind an
  automatic rejection.
- ``authority_task_item``: the registrations of a batch with their basic info only (the
  authority never receives extended info), findings and individual outcome.
- ``authority_task_proof``: the proofs of a key-field change, kept with the task for the
  officer (they never travel on to national).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)


@dataclass(frozen=True)
class AuthorityTables:
    task: Table
    item: Table
    proof: Table


def define_authority_tables(metadata: MetaData) -> AuthorityTables:
    """Add the authority's tables to ``metadata`` (once per service) and return them."""
    return AuthorityTables(_task(metadata), _item(metadata), _proof(metadata))


def _task(metadata: MetaData) -> Table:
    task = Table(
        "authority_task",
        metadata,
        Column("task_id", String(36), primary_key=True),
        Column("kind", String(30), nullable=False),
        Column("status", String(10), nullable=False),
        Column("authority_unit", String(12), nullable=False),
        Column("school_code", String(12), nullable=False),
        Column("subject_id", String(36), nullable=False),  # batch_id or change_id
        Column("item_count", Integer, nullable=False),
        Column("finding_count", Integer, nullable=False),
        Column("details", JSON, nullable=False),
        Column("opened_at", DateTime(timezone=True), nullable=False),
        Column("decided_at", DateTime(timezone=True), nullable=True),
        Column("decided_by", String(60), nullable=True),
        Column("reason", String(500), nullable=True),
        Column("correlation_id", String(36), nullable=False),
        Column("message_id", String(36), nullable=False),
        Column("transfer_id", String(36), nullable=True),
        Column("due_on", Date, nullable=True),
        Column("due_approximate", Boolean, nullable=True),
        Column("reminded_at", DateTime(timezone=True), nullable=True),
        Column("rule", String(60), nullable=True),
        # A school re-sending a submission never opens a second task.
        UniqueConstraint("authority_unit", "kind", "subject_id", name="uq_authority_task_subject"),
    )
    Index("ix_authority_task_list", task.c.authority_unit, task.c.status, task.c.opened_at)
    Index("ix_authority_task_transfer", task.c.authority_unit, task.c.transfer_id)
    return task


def _item(metadata: MetaData) -> Table:
    return Table(
        "authority_task_item",
        metadata,
        Column(
            "task_id",
            String(36),
            ForeignKey("authority_task.task_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("registration_id", String(36), primary_key=True),
        Column("position", Integer, nullable=False),
        Column("basic", JSON, nullable=False),
        Column("findings", JSON, nullable=False),
        Column("status", String(10), nullable=False),
        Column("reason", String(500), nullable=True),
    )


def _proof(metadata: MetaData) -> Table:
    return Table(
        "authority_task_proof",
        metadata,
        Column(
            "task_id",
            String(36),
            ForeignKey("authority_task.task_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("position", Integer, primary_key=True),
        Column("kind", String(40), nullable=False),
        Column("filename", String(120), nullable=False),
        Column("size", Integer, nullable=False),
        Column("content", LargeBinary, nullable=False),
    )
