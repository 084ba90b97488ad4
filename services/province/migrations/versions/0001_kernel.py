"""The messaging kernel's tables: outbox, inbox, probes.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.messaging.tables import create_kernel_tables, drop_kernel_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kernel_tables(op)


def downgrade() -> None:
    drop_kernel_tables(op)
