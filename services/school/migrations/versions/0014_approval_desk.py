"""The sending school's transfer-step tasks move onto the approval desk (decision 0022): the
desk's tables are created, the OPEN tasks of ``school_task`` are carried over (owned by
``school:<code>``, kind ``transfer_step``, the step id as their subject), and ``school_task``
is dropped. Decided and void tasks are not carried: who decided what stays in the audit trail
and at national, which runs the transfer.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from components.approval_desk.migrations import (
    create_desk_tables,
    drop_desk_tables,
    forget_list_versions,
)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_CARRY_OVER = """
INSERT INTO desk_task (
    task_id, kind, status, unit, school_code, subject_id, item_count, finding_count,
    details, opened_at, correlation_id, message_id, transfer_id, due_on, due_approximate,
    reminded_at
)
SELECT
    task_id, 'transfer_step', status, 'school:' || school_code, school_code, step_id, 0, 0,
    details, opened_at, correlation_id, message_id, transfer_id, due_on, due_approximate,
    reminded_at
FROM school_task
WHERE status = 'open'
"""

_CARRY_BACK = """
INSERT INTO school_task (
    task_id, school_code, kind, status, transfer_id, step_id, details, opened_at, due_on,
    due_approximate, reminded_at, correlation_id, message_id
)
SELECT
    task_id, school_code, kind, status, transfer_id, subject_id, details, opened_at, due_on,
    due_approximate, reminded_at, correlation_id, message_id
FROM desk_task
WHERE status = 'open' AND kind = 'transfer_step' AND unit LIKE 'school:%'
"""


def upgrade() -> None:
    create_desk_tables(op)
    op.execute(sa.text(_CARRY_OVER))
    op.drop_index("ix_school_task_transfer", table_name="school_task")
    op.drop_index("ix_school_task_list", table_name="school_task")
    op.drop_index("uq_school_task_step", table_name="school_task")
    op.drop_table("school_task")
    forget_list_versions(op, "school_task")


def downgrade() -> None:
    op.create_table(
        "school_task",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_approximate", sa.Boolean(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("uq_school_task_step", "school_task", ["school_code", "step_id"], unique=True)
    op.create_index("ix_school_task_list", "school_task", ["school_code", "status", "opened_at"])
    op.create_index("ix_school_task_transfer", "school_task", ["school_code", "transfer_id"])
    op.execute(sa.text(_CARRY_BACK))
    drop_desk_tables(op)
    forget_list_versions(op, "desk_task")
