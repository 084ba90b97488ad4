"""Exports become tasks of the approval desk (decision 0022): every export request still
waiting for approval gets its ``export_approval`` task, owned by its approving unit. Going
down deletes the export tasks (the exports themselves are untouched).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from components.exports.migrations import open_export_tasks

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    open_export_tasks(op)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM desk_task WHERE kind = 'export_approval'"))
