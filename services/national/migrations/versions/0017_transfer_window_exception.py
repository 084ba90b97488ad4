"""A transfer requested outside the receiving province's window by exception (decision 0035):
the window rule, its article and the receiving school's reason, kept on the transfer.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfer") as batch:
        batch.add_column(sa.Column("window_exception", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfer") as batch:
        batch.drop_column("window_exception")
