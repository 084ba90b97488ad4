"""Schema steps of the desk's tables, for the hosting services' Alembic revisions.

A revision calls these with its ``op``; the columns are written out here as they are at the
revision that introduced them (plain types: a migration must not change when the models do).

- :func:`create_desk_tables` / :func:`drop_desk_tables`: a service that gets a desk (the
  school, revision 0014; national, revision 0014, the task table alone);
- :func:`create_queue_indexes` / :func:`drop_queue_indexes`: the queue's school filter and
  due-date order;
- :func:`rename_authority_tables` / :func:`restore_authority_tables`: a service whose
  registry-authority tables become the desk's (county 0010, province 0012): the tables are
  renamed, ``authority_unit`` (a code of the service's own tier) becomes ``unit`` (a unit
  reference: ``county:410102``), and a task not opened by a message (an export request) may
  have no correlation, message or school.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

_TABLES = (("authority_task", "desk_task"), ("authority_task_item", "desk_task_item"),
           ("authority_task_proof", "desk_task_proof"))  # fmt: skip


def create_desk_tables(op: Any, *, submissions: bool = True) -> None:
    """The desk's tables; without ``submissions`` the task table alone (a desk that decides
    no registration batch and keeps no proof: national's, for exports)."""
    op.create_table(
        "desk_task",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=True),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("transfer_id", sa.String(length=36), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_approximate", sa.Boolean(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.PrimaryKeyConstraint("task_id"),
        sa.UniqueConstraint("unit", "kind", "subject_id", name="uq_desk_task_subject"),
    )
    _create_indexes(op)
    if not submissions:
        return
    op.create_table(
        "desk_task_item",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("basic", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["desk_task.task_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "registration_id"),
    )
    op.create_table(
        "desk_task_proof",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["desk_task.task_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "position"),
    )


def drop_desk_tables(op: Any, *, submissions: bool = True) -> None:
    if submissions:
        op.drop_table("desk_task_proof")
        op.drop_table("desk_task_item")
    op.drop_index("ix_desk_task_transfer", table_name="desk_task")
    op.drop_index("ix_desk_task_list", table_name="desk_task")
    op.drop_table("desk_task")


def _create_indexes(op: Any) -> None:
    op.create_index("ix_desk_task_list", "desk_task", ["unit", "status", "opened_at"])
    op.create_index("ix_desk_task_transfer", "desk_task", ["unit", "transfer_id"])


def create_queue_indexes(op: Any) -> None:
    """The officer's queue filtered by school and sorted by due date (a revision after the
    desk's tables exist: county 0012, province 0016, school 0020, national 0021)."""
    op.create_index(
        "ix_desk_task_school", "desk_task", ["unit", "school_code", "status", "opened_at"]
    )
    op.create_index("ix_desk_task_due", "desk_task", ["unit", "status", "due_on"])


def drop_queue_indexes(op: Any) -> None:
    op.drop_index("ix_desk_task_due", table_name="desk_task")
    op.drop_index("ix_desk_task_school", table_name="desk_task")


def rename_authority_tables(op: Any, tier: str) -> None:
    """The registry authority's tables of a ``tier`` service become its desk's."""
    op.drop_index("ix_authority_task_list", table_name="authority_task")
    op.drop_index("ix_authority_task_transfer", table_name="authority_task")
    for old, new in _TABLES:
        op.rename_table(old, new)
    with op.batch_alter_table("desk_task") as batch:
        batch.drop_constraint("uq_authority_task_subject", type_="unique")
        batch.alter_column(
            "authority_unit",
            new_column_name="unit",
            existing_type=sa.String(length=12),
            type_=sa.String(length=40),
            existing_nullable=False,
        )
        for column in ("correlation_id", "message_id"):
            batch.alter_column(column, existing_type=sa.String(length=36), nullable=True)
        batch.alter_column("school_code", existing_type=sa.String(length=12), nullable=True)
    # a second batch: SQLite's copy of the table loses a constraint on a column renamed in the
    # same batch
    with op.batch_alter_table("desk_task") as batch:
        batch.create_unique_constraint("uq_desk_task_subject", ["unit", "kind", "subject_id"])
    # every task of this service was its own tier's unit's: the code becomes a reference
    op.execute(sa.text("UPDATE desk_task SET unit = :tier || ':' || unit").bindparams(tier=tier))
    _create_indexes(op)
    forget_list_versions(op, "authority_task")


def restore_authority_tables(op: Any, tier: str) -> None:
    """Undo :func:`rename_authority_tables` (tasks of another tier's unit are dropped)."""
    prefix = f"{tier}:"
    op.execute(
        sa.text("DELETE FROM desk_task WHERE unit NOT LIKE :pattern").bindparams(
            pattern=f"{prefix}%"
        )
    )
    op.execute(
        sa.text("UPDATE desk_task SET unit = substr(unit, :start)").bindparams(
            start=len(prefix) + 1
        )
    )
    op.drop_index("ix_desk_task_transfer", table_name="desk_task")
    op.drop_index("ix_desk_task_list", table_name="desk_task")
    with op.batch_alter_table("desk_task") as batch:
        batch.drop_constraint("uq_desk_task_subject", type_="unique")
        batch.alter_column(
            "unit",
            new_column_name="authority_unit",
            existing_type=sa.String(length=40),
            type_=sa.String(length=12),
            existing_nullable=False,
        )
    with op.batch_alter_table("desk_task") as batch:
        batch.create_unique_constraint(
            "uq_authority_task_subject", ["authority_unit", "kind", "subject_id"]
        )
    for old, new in _TABLES:
        op.rename_table(new, old)
    op.create_index(
        "ix_authority_task_list", "authority_task", ["authority_unit", "status", "opened_at"]
    )
    op.create_index(
        "ix_authority_task_transfer", "authority_task", ["authority_unit", "transfer_id"]
    )
    forget_list_versions(op, "desk_task")


def forget_list_versions(op: Any, list_name: str) -> None:
    """Drop the version rows of a task list that no longer exists (decision 0020): its
    clients' ETags name it, so their next poll gets the new list's page whatever they hold."""
    op.execute(
        sa.text("DELETE FROM list_version WHERE list_name = :name").bindparams(name=list_name)
    )
