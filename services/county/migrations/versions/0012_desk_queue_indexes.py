"""The approval queue's school filter and due-date order: two indexes on the desk's tasks.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

from components.approval_desk.migrations import create_queue_indexes, drop_queue_indexes

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_queue_indexes(op)


def downgrade() -> None:
    drop_queue_indexes(op)
