"""Transfers: authority transfer tasks, archive backups and hand-overs, a longer archive status.

Revision ID: 0003
Revises: 0002

Written by ``python -m shared.db.migrate --tier province --autogenerate "transfers"`` and tidied
by hand: new tables with plain indexes, nullable columns SQLite adds in place. The archive
status grows to 20 characters (``transferred_out``); SQLite does not enforce the length, and
the batch operation rebuilds the table there only to keep the declared schema equal to the
models (the migration connection runs with foreign keys off, so entries are kept).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TASK_COLUMNS = ("transfer_id", "due_on", "due_approximate", "reminded_at", "rule")


def upgrade() -> None:
    _authority_task_columns()
    _create_archive_backup()
    _create_archive_handover()
    with op.batch_alter_table("archive") as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=10),
            type_=sa.String(length=20),
            existing_nullable=False,
        )


def _authority_task_columns() -> None:
    op.add_column("authority_task", sa.Column("transfer_id", sa.String(length=36), nullable=True))
    op.add_column("authority_task", sa.Column("due_on", sa.Date(), nullable=True))
    op.add_column("authority_task", sa.Column("due_approximate", sa.Boolean(), nullable=True))
    op.add_column(
        "authority_task", sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("authority_task", sa.Column("rule", sa.String(length=60), nullable=True))
    op.create_index(
        "ix_authority_task_transfer", "authority_task", ["authority_unit", "transfer_id"]
    )


def _create_archive_backup() -> None:
    op.create_table(
        "archive_backup",
        sa.Column("backup_id", _Id, autoincrement=True, nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("to_school", sa.String(length=12), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("backup_id"),
        sa.UniqueConstraint("school_code", "transfer_id", name="uq_archive_backup_transfer"),
    )
    op.create_index(
        "ix_archive_backup_student",
        "archive_backup",
        ["province", "school_code", "student_number"],
    )


def _create_archive_handover() -> None:
    op.create_table(
        "archive_handover",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("to_province", sa.String(length=2), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("from_school", sa.String(length=12), nullable=False),
        sa.Column("to_school", sa.String(length=12), nullable=False),
        sa.Column("archive_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("problem", sa.String(length=200), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index(
        "ix_archive_handover_state", "archive_handover", ["province", "state", "due_on"]
    )


def downgrade() -> None:
    with op.batch_alter_table("archive") as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            type_=sa.String(length=10),
            existing_nullable=False,
        )
    op.drop_index("ix_archive_handover_state", table_name="archive_handover")
    op.drop_table("archive_handover")
    op.drop_index("ix_archive_backup_student", table_name="archive_backup")
    op.drop_table("archive_backup")
    op.drop_index("ix_authority_task_transfer", table_name="authority_task")
    with op.batch_alter_table("authority_task") as batch_op:
        for name in reversed(_TASK_COLUMNS):
            batch_op.drop_column(name)
