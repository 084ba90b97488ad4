"""The approval desk's task table at national (decision 0022): the registry's exports become
``export_approval`` tasks kept here, owned by the approving unit of any tier. No items and no
proofs tables: national takes no submission and keeps basic info only. Export requests still
waiting for approval (``requested``) get their task.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from components.approval_desk.migrations import create_desk_tables, drop_desk_tables
from components.exports.migrations import open_export_tasks

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_desk_tables(op, submissions=False)
    open_export_tasks(op)


def downgrade() -> None:
    drop_desk_tables(op, submissions=False)
