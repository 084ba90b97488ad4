"""Liangshan's Yi-language track (一类模式, LS part 6): a student attribute on the registry
entry (decision 0034). A constant default: PostgreSQL adds the column without rewriting the
table (11+), SQLite without copying it. And the index a term's transfer reports read the
completed transfers through (N2013 art. 18).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "registry_entry",
        sa.Column("yi_track", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_transfer_completed", "transfer", ["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_transfer_completed", table_name="transfer")
    with op.batch_alter_table("registry_entry") as batch:
        batch.drop_column("yi_track")
