"""Transfer tasks of the registry authority: transfer, due date, reminder, rule.

Revision ID: 0003
Revises: 0002

Written by ``python -m shared.db.migrate --tier county --autogenerate "transfers"`` and tidied
by hand: nullable columns SQLite adds in place, a plain index. Portable (SQLite, PostgreSQL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("transfer_id", "due_on", "due_approximate", "reminded_at", "rule")


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_authority_task_transfer", table_name="authority_task")
    with op.batch_alter_table("authority_task") as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
