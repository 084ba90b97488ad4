"""Audit entries written unchained, for the chainer to link moments later
(docs/decisions/0048).

Revision ID: 0019
Revises: 0018
"""

from alembic import op

from shared.audit.tables import create_pending_table, drop_pending_table

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_pending_table(op)


def downgrade() -> None:
    drop_pending_table(op)
